"""Commitment purchase recommendations: what steady on-demand usage a 1- or 3-year commitment would cover.

For each provider, region and instance family, over the last 30 days up to the last day with cost
data (never after the cache's reference time, analysis.clock.reference_time):

* usage: the daily on-demand spend of compute instances = cost rows with ChargeCategory "Usage",
  PricingCategory "Standard" (on demand: spot and already-committed usage are excluded) and no
  commitment, of resources whose inventory row (`resources`) is an instance with an instance type;
  the family comes from the prices table (else the type's prefix, see commitments.family_of). The
  cost table is daily, so the usage series is daily; a day without usage counts as 0. Billed cost
  is used: it is what the commitment would replace.
* steady baseline: the 10th percentile (linear interpolation between the sorted daily values) of
  that daily usage, as an hourly rate (/24). Not the mean: the mean of a spiky fleet buys a
  commitment the quiet days leave idle.
* the commitment that covers it: the on-demand rate B ($/h) is covered by an hourly commitment of
  B x (1 - discount) (a Savings-Plan-style $/h), or about B / price instances of the family's most
  used instance type (RI-style units).
* discount per term (1-year and 3-year, no upfront): from the prices table where it holds a
  reserved price for the family's instance types (pricing_model other than on-demand/spot that
  names a reservation, commitment or savings plan and a term: "reserved-1yr-no-upfront",
  "reserved-3yr", "savings-plan-1yr", "cud-3yr"...; no-upfront rows preferred; the discount is
  1 - reserved/on-demand, weighted by each type's spend). Else the documented default rates below,
  labelled "assumed" wherever they are shown.
* estimated saving = B x discount x 730 h a month; break-even utilization = commitment rate /
  on-demand rate = 1 - discount (below that utilization the commitment costs more than it saves).

`purchase_recommendations(conn, now)` returns them as `Recommendation`s (rule
"commitment_purchase", category cost, monthly saving = the 1-year saving, the numbers in
`detail`); it does not write: the recommendations engine stores them.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from analysis.clock import reference_time
from cache import queries as q
from cache import timeutil
from cache.money import NANOS
from providers.options import Model

from .commitments import family_of

if TYPE_CHECKING:  # imported lazily: analysis.recommendations registers this module as a rule
    from .recommendations.model import Recommendation

RULE = "commitment_purchase"
WINDOW_DAYS = 30
PERCENTILE = 10
HOURS_PER_MONTH = 730
TERMS = (1, 3)
INSTANCE_TYPES = ("instance", "virtual machine", "virtual_machine", "vm")

# Assumed discounts of a no-upfront commitment vs on demand, used only where the prices table has
# no reserved price. Conservative public list figures, by provider:
#   AWS: Compute Savings Plan, no upfront (EC2 Linux, common families): 1 yr ~27 %, 3 yr ~48 %
#   Microsoft: reserved VM instance, monthly payment: 1 yr ~36 %, 3 yr ~57 %
#   Google Cloud: resource-based committed use discount (general purpose): 1 yr 37 %, 3 yr 55 %
#   anything else: 1 yr 25 %, 3 yr 45 %
DEFAULT_DISCOUNTS: dict[str, dict[int, float]] = {
    "AWS": {1: 0.27, 3: 0.48},
    "Microsoft": {1: 0.36, 3: 0.57},
    "Google Cloud": {1: 0.37, 3: 0.55},
}
FALLBACK_DISCOUNT = {1: 0.25, 3: 0.45}

_RESERVED = re.compile(r"reserv|commit|savings|cud|\bri\b|\bsp\b", re.I)
_TERM1 = re.compile(r"(^|[^0-9])(1 ?-?y(ea)?r?s?|12 ?-?mo?|one)([^0-9a-z]|$)", re.I)
_TERM3 = re.compile(r"(^|[^0-9])(3 ?-?y(ea)?r?s?|36 ?-?mo?|three)([^0-9a-z]|$)", re.I)
_NO_UPFRONT = re.compile(r"no.?upfront", re.I)


def percentile(values: list[int], pct: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), on the sorted values."""
    if not values:
        return 0.0
    s = sorted(values)
    pos = (len(s) - 1) * pct / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def term_of(pricing_model: str) -> int | None:
    """1 or 3 (years) for a reserved/commitment pricing model name, None for anything else."""
    m = pricing_model or ""
    if m.lower() in ("on-demand", "ondemand", "spot") or not _RESERVED.search(m):
        return None
    if _TERM3.search(m):
        return 3
    if _TERM1.search(m):
        return 1
    return None


@dataclass(slots=True)
class TermOption:
    years: int
    discount: float  # 0.27 = 27 % below on demand
    rate_basis: str  # "prices table" | "assumed default"
    hourly_commitment: int  # nanos per hour at the commitment rate
    monthly_saving: int  # nanos

    @property
    def break_even_utilization_pct(self) -> float:
        return (1.0 - self.discount) * 100.0


@dataclass(slots=True)
class PurchaseOption:
    provider_name: str
    region_id: str | None
    family: str
    currency: str
    days: list[date]
    daily_usage: list[int]  # nanos of on-demand spend per day
    baseline_hourly: int  # nanos per hour: p10 of the daily usage / 24
    mean_hourly: int
    max_hourly: int
    instance_type: str | None  # the family's most used type
    instance_price: int | None  # its on-demand price per hour (nanos)
    terms: dict[int, TermOption] = field(default_factory=dict)

    @property
    def instance_equivalents(self) -> float | None:
        if not self.instance_price:
            return None
        return self.baseline_hourly / self.instance_price

    @property
    def key(self) -> str:
        return f"{self.region_id or 'global'}/{self.family}"


def _anchor(conn: sqlite3.Connection, now: datetime) -> date | None:
    rng = q.data_range(conn)
    if rng is None:
        return None
    return min(rng[1], now.date())


def _usage(conn: sqlite3.Connection, since: date, until: date) -> list[tuple[Any, ...]]:
    """(day, provider, region, resource_id, currency, billed) of on-demand usage rows of resources."""
    ids = {}
    for kind, value in (("pricing_category", "Standard"), ("charge_category", "Usage")):
        row = conn.execute("SELECT id FROM dims WHERE kind=? AND value=?", (kind, value)).fetchone()
        if row is None:
            return []
        ids[kind] = row[0]
    return list(conn.execute(
        """SELECT c.day, p.value, rg.value, res.value, coalesce(cur.value, 'USD'), sum(c.billed)
           FROM costs c
           JOIN dims res ON res.id = c.resource
           LEFT JOIN dims p ON p.id = c.provider
           LEFT JOIN dims rg ON rg.id = c.region
           LEFT JOIN dims cur ON cur.id = c.currency
           WHERE c.day >= ? AND c.day < ? AND c.pricing_category = ? AND c.charge_category = ?
             AND c.commitment IS NULL AND c.resource IS NOT NULL
           GROUP BY c.day, c.provider, c.region, c.resource, c.currency""",
        (since.isoformat(), until.isoformat(), ids["pricing_category"], ids["charge_category"]),
    ))


def purchase_options(conn: sqlite3.Connection, now: datetime | None = None,
                     window_days: int = WINDOW_DAYS) -> list[PurchaseOption]:
    """One option per (provider, region, family) with a steady on-demand baseline, largest saving first."""
    now = now or reference_time(conn)
    anchor = _anchor(conn, now)
    if anchor is None:
        return []
    rng = q.data_range(conn)
    assert rng is not None
    until = anchor + timedelta(days=1)
    since = max(until - timedelta(days=window_days), rng[0])
    days = timeutil.days(since, until)
    day_idx = {d.isoformat(): i for i, d in enumerate(days)}

    instances: dict[tuple[str, str], str] = {}
    for prov, rid, rtype, itype in conn.execute(
        "SELECT provider_name, resource_id, resource_type, instance_type FROM resources WHERE instance_type IS NOT NULL"
    ):
        if (rtype or "").lower() in INSTANCE_TYPES:
            instances[(prov, rid)] = itype
    prices, fams = load_prices(conn)

    # (provider, region, family, currency) -> daily usage; and spend per instance type
    usage: dict[tuple[str, str | None, str, str], list[int]] = {}
    by_type: dict[tuple[str, str | None, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, prov, region, rid, cur, billed in _usage(conn, since, until):
        itype = instances.get((prov, rid))
        if itype is None or day not in day_idx:
            continue
        fam = family_of(itype, fams.get(prov)) or itype
        key = (prov, region, fam, cur)
        series = usage.setdefault(key, [0] * len(days))
        series[day_idx[day]] += int(billed or 0)
        by_type[key][itype] += int(billed or 0)

    out = []
    for (prov, region, fam, cur), series in usage.items():
        opt = make_option(prov, region, fam, cur, days, series, by_type[(prov, region, fam, cur)], prices)
        if opt is not None:
            out.append(opt)
    out.sort(key=lambda o: (-o.terms[1].monthly_saving, o.provider_name, o.key))
    return out


Prices = dict[tuple[str, str, str], dict[str, int]]


def load_prices(conn: sqlite3.Connection) -> tuple[Prices, dict[str, dict[str, str]]]:
    """(provider, region, sku) -> {pricing_model: price nanos}, and provider -> {sku: family}."""
    prices: Prices = defaultdict(dict)
    fams: dict[str, dict[str, str]] = defaultdict(dict)
    for prov, region, sku, model, price, fam in conn.execute(
        "SELECT provider_name, region_id, sku, pricing_model, price_nanos, family FROM prices"
    ):
        prices[(prov, region, sku)][model] = int(price)
        if fam:
            fams[prov][sku] = fam
    return prices, fams


def make_option(prov: str, region: str | None, fam: str, cur: str, days: list[date], series: list[int],
                types: dict[str, int], prices: Prices) -> PurchaseOption | None:
    """The commitment sized to a daily on-demand spend series (its p10 baseline), with the saving
    of each term; None when the baseline is zero. `types`: spend per instance type of the family."""
    base_day = percentile(series, PERCENTILE)
    baseline = int(round(base_day / 24))
    if baseline <= 0:
        return None
    top = max(types, key=lambda t: (types[t], t))
    top_price = prices.get((prov, region or "", top), {}).get("on-demand")
    opt = PurchaseOption(
        provider_name=prov, region_id=region, family=fam, currency=cur, days=days, daily_usage=series,
        baseline_hourly=baseline, mean_hourly=int(round(sum(series) / len(series) / 24)),
        max_hourly=int(round(max(series) / 24)), instance_type=top, instance_price=top_price,
    )
    for years in TERMS:
        discount, basis = _discount(prov, region, types, prices, years)
        opt.terms[years] = TermOption(
            years=years, discount=discount, rate_basis=basis,
            hourly_commitment=int(round(baseline * (1 - discount))),
            monthly_saving=int(round(baseline * discount * HOURS_PER_MONTH)),
        )
    return opt


def _discount(
    provider: str,
    region: str | None,
    types: dict[str, int],
    prices: dict[tuple[str, str, str], dict[str, int]],
    years: int,
) -> tuple[float, str]:
    """Spend-weighted discount of the family's types that have a reserved price for the term, else the default."""
    weight = 0.0
    total = 0.0
    for itype, spend in types.items():
        models = prices.get((provider, region or "", itype), {})
        od = models.get("on-demand")
        if not od:
            continue
        candidates = [(m, p) for m, p in models.items() if term_of(m) == years]
        if not candidates:
            continue
        candidates.sort(key=lambda mp: (not _NO_UPFRONT.search(mp[0]), mp[0]))
        reserved = candidates[0][1]
        w = max(spend, 1)
        weight += w * (1.0 - reserved / od)
        total += w
    if total > 0:
        return max(0.0, min(0.95, weight / total)), "prices table"
    return DEFAULT_DISCOUNTS.get(provider, FALLBACK_DISCOUNT)[years], "assumed default"


def _money(nanos: int) -> str:
    return f"{nanos / NANOS:.2f}"


def to_recommendation(opt: PurchaseOption, now: datetime) -> Recommendation:
    one = opt.terms[1]
    detail: dict[str, Any] = {
        "family": opt.family,
        "region_id": opt.region_id,
        "window_days": len(opt.days),
        "window": [opt.days[0].isoformat(), opt.days[-1].isoformat()],
        "baseline_percentile": PERCENTILE,
        "baseline_hourly_nanos": opt.baseline_hourly,
        "mean_hourly_nanos": opt.mean_hourly,
        "max_hourly_nanos": opt.max_hourly,
        "instance_type": opt.instance_type,
        "instance_hourly_price_nanos": opt.instance_price,
        "instance_equivalents": None if opt.instance_equivalents is None else round(opt.instance_equivalents, 2),
        "daily_usage_nanos": opt.daily_usage,
        "terms": {
            f"{t.years}yr": {
                "payment_option": "No Upfront",
                "discount_pct": round(t.discount * 100, 2),
                "rate_basis": t.rate_basis,
                "hourly_commitment_nanos": t.hourly_commitment,
                "monthly_saving_nanos": t.monthly_saving,
                "break_even_utilization_pct": round(t.break_even_utilization_pct, 2),
            }
            for t in opt.terms.values()
        },
    }
    basis = (f"p{PERCENTILE} of daily on-demand usage over {len(opt.days)} days "
             f"(${_money(opt.baseline_hourly)}/h) x {one.discount * 100:.0f}% 1-yr no-upfront discount "
             f"({one.rate_basis}) x {HOURS_PER_MONTH} h")
    from .recommendations.model import Recommendation

    return Recommendation(
        rule=RULE, provider_name=opt.provider_name, resource_id=opt.key,
        resource_name=f"{opt.family} in {opt.region_id or 'all regions'}", resource_type="instance_family",
        region_id=opt.region_id, category="cost", detail=detail, monthly_saving=one.monthly_saving,
        saving_basis=basis, currency=opt.currency, first_seen=now, last_seen=now,
    )


def purchase_recommendations(conn: sqlite3.Connection, now: datetime | None = None) -> list[Recommendation]:
    """The purchase recommendations as Recommendation records (rule "commitment_purchase"); no write."""
    now = now or reference_time(conn)
    return [to_recommendation(o, now) for o in purchase_options(conn, now)]


# The rule-module interface of analysis.recommendations (RULE_ID, CATEGORY, TITLE, Params, find), so the
# engine can list this module in its RULES as it is.
RULE_ID = RULE
CATEGORY = "cost"
TITLE = "Commitment purchases (steady on-demand usage)"


class Params(Model):
    """No thresholds (the purchase math is documented in this module)."""

    sorted_keys: ClassVar[bool] = True


def find(ctx: Any, params: Params) -> list[Recommendation]:
    """Engine entry point: ctx has .conn and .now (analysis.recommendations.common.RuleContext)."""
    return purchase_recommendations(ctx.conn, ctx.now)


__all__ = [
    "DEFAULT_DISCOUNTS",
    "RULE",
    "PurchaseOption",
    "TermOption",
    "percentile",
    "purchase_options",
    "purchase_recommendations",
    "term_of",
]
