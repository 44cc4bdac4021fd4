"""What every rule works with: the inventory, observed costs, prices and utilization, read once.

A rule module defines RULE_ID, CATEGORY ("cost" | "security"), TITLE, `Params` (its thresholds: a
`Thresholds` model whose fields carry type, bounds, default and meaning) and
`find(ctx, params: Params) -> list[Recommendation]`; its module
docstring is its documentation (the view's help, `costdeck report rules`). A rule calls
`ctx.skip(rule, resource, reason)` for a resource it looked at and chose not to judge (spot,
too little metric history, no price), so the user sees why.

Monthly saving and its basis (`ctx.saving(...)`):
1. observed: the resource's billed cost in the `costs` table over the last 30 days with data
   (ending on the last day with cost data, today excluded), scaled to a 730-hour month by the
   days it actually had cost rows;
2. else price x 730 h from the `prices` table (on-demand, the resource's region and type);
3. else "unknown": saving 0 and the basis says why.
Money is integer nano-units throughout.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, TypeVar

from msgspec import Meta

from cache import queries, timeutil
from cache.money import fmt
from providers.errors import InputError
from providers.options import Bad, Model, convert

from .model import Recommendation

HOURS_PER_MONTH = 730
COST_DAYS = 30
SPOT_REASON = "spot instance: interruptible capacity at market price, sizing and idle rules do not apply"


class RuleConfigError(InputError):
    """A bad [rules.*] table in the config: one line (key, what was expected, what was found); exit 2."""


T = TypeVar("T", bound="Thresholds")


class Thresholds(Model):
    """A rule's thresholds: its `[rules.RULE_ID]` table in the config (a rule module's `Params`)."""

    sorted_keys: ClassVar[bool] = True


class WindowThresholds(Thresholds):
    """Thresholds of the rules that judge utilization over a window (idle, rightsizing)."""

    min_days: Annotated[int, Meta(ge=1, le=3650, description="days of data needed in the window")] = 7
    window_days: Annotated[int, Meta(ge=1, le=3650, description="utilization window in days")] = 30

    def check(self) -> None:
        if self.min_days > self.window_days:
            raise Bad("min_days", f"expected at most window_days ({self.window_days}): a rule needing "
                                  f"{self.min_days} days of data in a {self.window_days}-day window never fires")


def validate_params(rule_id: str, model: type[T], table: dict[str, Any] | None, where: str = "config") -> T:
    """The rule's thresholds: defaults overridden by its [rules.RULE_ID] table, type-checked."""
    try:
        return convert(table or {}, model, f"rules.{rule_id}", unknown="unknown threshold")
    except InputError as exc:
        raise RuleConfigError(f"{where}: {exc}") from None


@dataclass(slots=True)
class Res:
    """One inventory row."""

    provider_name: str
    resource_id: str
    resource_name: str | None
    resource_type: str
    billing_account_id: str | None
    sub_account_id: str | None
    region_id: str | None
    state: str | None
    attached_to: str | None
    size: str | None
    instance_type: str | None
    lifecycle: str | None
    created_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    tags: dict[str, Any]
    properties: dict[str, Any]

    @property
    def spot(self) -> bool:
        life = (self.lifecycle or "").lower()
        prio = str(self.properties.get("priority") or self.properties.get("provisioning_model") or "").lower()
        return life == "spot" or prio == "spot"

    def label(self) -> str:
        return self.resource_name or self.resource_id


@dataclass(slots=True)
class Skipped:
    rule: str
    provider_name: str
    resource_id: str
    resource_name: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "provider_name": self.provider_name, "resource_id": self.resource_id,
                "resource_name": self.resource_name, "reason": self.reason}


@dataclass(slots=True)
class Usage:
    """An instance's utilization over the rule window (daily points)."""

    days: int
    cpu_avg: float | None
    cpu_p99: float | None  # highest daily p99 (or daily maximum where p99 is missing)
    network_avg: float | None  # mean of daily (network_in + network_out) averages, bytes per sample
    first_day: str | None = None
    last_day: str | None = None


@dataclass(slots=True)
class PriceRow:
    provider_name: str
    region_id: str
    sku: str
    price_nanos: int
    currency: str
    vcpu: float | None
    memory_gib: float | None
    family: str | None
    generation: str | None
    source: str


def _json(text: str | None) -> dict[str, Any]:
    try:
        v = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return v if isinstance(v, dict) else {}


@dataclass
class RuleContext:
    """Read-only view of the cache shared by the rules of one recompute."""

    conn: sqlite3.Connection
    now: datetime
    skipped: list[Skipped] = field(default_factory=list)
    flagged: dict[tuple[str, str], str] = field(default_factory=dict)  # (provider, resource) -> rule
    _resources: list[Res] | None = None
    _costs: dict[str, tuple[int, int, str]] | None = None
    _cost_window: tuple[date, date] | None = None
    _prices: dict[tuple[str, str, str], PriceRow] | None = None
    _usage: dict[tuple[str, str, int], Usage] = field(default_factory=dict)
    _ml_runs: list[Any] | None = None

    def ml_runs(self) -> list[Any]:
        """Every ML run with its cost (analysis.mlruns.RunCost), costed at `now`; loaded once."""
        if self._ml_runs is None:
            from .. import mlruns

            self._ml_runs = mlruns.load_runs(self.conn, now=self.now)
        return self._ml_runs

    # -- inventory -----------------------------------------------------------------------
    def resources(self, types: Sequence[str] | None = None) -> list[Res]:
        if self._resources is None:
            rows = self.conn.execute(
                "SELECT provider_name, resource_id, resource_name, resource_type, billing_account_id, "
                "sub_account_id, region_id, state, attached_to, size, instance_type, lifecycle, created_at, "
                "first_seen, last_seen, tags, properties FROM resources ORDER BY provider_name, resource_id"
            ).fetchall()
            self._resources = [
                Res(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                    timeutil.parse_instant_opt(r[12]), timeutil.parse_instant_opt(r[13]) or self.now,
                    timeutil.parse_instant_opt(r[14]) or self.now, _json(r[15]), _json(r[16]))
                for r in rows
            ]
        if types is None:
            return list(self._resources)
        return [r for r in self._resources if r.resource_type in types]

    def by_id(self, provider: str, resource_id: str) -> Res | None:
        for r in self.resources():
            if r.provider_name == provider and r.resource_id == resource_id:
                return r
        return None

    def attached_disks(self, inst: Res) -> list[Res]:
        """The volumes attached to an instance (attached_to, or listed in its properties)."""
        ids = {inst.resource_id}
        listed: set[str] = set()
        p = inst.properties
        for v in p.get("volumes") or []:
            if isinstance(v, dict) and v.get("volume_id"):
                listed.add(str(v["volume_id"]))
        for k in ("os_disk",):
            if isinstance(p.get(k), str):
                listed.add(p[k])
        for k in ("data_disks", "disks"):
            for v in p.get(k) or []:
                if isinstance(v, str):
                    listed.add(v)
        return [r for r in self.resources(("volume",))
                if r.provider_name == inst.provider_name and (r.attached_to in ids or r.resource_id in listed)]

    def skip(self, rule: str, res: Res, reason: str) -> None:
        self.skipped.append(Skipped(rule, res.provider_name, res.resource_id, res.resource_name, reason))

    def days_since(self, t: datetime | None) -> float | None:
        if t is None:
            return None
        return (self.now - t).total_seconds() / 86400.0

    # -- observed cost -----------------------------------------------------------------------
    def cost_window(self) -> tuple[date, date]:
        """[start, end): the 30 days before the last day with cost data (today excluded)."""
        if self._cost_window is None:
            span = queries.data_range(self.conn)
            end = self.now.date()
            if span:
                end = min(end, span[1] + timedelta(days=1))
            self._cost_window = (end - timedelta(days=COST_DAYS), end)
        return self._cost_window

    def _load_costs(self) -> dict[str, tuple[int, int, str]]:
        if self._costs is None:
            lo, hi = self.cost_window()
            out: dict[str, tuple[int, int, str]] = {}
            for value, billed, ndays, cur in self.conn.execute(
                """SELECT d.value, sum(c.billed), count(DISTINCT c.day), cur.value
                   FROM costs c JOIN dims d ON d.id = c.resource
                   LEFT JOIN dims cur ON cur.id = c.currency
                   WHERE c.resource IS NOT NULL AND c.day >= ? AND c.day < ?
                   GROUP BY c.resource, c.currency""",
                (lo.isoformat(), hi.isoformat()),
            ):
                prev = out.get(value)
                if prev is None or billed > prev[0]:
                    out[value] = (int(billed or 0), int(ndays or 0), cur or "USD")
            self._costs = out
        return self._costs

    def observed(self, resource_ids: Iterable[str]) -> tuple[int, int, str] | None:
        """(billed nanos over the window, days with cost rows, currency) summed over the ids, or None."""
        costs = self._load_costs()
        total, days, cur, seen = 0, 0, "USD", False
        for rid in resource_ids:
            c = costs.get(rid)
            if c is None:
                continue
            seen = True
            total += c[0]
            days = max(days, c[1])
            cur = c[2]
        return (total, days, cur) if seen else None

    # -- prices ------------------------------------------------------------------------------
    def _load_prices(self) -> dict[tuple[str, str, str], PriceRow]:
        if self._prices is None:
            self._prices = {}
            for r in self.conn.execute(
                "SELECT provider_name, region_id, sku, price_nanos, currency, vcpu, memory_gib, family, generation, "
                "source FROM prices WHERE pricing_model = 'on-demand'"
            ):
                self._prices[(r[0], r[1], r[2])] = PriceRow(*r)
        return self._prices

    def price(self, provider: str, region: str | None, sku: str | None) -> PriceRow | None:
        if not sku:
            return None
        return self._load_prices().get((provider, region or "", sku))

    def prices_in(self, provider: str, region: str | None) -> list[PriceRow]:
        return [p for (prov, reg, _), p in self._load_prices().items() if prov == provider and reg == (region or "")]

    # -- utilization ---------------------------------------------------------------------------
    def usage(self, res: Res, window_days: int) -> Usage:
        key = (res.provider_name, res.resource_id, window_days)
        if key in self._usage:
            return self._usage[key]
        since = timeutil.iso(self.now - timedelta(days=window_days))
        rows = self.conn.execute(
            "SELECT metric, ts, average, maximum, p99 FROM metrics WHERE provider_name=? AND resource_id=? "
            "AND metric IN ('cpu', 'network_in', 'network_out') AND ts >= ? AND ts <= ? ORDER BY ts",
            (res.provider_name, res.resource_id, since, timeutil.iso(self.now)),
        ).fetchall()
        cpu_avg: list[float] = []
        cpu_peak: list[float] = []
        net: dict[str, float] = defaultdict(float)
        days: set[str] = set()
        for metric, ts, avg, mx, p99 in rows:
            if metric == "cpu":
                if avg is None:
                    continue
                days.add(ts[:10])
                cpu_avg.append(float(avg))
                peak = p99 if p99 is not None else mx
                if peak is not None:
                    cpu_peak.append(float(peak))
            elif avg is not None:
                net[ts[:10]] += float(avg)
        u = Usage(
            days=len(days),
            cpu_avg=sum(cpu_avg) / len(cpu_avg) if cpu_avg else None,
            cpu_p99=max(cpu_peak) if cpu_peak else None,
            network_avg=sum(net.values()) / len(net) if net else None,
            first_day=min(days) if days else None,
            last_day=max(days) if days else None,
        )
        self._usage[key] = u
        return u

    # -- saving --------------------------------------------------------------------------------
    def saving(self, cost_ids: Iterable[str], *, price: PriceRow | None = None,
               price_after: PriceRow | None = None, fraction: tuple[int, int] | None = None,
               unknown: str = "") -> tuple[int, str, str, dict[str, Any]]:
        """(monthly saving nanos, basis, currency, evidence) for removing the resources `cost_ids`
        (or, with price_after, for moving from `price` to `price_after`).

        fraction (num, den): only that share of the observed cost is saved (e.g. rightsizing)."""
        ids = list(cost_ids)
        obs = self.observed(ids)
        ev: dict[str, Any] = {}
        if price is not None and price_after is not None and price.price_nanos > 0:
            fraction = (price.price_nanos - price_after.price_nanos, price.price_nanos)
        if obs is not None and obs[1] > 0 and obs[0] > 0:
            total, ndays, cur = obs
            monthly = total * HOURS_PER_MONTH // (24 * ndays)
            ev["observed_cost"] = fmt(total, cur)
            ev["observed_days"] = ndays
            ev["cost_per_month_now"] = fmt(monthly, cur)
            if fraction is not None:
                monthly = monthly * fraction[0] // fraction[1]
            basis = f"observed: {fmt(total, cur)} billed over {ndays} day{'s' if ndays != 1 else ''}, scaled to 730 h"
            if fraction is not None:
                basis += f" x {fraction[0] * 100 / fraction[1]:.0f}% (price now vs after)"
            return monthly, basis, cur, ev
        if price is not None:
            after = price_after.price_nanos if price_after is not None else 0
            monthly = (price.price_nanos - after) * HOURS_PER_MONTH
            if price_after is not None:
                basis = (f"price: ({fmt(price.price_nanos, price.currency, places=4)} - "
                         f"{fmt(after, price.currency, places=4)})/h x 730 h")
            else:
                basis = f"price: {fmt(price.price_nanos, price.currency, places=4)}/h x 730 h ({price.source})"
            return max(0, monthly), basis, price.currency, ev
        return 0, "unknown: " + (unknown or "no cost rows for this resource and no price for it"), "USD", ev


# -- instance type series (for "same family" and "current generation equivalent") ----------------

_AZ = re.compile(r"^(?:Standard_|Basic_)?([A-Z]+)(\d+)([a-z\-]*)(?:_(v\d+))?", re.IGNORECASE)


def series(provider: str, sku: str) -> str:
    """The size series of an instance type: m5.2xlarge -> m5, n2-standard-8 -> n2-standard,
    Standard_D4s_v5 -> Ds_v5."""
    if provider == "AWS" or "." in sku:
        return sku.rsplit(".", 1)[0]
    if provider == "Microsoft":
        m = _AZ.match(sku)
        if m:
            return f"{m.group(1).upper()}{m.group(3)}_{m.group(4) or 'v1'}"
        return sku
    return sku.rsplit("-", 1)[0] if "-" in sku else sku


def size_class(provider: str, sku: str) -> str:
    """The broad class used to find a current-generation equivalent: m5 -> m, n1-standard -> standard,
    Standard_D4s_v3 -> D."""
    s = series(provider, sku)
    if provider == "Microsoft":
        return s.split("_", 1)[0].rstrip("s").rstrip("a")[:1]
    if provider == "Google Cloud":
        parts = s.split("-", 1)
        return parts[1] if len(parts) > 1 else s
    prefix = ""
    base = s
    for p in ("ml.", "db.", "cache."):
        if s.startswith(p):
            prefix, base = p, s[len(p):]
    m = re.match(r"^([a-z]+)", base)
    return prefix + (m.group(1) if m else base)


def generation(price: PriceRow | None, provider: str, sku: str) -> str | None:
    if price is not None and price.generation in ("current", "previous"):
        return price.generation
    return None


def tag_matches(tags: dict[str, Any], spec: str) -> bool:
    if "=" in spec:
        k, _, v = spec.partition("=")
        return str(tags.get(k)) == v if k in tags else False
    return spec in tags


def new_rec(rule: str, category: str, res: Res, **kw: Any) -> Recommendation:
    return Recommendation(
        rule=rule, provider_name=res.provider_name, resource_id=res.resource_id, resource_name=res.resource_name,
        resource_type=res.resource_type, billing_account_id=res.billing_account_id,
        sub_account_id=res.sub_account_id, region_id=res.region_id, category=category, **kw,
    )


__all__ = ["HOURS_PER_MONTH", "SPOT_REASON", "Thresholds", "WindowThresholds", "PriceRow", "Res", "RuleConfigError", "RuleContext",
           "Skipped", "Usage", "new_rec", "series", "size_class", "validate_params"]


def resize_evidence(instance_type: str | None, now_p: Any, target: Any) -> dict[str, Any]:
    """The evidence shared by the resize rules: both types, sizes and hourly prices."""
    return {
        "instance_type": instance_type,
        "target_type": target.sku,
        "vcpu_now": now_p.vcpu,
        "vcpu_after": target.vcpu,
        "memory_gib_now": now_p.memory_gib,
        "memory_gib_after": target.memory_gib,
        "price_now": fmt(now_p.price_nanos, now_p.currency, places=4) + "/h",
        "price_after": fmt(target.price_nanos, target.currency, places=4) + "/h",
        "action": "resize_instance",
    }


def measured_instances(
    ctx: RuleContext, rule_id: str, params: WindowThresholds, metric: str, keep: Callable[[Res], bool] | None = None
) -> Iterator[tuple[Res, Usage]]:
    """Running instances (those `keep` accepts) with their usage over params.window_days.

    Spot instances and instances with fewer than params.min_days days of `metric` (a Usage
    field such as "cpu_avg" or "cpu_p99") are skipped with the reason, under `rule_id`.
    """
    for inst in ctx.resources(("instance",)):
        if (inst.state or "").lower() != "running" or (keep is not None and not keep(inst)):
            continue
        if inst.spot:
            ctx.skip(rule_id, inst, SPOT_REASON)
            continue
        u = ctx.usage(inst, params.window_days)
        if u.days < params.min_days or getattr(u, metric) is None:
            ctx.skip(rule_id, inst, f"too little metric history: {u.days} day(s) of CPU data in the last "
                     f"{params.window_days} days, needs {params.min_days}")
            continue
        yield inst, u
