"""AWS Cost Explorer rightsizing recommendations, stored as provider-native advice.

* How: Cost Explorer GetRightsizingRecommendation, Service "AmazonEC2", Configuration
  RecommendationTarget SAME_INSTANCE_FAMILY with BenefitsConsidered (savings net of RI/SP
  benefits), paged by botocore's paginator (NextPageToken, PageSize 100). Billed: $0.01 per request, counted by
  the session like every Cost Explorer call. Rightsizing must be enabled in the account's Cost
  Explorer preferences; when it is not (or access is denied), the step fails with one line and
  the previous advice is kept.
* Mapping (table `recommendations`, origin "aws-rightsizing", provider_name "AWS"):
  - MODIFY -> rule "aws_rightsizing" in the shape of costdeck's own rightsizing rule: detail
    instance_type, target_type (the DefaultTargetInstance, else the one saving most), price_now /
    price_after (hourly on-demand rates), cpu_max_pct (CloudWatch max over the lookback), and the
    saving = the target's EstimatedMonthlySavings;
  - TERMINATE -> rule "aws_idle_instance" (the idle shape): saving = EstimatedMonthlySavings of
    TerminateRecommendationDetail.
  saving_basis "AWS Cost Explorer estimate"; region_id from the inventory when the instance is
  known (Cost Explorer gives the region's display name), else that name.
* Write: ONE transaction. A recommendation already stored keeps its status, reason, snooze date
  and first_seen (upsert by rule, provider, resource); open native advice of the accounts answered
  that Cost Explorer no longer returns is deleted. The recommendation engine (analysis) later hides
  advice whose resource one of costdeck's rules found (detail.duplicate_of).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.advice import AdviceRow, write_native_advice
from providers.base import StepError, SyncContext

from .inventory import FETCH_ERRORS, PROVIDER, error_text, pages
from .session import AwsSession

ORIGIN = "aws-rightsizing"
RULE_MODIFY = "aws_rightsizing"
RULE_TERMINATE = "aws_idle_instance"
PAGE_SIZE = 100


@dataclass(slots=True)
class NativeAdvice:
    rule: str
    resource_id: str
    account_id: str | None
    resource_name: str | None
    region: str | None
    saving_nanos: int
    currency: str
    detail: dict[str, Any] = field(default_factory=dict)


def _dec(v: Any) -> Decimal | None:
    try:
        return Decimal(str(v)) if v not in (None, "") else None
    except InvalidOperation:
        return None


def _money(v: Any) -> int:
    d = _dec(v)
    return to_nanos(d) if d is not None else 0


def _ec2(details: dict[str, Any] | None) -> dict[str, Any]:
    return ((details or {}).get("EC2ResourceDetails") or {}) if isinstance(details, dict) else {}


def parse_recommendation(r: dict[str, Any]) -> NativeAdvice | None:
    """One RightsizingRecommendation -> NativeAdvice (None for a type we do not map)."""
    cur = r.get("CurrentInstance") or {}
    rid = cur.get("ResourceId")
    kind = r.get("RightsizingType")
    if not rid or kind not in ("MODIFY", "TERMINATE"):
        return None
    now = _ec2(cur.get("ResourceDetails"))
    util = ((cur.get("ResourceUtilization") or {}).get("EC2ResourceUtilization") or {})
    tags = {t.get("Key", ""): (t.get("Values") or [""])[0] for t in cur.get("Tags") or [] if t.get("Key")}
    detail: dict[str, Any] = {
        "source": "AWS Cost Explorer",
        "finding": kind,
        "instance_type": now.get("InstanceType"),
        "price_now": f"${now.get('HourlyOnDemandRate')}/h" if now.get("HourlyOnDemandRate") else None,
        "cpu_max_pct": _float(util.get("MaxCpuUtilizationPercentage")),
        "memory_max_pct": _float(util.get("MaxMemoryUtilizationPercentage")),
        "monthly_cost_now": cur.get("MonthlyCost"),
        "running_hours": cur.get("TotalRunningHoursInLookbackPeriod"),
        "finding_reasons": list(r.get("FindingReasonCodes") or []),
        "tags": tags,
    }
    currency = cur.get("CurrencyCode") or "USD"
    if kind == "MODIFY":
        targets = ((r.get("ModifyRecommendationDetail") or {}).get("TargetInstances") or [])
        if not targets:
            return None
        target = next((t for t in targets if t.get("DefaultTargetInstance")), None) or max(
            targets, key=lambda t: _dec(t.get("EstimatedMonthlySavings")) or Decimal(0))
        after = _ec2(target.get("ResourceDetails"))
        saving = _money(target.get("EstimatedMonthlySavings"))
        currency = target.get("CurrencyCode") or currency
        exp = ((target.get("ExpectedResourceUtilization") or {}).get("EC2ResourceUtilization") or {})
        detail.update({
            "target_type": after.get("InstanceType"),
            "price_after": f"${after.get('HourlyOnDemandRate')}/h" if after.get("HourlyOnDemandRate") else None,
            "expected_cpu_max_pct": _float(exp.get("MaxCpuUtilizationPercentage")),
            "monthly_cost_after": target.get("EstimatedMonthlyCost"),
            "action": "resize_instance",
            "summary": f"AWS: {now.get('InstanceType')} -> {after.get('InstanceType')} "
                       f"(max CPU {detail['cpu_max_pct'] if detail['cpu_max_pct'] is not None else '?'}%)",
        })
        rule = RULE_MODIFY
    else:
        term = r.get("TerminateRecommendationDetail") or {}
        saving = _money(term.get("EstimatedMonthlySavings"))
        currency = term.get("CurrencyCode") or currency
        detail.update({
            "action": "stop_instance",
            "summary": f"AWS: idle {now.get('InstanceType')} (max CPU "
                       f"{detail['cpu_max_pct'] if detail['cpu_max_pct'] is not None else '?'}%): terminate",
        })
        rule = RULE_TERMINATE
    return NativeAdvice(rule=rule, resource_id=str(rid), account_id=r.get("AccountId"),
                        resource_name=cur.get("InstanceName") or tags.get("Name") or None,
                        region=now.get("Region"), saving_nanos=saving, currency=currency, detail=detail)


def _float(v: Any) -> float | None:
    try:
        return round(float(v), 2) if v not in (None, "") else None
    except ValueError:
        return None


def fetch_rightsizing(ce: Any, page_size: int = PAGE_SIZE) -> list[NativeAdvice]:
    """Every EC2 rightsizing recommendation (botocore's paginator: NextPageToken paging)."""
    out: list[NativeAdvice] = []
    for r in pages(ce, "get_rightsizing_recommendation", "RightsizingRecommendations", page_size=page_size,
                   Service="AmazonEC2",
                   Configuration={"RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": True}):
        adv = parse_recommendation(r)
        if adv is not None:
            out.append(adv)
    return out


def write_rightsizing(ctx: SyncContext, advice: Sequence[NativeAdvice], account_ids: Sequence[str]) -> int:
    """Upsert the advice (keeping status), drop open advice of these accounts no longer returned."""
    store = ctx.store
    conn = store.conn
    now = timeutil.iso(ctx.now)
    accounts = sorted({a for a in account_ids if a} | {a.account_id for a in advice if a.account_id})
    with store.transaction():
        inv = {}
        ids = [a.resource_id for a in advice]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" for _ in chunk)
            for row in conn.execute(
                f"SELECT resource_id, resource_name, region_id, billing_account_id, sub_account_id FROM resources "
                f"WHERE provider_name=? AND resource_id IN ({q})", (PROVIDER, *chunk),
            ):
                inv[row[0]] = row
        rows = []
        for a in advice:
            known = inv.get(a.resource_id)
            rows.append(AdviceRow(
                rule=a.rule, resource_id=a.resource_id,
                resource_name=(known[1] if known and known[1] else a.resource_name), resource_type="instance",
                billing_account_id=known[3] if known else None,
                sub_account_id=a.account_id or (known[4] if known else None),
                region_id=(known[2] if known and known[2] else a.region), detail=a.detail,
                saving_nanos=a.saving_nanos, currency=a.currency))
        write_native_advice(conn, origin=ORIGIN, provider=PROVIDER, basis="AWS Cost Explorer estimate", now=now,
                            rows=rows, scope=accounts)
    return len(advice)


def sync_rightsizing(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: Cost Explorer EC2 rightsizing recommendations (billed requests), at most once per
    `rightsizing_refresh_days` UTC days (AWS refreshes the advice about once a day)."""
    account_id = aws.account_id
    every = aws.options.rightsizing_refresh_days
    last, _ = ctx.last_fetch("rightsizing")
    if every and last is not None and (ctx.today - last.date()).days < every:
        ctx.detail["rightsizing"] = f"fetched {last.strftime('%Y-%m-%d %H:%M')} UTC; next on " \
                                    f"{(last.date() + timedelta(days=every)).isoformat()}"
        ctx.progress(detail="rightsizing advice is current (fetched today)")
        return 0
    ctx.progress(detail="rightsizing recommendations (Cost Explorer)")
    try:
        advice = fetch_rightsizing(aws.client("ce"))
    except FETCH_ERRORS as exc:
        text = " ".join(error_text(exc, aws.profile).split())
        if len(text) > 200:
            text = text[:199] + "…"
        raise StepError(f"previous advice kept: {text}") from exc
    n = write_rightsizing(ctx, advice, [account_id])
    ctx.mark_fetched("rightsizing")
    return n


__all__ = ["ORIGIN", "RULE_MODIFY", "RULE_TERMINATE", "NativeAdvice", "fetch_rightsizing", "parse_recommendation",
           "sync_rightsizing", "write_rightsizing"]
