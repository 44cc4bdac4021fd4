"""Azure Advisor cost recommendations, stored as provider-native advice.

* How: `GET /subscriptions/{id}/providers/Microsoft.Advisor/recommendations?api-version=2020-01-01
  &$filter=Category eq 'Cost'`, nextLink pages followed.
* Mapping (table `recommendations`, origin "azure-advisor", provider_name "Microsoft", rule
  "azure_advisor"): the resource is `properties.resourceMetadata.resourceId` (written with the
  inventory's spelling of the id when the resource is known, so the engine can match it), the
  monthly saving `extendedProperties.savingsAmount` in `savingsCurrency` (as Microsoft's Resource
  Graph samples read them), the summary `shortDescription.problem` / `solution`, plus impact,
  current and target SKU when Advisor gives them. Several Advisor recommendations for one resource
  become one line (the largest saving; the others listed in detail.also).
* Incremental: a subscription's advice is asked again once `advice_refresh_days` UTC days have passed
  since its last successful fetch (default 1: Advisor refreshes cost advice about once a day); new
  subscriptions and those whose request failed at once; the others keep their stored advice.
* Write: ONE transaction. A recommendation already stored keeps its status, reason, snooze date and
  first_seen; open advice of the subscriptions answered that Advisor no longer returns is deleted.
  The recommendation engine hides advice whose resource one of costdeck's own rules found
  (detail.duplicate_of), so a resource is shown once, with both sources named.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.advice import AdviceRow, write_native_advice
from providers.base import StepError, SyncContext
from providers.http import HttpStepError

from . import refresh
from .costs import resource_type
from .session import ADVISOR_API, AzureSession

PROVIDER = "Microsoft"
ORIGIN = "azure-advisor"
RULE = "azure_advisor"


def _money(v: Any) -> int:
    try:
        return to_nanos(Decimal(str(v))) if v not in (None, "") else 0
    except (InvalidOperation, ValueError, ArithmeticError):
        return 0


def parse(rec: dict[str, Any]) -> dict[str, Any] | None:
    p = rec.get("properties") or {}
    if str(p.get("category") or "").lower() != "cost":
        return None
    rid = (p.get("resourceMetadata") or {}).get("resourceId")
    if not rid:
        rid = str(rec.get("id") or "").split("/providers/Microsoft.Advisor/", 1)[0] or None
    if not rid:
        return None
    ext = p.get("extendedProperties") or {}
    short = p.get("shortDescription") or {}
    return {
        "resource_id": str(rid),
        "saving": _money(ext.get("savingsAmount")),
        "currency": str(ext.get("savingsCurrency") or "USD"),
        "detail": {
            "source": "Azure Advisor",
            "summary": "Azure Advisor: " + str(short.get("problem") or p.get("impactedValue") or "cost recommendation"),
            "solution": short.get("solution"),
            "impact": p.get("impact"),
            "recommendation_type_id": p.get("recommendationTypeId"),
            "current_sku": ext.get("currentSku"),
            "target_sku": ext.get("targetSku"),
            "advisor_id": rec.get("id"),
            "last_updated": p.get("lastUpdated"),
        },
    }


def fetch_advice(az: AzureSession, sub: str) -> list[dict[str, Any]]:
    items = az.list(f"/subscriptions/{sub}/providers/Microsoft.Advisor/recommendations", ADVISOR_API,
                    "Advisor recommendations", **{"$filter": "Category eq 'Cost'"})
    best: dict[str, dict[str, Any]] = {}
    for it in items:
        a = parse(it)
        if a is None:
            continue
        key = a["resource_id"].lower()
        prev = best.get(key)
        if prev is None or a["saving"] > prev["saving"]:
            if prev is not None:
                a["detail"]["also"] = [*prev["detail"].pop("also", []), prev["detail"]["summary"]]
            best[key] = a
        else:
            prev["detail"].setdefault("also", []).append(a["detail"]["summary"])
    return list(best.values())


def write_advice(ctx: SyncContext, advice: list[dict[str, Any]], subs: list[str]) -> int:
    now = timeutil.iso(ctx.now)
    conn = ctx.store.conn
    with ctx.store.transaction():
        inv = {r[0].lower(): r for r in conn.execute(
            "SELECT resource_id, resource_name, region_id, sub_account_id, resource_type FROM resources "
            "WHERE provider_name=?", (PROVIDER,))}
        rows = []
        for a in advice:
            known = inv.get(a["resource_id"].lower())
            rid = known[0] if known else a["resource_id"]
            sub = known[3] if known else (rid.split("/")[2] if rid.lower().startswith("/subscriptions/") else None)
            rows.append(AdviceRow(
                rule=RULE, resource_id=rid, resource_name=known[1] if known else rid.rsplit("/", 1)[-1],
                resource_type=known[4] if known else resource_type(rid), sub_account_id=sub,
                region_id=known[2] if known else None, detail=a["detail"], saving_nanos=a["saving"],
                currency=a["currency"]))
        write_native_advice(conn, origin=ORIGIN, provider=PROVIDER, basis="Azure Advisor estimate", now=now,
                            rows=rows, scope=subs)
    return len(advice)


def sync_advice(ctx: SyncContext, az: AzureSession) -> int:
    every = az.options.advice_refresh_days
    subs, fetched = refresh.due(ctx, "advice", az.options.subscriptions, every)
    ctx.detail["advice_subscriptions"] = {"configured": len(az.options.subscriptions), "fetched": len(subs)}
    if not subs:
        ctx.progress(detail=f"Advisor advice is current (refreshed every {every} day(s))")
        return 0
    advice, done, failed = ctx.fetch_each(subs, lambda sub: fetch_advice(az, sub),
                                          label="Advisor", catch=(HttpStepError,))
    n = write_advice(ctx, advice, done) if done else 0
    refresh.mark(ctx, "advice", fetched, done, failed)
    if failed:
        raise StepError("Advisor failed (previous advice kept): "
                        + "; ".join(f"{s}: {m}" for s, m in sorted(failed.items())))
    return n
