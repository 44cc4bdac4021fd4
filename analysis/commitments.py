"""Commitment figures (Reserved Instances, Savings Plans, reservations, CUDs) over a period.

Two sources of truth, both implemented; where both exist for a commitment the provider API
figures are used (`prefer="api"`, the default) and every figure says its `basis`:

* "api": the provider's own daily figures in `commitment_usage` (AWS Cost Explorer
  utilization and coverage, written by providers/aws/commitments.py; the demo writes the same
  shape for every provider). Per commitment and day: committed (amortized), used, unused and the
  on-demand equivalent of the usage it covered; account totals (`ri-total:<account>`,
  `sp-total:<account>`) carry the daily coverage %.
* "focus": the FOCUS cost rows alone, so any FOCUS export answers without provider APIs.
  For a commitment (CommitmentDiscountId):
    used       = sum of EffectiveCost of its rows with CommitmentDiscountStatus "Used"
    unused     = sum of EffectiveCost of its rows with status "Unused"
    committed  = used + unused
    on-demand equivalent = sum over its "Used" rows of ContractedCost (the negotiated on-demand
                 price of that usage) where the row has one, else ListCost
  Purchase rows (the fee itself, status empty) are not usage and are not counted.

Figures (both bases):
    utilization % = used / committed
    savings       = on-demand equivalent - used       (realized savings vs on-demand)
    net savings   = on-demand equivalent - committed  (= savings - unused commitment)
Totals sum the commitments in the main currency (others are listed, never added in).

Coverage (share of eligible usage covered), per provider then summed:
* api, account totals present (AWS): covered = on-demand equivalent of the RI and SP total rows;
  eligible = RI on-demand equivalent + SP on-demand equivalent / SP coverage % (AWS's Savings
  Plans coverage is over the on-demand spend left after RIs), per day; RI only: RI on-demand
  equivalent / RI coverage %.
* api, per-commitment coverage % present: eligible = on-demand equivalent / coverage %, per day.
* focus: covered = the on-demand equivalent of all "Used" rows; eligible = covered + the
  on-demand usage a commitment could have covered but did not. ELIGIBLE is defined as cost rows
  with ChargeCategory "Usage", PricingCategory "Standard" (on demand: spot "Dynamic" is not
  eligible) and no commitment, of the same provider and the same (ServiceName,
  ServiceCategory) pairs as some commitment's "Used" rows in the period (so EC2 instance hours
  count, EBS volumes billed under EC2 as "Storage" do not); for a commitment bound to a region
  (an RI, a reservation, a CUD in the inventory) only that region; for one bound to an instance
  family (the inventory's instance type, or a Savings Plan's instance family) only resources
  whose inventory instance type is of that family (family from the prices table, else the
  type's prefix: m5.2xlarge -> m5, n2-standard-8 -> n2). A row counts once even if several
  commitments could cover it.
A period's coverage weights days by their eligible amount (sum covered / sum eligible); where a
day's eligible amount cannot be derived (coverage 0 %), the mean of the daily percentages is used.

Days to expiry count from the cache's reference time (analysis.clock.reference_time: the earlier of
now and the snapshot time, so an old snapshot is judged as of its own time): a commitment is flagged
30, 60 or 90 when it ends within that many days. The period ends on the last day with data (cost
or commitment usage), never after the reference day.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from analysis.clock import reference_day, reference_time
from cache import queries as q
from cache import timeutil

EXPIRY_FLAGS = (30, 60, 90)
TOTAL_PREFIXES = ("ri-total:", "sp-total:")
PERIODS = {"7d": 7, "30d": 30, "90d": 90}


# -- records -------------------------------------------------------------------------------------


@dataclass(slots=True)
class DayFigures:
    day: date
    committed: int = 0
    used: int = 0
    unused: int = 0
    on_demand_equivalent: int = 0
    coverage_pct: float | None = None  # the provider's own daily coverage for this commitment (api)

    @property
    def utilization_pct(self) -> float | None:
        return _pct(self.used, self.committed)


class _Amounts:
    """Utilization and savings of anything with committed / used / on-demand-equivalent amounts."""

    __slots__ = ()
    committed: int
    used: int
    on_demand_equivalent: int

    @property
    def utilization_pct(self) -> float | None:
        return _pct(self.used, self.committed)

    @property
    def savings(self) -> int:
        return self.on_demand_equivalent - self.used

    @property
    def net_savings(self) -> int:
        return self.on_demand_equivalent - self.committed


@dataclass(slots=True)
class Figures(_Amounts):
    """Amounts over a period (nanos), on one basis."""

    basis: str  # api | focus
    committed: int = 0
    used: int = 0
    unused: int = 0
    on_demand_equivalent: int = 0
    days: int = 0  # days with data



@dataclass(slots=True)
class CommitmentFigures:
    provider_name: str
    commitment_id: str
    commitment_type: str | None
    name: str | None = None
    in_inventory: bool = True  # False: known only from FOCUS cost rows
    scope: str | None = None
    region_id: str | None = None
    sub_account_id: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    hourly_commitment: int | None = None  # nanos per hour (recurring, as the provider states it)
    upfront: int | None = None
    payment_option: str | None = None
    term_months: int | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    state: str | None = None
    currency: str = "USD"
    properties: dict[str, Any] = field(default_factory=dict)
    days_to_expiry: int | None = None
    figures: Figures | None = None  # on the chosen basis (None: no usage data in the period)
    other: Figures | None = None  # the other basis, when both exist
    daily: list[DayFigures] = field(default_factory=list)  # chosen basis, every day of the period

    @property
    def basis(self) -> str:
        return self.figures.basis if self.figures else "none"

    @property
    def expiry_flag(self) -> int | None:
        return expiry_flag(self.days_to_expiry)

    @property
    def utilization_pct(self) -> float | None:
        return self.figures.utilization_pct if self.figures else None

    @property
    def unused(self) -> int | None:
        return self.figures.unused if self.figures else None

    @property
    def savings(self) -> int | None:
        return self.figures.savings if self.figures else None

    @property
    def net_savings(self) -> int | None:
        return self.figures.net_savings if self.figures else None

    @property
    def units(self) -> str:
        """'8 x m5.2xlarge' for count-based commitments, '' for spend-based ones."""
        if self.instance_type:
            return f"{self.instance_count or 1} x {self.instance_type}"
        return ""


@dataclass(slots=True)
class CommitmentReport(_Amounts):
    since: date
    until: date  # exclusive
    currency: str = "USD"
    commitments: list[CommitmentFigures] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    utilization_series: list[float | None] = field(default_factory=list)
    coverage_series: list[float | None] = field(default_factory=list)
    committed: int = 0
    used: int = 0
    unused: int = 0
    on_demand_equivalent: int = 0
    coverage_pct: float | None = None
    coverage_basis: dict[str, str] = field(default_factory=dict)  # provider -> api | focus
    other_currencies: list[str] = field(default_factory=list)


    @property
    def has_data(self) -> bool:
        return bool(self.commitments)

    def basis_counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for c in self.commitments:
            out[c.basis] += 1
        return dict(out)


@dataclass(slots=True)
class Expiring:
    provider_name: str
    commitment_id: str
    commitment_type: str | None
    name: str | None
    end_at: datetime
    days_to_expiry: int

    @property
    def flag(self) -> int | None:
        return expiry_flag(self.days_to_expiry)


# -- helpers -------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> float | None:
    return None if not whole else part * 100.0 / whole


def expiry_flag(days: int | None) -> int | None:
    """30, 60 or 90 when the commitment ends within that many days (0 days = ends today)."""
    if days is None or days < 0:
        return None
    for limit in EXPIRY_FLAGS:
        if days <= limit:
            return limit
    return None


def days_to_expiry(end_at: datetime | None, now: datetime | None = None) -> int | None:
    if end_at is None:
        return None
    now = now or timeutil.now()
    return (end_at - now).days


def _json(v: str | None) -> dict[str, Any]:
    try:
        d = json.loads(v or "{}")
    except json.JSONDecodeError:
        return {}
    return d if isinstance(d, dict) else {}


def family_of(instance_type: str | None, families: dict[str, str] | None = None) -> str | None:
    """An instance type's family: the prices table's family where known, else its prefix."""
    if not instance_type:
        return None
    if families and instance_type in families:
        return families[instance_type]
    t = instance_type
    if "." in t:  # m5.2xlarge -> m5, db.r5.large -> db.r5, ml.p3.2xlarge -> ml.p3
        return t.rsplit(".", 1)[0]
    if "-" in t:  # n2-standard-8 -> n2
        return t.split("-", 1)[0]
    return t


def price_families(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """(provider, sku) -> family, from the prices table."""
    return {
        (r[0], r[1]): r[2]
        for r in conn.execute("SELECT DISTINCT provider_name, sku, family FROM prices WHERE family IS NOT NULL")
    }


def _dim_id(conn: sqlite3.Connection, kind: str, value: str) -> int | None:
    row = conn.execute("SELECT id FROM dims WHERE kind=? AND value=?", (kind, value)).fetchone()
    return int(row[0]) if row else None


def data_anchor(conn: sqlite3.Connection) -> date | None:
    """The last day with data (cost rows or commitment usage rows), never after the reference day.

    Like Overview and Spend, the period ends on the last day the cache holds, not on the last day a
    commitment row happens to fall on (a FOCUS file's last commitment row may be days before its end).
    """
    days = []
    row = conn.execute("SELECT max(day) FROM commitment_usage").fetchone()
    if row and row[0]:
        days.append(timeutil.parse_day(row[0]))
    rng = q.data_range(conn)
    if rng is not None:
        days.append(rng[1])
    if not days:
        return None
    return min(max(days), reference_day(conn))


def period_range(preset: str, anchor: date) -> tuple[date, date]:
    n = PERIODS[preset]
    end = anchor + timedelta(days=1)
    return end - timedelta(days=n), end


# -- FOCUS rows -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _FocusRow:
    day: str
    commitment_id: str
    name: str | None
    ctype: str | None
    status: str  # Used | Unused
    provider: str | None
    service: int | None  # dims ids: only compared
    category: int | None
    region: str | None
    resource: str | None
    currency: str
    effective: int
    od: int


_OD = "sum(CASE WHEN c.contracted != 0 THEN c.contracted ELSE c.list END)"


def _focus_rows(conn: sqlite3.Connection, since: date, until: date) -> list[_FocusRow]:
    used_id = _dim_id(conn, "commitment_status", "Used")
    unused_id = _dim_id(conn, "commitment_status", "Unused")
    ids = [i for i in (used_id, unused_id) if i is not None]
    if not ids:
        return []
    sql = f"""SELECT c.day, cm.value, cm.label, cm.extra, st.value, p.value, c.service, c.service_category,
                     rg.value, res.value, coalesce(cur.value, 'USD'), sum(c.effective), {_OD}
              FROM costs c
              JOIN dims cm ON cm.id = c.commitment
              JOIN dims st ON st.id = c.commitment_status
              LEFT JOIN dims p ON p.id = c.provider
              LEFT JOIN dims rg ON rg.id = c.region
              LEFT JOIN dims res ON res.id = c.resource
              LEFT JOIN dims cur ON cur.id = c.currency
              WHERE c.day >= ? AND c.day < ? AND c.commitment IS NOT NULL
                AND c.commitment_status IN ({','.join('?' for _ in ids)})
              GROUP BY c.day, c.commitment, c.commitment_status, c.provider, c.service, c.service_category,
                       c.region, c.resource, c.currency"""
    return [
        _FocusRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], int(r[11] or 0),
                  int(r[12] or 0))
        for r in conn.execute(sql, (since.isoformat(), until.isoformat(), *ids))
    ]


@dataclass(slots=True)
class _Eligible:
    day: str
    provider: str | None
    service: int | None
    category: int | None
    region: str | None
    resource: str | None
    od: int


def _uncovered_rows(
    conn: sqlite3.Connection, since: date, until: date, services: set[int]
) -> list[_Eligible]:
    """On-demand usage rows (Usage, Standard, no commitment) of the given services."""
    std = _dim_id(conn, "pricing_category", "Standard")
    usage = _dim_id(conn, "charge_category", "Usage")
    if std is None or usage is None or not services:
        return []
    svc = sorted(services)
    sql = f"""SELECT c.day, p.value, c.service, c.service_category, rg.value, res.value, {_OD}
              FROM costs c
              LEFT JOIN dims p ON p.id = c.provider
              LEFT JOIN dims rg ON rg.id = c.region
              LEFT JOIN dims res ON res.id = c.resource
              WHERE c.day >= ? AND c.day < ? AND c.commitment IS NULL AND c.pricing_category = ?
                AND c.charge_category = ? AND c.service IN ({','.join('?' for _ in svc)})
              GROUP BY c.day, c.provider, c.service, c.service_category, c.region, c.resource"""
    return [
        _Eligible(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6] or 0))
        for r in conn.execute(sql, (since.isoformat(), until.isoformat(), std, usage, *svc))
    ]


# -- the computation ------------------------------------------------------------------------------


def _inventory(conn: sqlite3.Connection, now: datetime) -> list[CommitmentFigures]:
    out = []
    for r in conn.execute(
        """SELECT provider_name, commitment_id, commitment_type, name, scope, region_id, sub_account_id,
                  instance_type, instance_count, hourly_commitment_nanos, upfront_nanos, payment_option,
                  term_months, start_at, end_at, state, properties
           FROM commitments ORDER BY provider_name, commitment_id"""
    ):
        props = _json(r[16])
        end = timeutil.parse_instant_opt(r[14])
        out.append(CommitmentFigures(
            provider_name=r[0], commitment_id=r[1], commitment_type=r[2], name=r[3], scope=r[4], region_id=r[5],
            sub_account_id=r[6], instance_type=r[7], instance_count=r[8], hourly_commitment=r[9], upfront=r[10],
            payment_option=r[11], term_months=r[12], start_at=timeutil.parse_instant_opt(r[13]), end_at=end,
            state=r[15],
            currency=str(props.get("currency") or "USD"), properties=props,
            days_to_expiry=days_to_expiry(end, now),
        ))
    return out


def _api_usage(
    conn: sqlite3.Connection, since: date, until: date
) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    out: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for r in conn.execute(
        """SELECT provider_name, commitment_id, day, committed_nanos, used_nanos, unused_nanos,
                  on_demand_equivalent_nanos, coverage_pct
           FROM commitment_usage WHERE day >= ? AND day < ? ORDER BY day""",
        (since.isoformat(), until.isoformat()),
    ):
        out[(r[0], r[1])].append(tuple(r[2:]))
    return out


def _api_figures(rows: list[tuple[Any, ...]]) -> tuple[Figures, dict[str, DayFigures]]:
    f = Figures("api")
    daily: dict[str, DayFigures] = {}
    for day, committed, used, unused, od, cov in rows:
        committed, used, unused, od = int(committed or 0), int(used or 0), int(unused or 0), int(od or 0)
        if not committed and (used or unused):
            committed = used + unused
        f.committed += committed
        f.used += used
        f.unused += unused
        f.on_demand_equivalent += od
        f.days += 1
        daily[day] = DayFigures(timeutil.parse_day(day), committed, used, unused, od, cov)
    return f, daily


def _focus_figures(rows: Iterable[_FocusRow]) -> tuple[Figures, dict[str, DayFigures]]:
    f = Figures("focus")
    daily: dict[str, DayFigures] = {}
    for r in rows:
        d = daily.get(r.day)
        if d is None:
            d = daily[r.day] = DayFigures(timeutil.parse_day(r.day))
        if r.status == "Used":
            d.used += r.effective
            d.on_demand_equivalent += r.od
            f.used += r.effective
            f.on_demand_equivalent += r.od
        else:
            d.unused += r.effective
            f.unused += r.effective
        d.committed = d.used + d.unused
    f.committed = f.used + f.unused
    f.days = len(daily)
    return f, daily


class _Predicate:
    """Which uncovered on-demand rows a commitment could have covered (see the module docstring)."""

    def __init__(self, c: CommitmentFigures, pairs: set[tuple[int | None, int | None]],
                 families: dict[tuple[str, str], str]) -> None:
        self.provider = c.provider_name
        self.pairs = pairs
        self.region = c.region_id if c.in_inventory else None
        fam = family_of(c.instance_type, {k[1]: v for k, v in families.items() if k[0] == c.provider_name})
        if not fam and c.properties.get("instance_family"):
            fam = str(c.properties["instance_family"])
        self.family = fam

    def matches(self, e: _Eligible, resource_family: str | None) -> bool:
        if e.provider != self.provider or (e.service, e.category) not in self.pairs:
            return False
        if self.region and e.region != self.region:
            return False
        return not (self.family and resource_family != self.family)


def build_report(
    conn: sqlite3.Connection,
    since: date,
    until: date,
    *,
    prefer: str = "api",
    now: datetime | None = None,
) -> CommitmentReport:
    """Every commitment's figures over [since, until), the totals and the daily series."""
    if prefer not in ("api", "focus"):
        raise ValueError(f"prefer must be api or focus, not {prefer!r}")
    now = now or reference_time(conn)
    rep = CommitmentReport(since=since, until=until)
    rep.days = timeutil.days(since, until)
    day_keys = [d.isoformat() for d in rep.days]

    inventory = _inventory(conn, now)
    by_id = {c.commitment_id: c for c in inventory}
    api = _api_usage(conn, since, until)
    focus_rows = _focus_rows(conn, since, until)
    focus_by: dict[str, list[_FocusRow]] = defaultdict(list)
    for r in focus_rows:
        focus_by[r.commitment_id].append(r)

    # Commitments FOCUS knows and the inventory does not.
    for cid, rows in focus_by.items():
        if cid in by_id:
            if rows[0].currency and by_id[cid].currency == "USD" and "currency" not in by_id[cid].properties:
                by_id[cid].currency = rows[0].currency
            continue
        first = rows[0]
        c = CommitmentFigures(
            provider_name=first.provider or "(unknown)", commitment_id=cid,
            commitment_type=next((r.ctype for r in rows if r.ctype), None),
            name=next((r.name for r in rows if r.name), None), in_inventory=False, currency=first.currency,
        )
        inventory.append(c)
        by_id[cid] = c

    shown: list[CommitmentFigures] = []
    for c in inventory:
        api_rows = api.get((c.provider_name, c.commitment_id))
        api_f, api_daily = _api_figures(api_rows) if api_rows else (None, {})
        f_rows = focus_by.get(c.commitment_id)
        focus_f, focus_daily = _focus_figures(f_rows) if f_rows else (None, {})
        options = [(api_f, api_daily), (focus_f, focus_daily)]
        if prefer == "focus":
            options.reverse()
        present = [o for o in options if o[0] is not None]
        chosen_daily: dict[str, DayFigures] = present[0][1] if present else {}
        c.figures = present[0][0] if present else None
        c.other = present[1][0] if len(present) > 1 else None
        c.daily = [chosen_daily.get(k) or DayFigures(d) for k, d in zip(day_keys, rep.days, strict=True)]
        # Listed: with data in the period, or active during it (an idle commitment is news too).
        active = (c.end_at is None or c.end_at.date() >= since) and (c.start_at is None or c.start_at.date() < until)
        if c.figures is not None or (c.in_inventory and active and (c.state or "active") != "retired"):
            shown.append(c)
    shown.sort(key=lambda c: (c.provider_name, c.commitment_type or "", c.name or c.commitment_id))
    rep.commitments = shown

    # Totals in the main currency.
    currencies: dict[str, int] = defaultdict(int)
    for c in shown:
        currencies[c.currency] += abs(c.figures.committed) if c.figures else 0
    rep.currency = max(currencies, key=lambda k: currencies[k]) if currencies else "USD"
    rep.other_currencies = sorted(k for k in currencies if k != rep.currency)
    main = [c for c in shown if c.currency == rep.currency]
    for c in main:
        if c.figures:
            rep.committed += c.figures.committed
            rep.used += c.figures.used
            rep.unused += c.figures.unused
            rep.on_demand_equivalent += c.figures.on_demand_equivalent
    for i in range(len(rep.days)):
        committed = sum(c.daily[i].committed for c in main)
        used = sum(c.daily[i].used for c in main)
        rep.utilization_series.append(_pct(used, committed))

    _coverage(conn, rep, main, api, focus_rows, prefer)
    return rep


def _coverage(
    conn: sqlite3.Connection,
    rep: CommitmentReport,
    main: list[CommitmentFigures],
    api: dict[tuple[str, str], list[tuple[Any, ...]]],
    focus_rows: list[_FocusRow],
    prefer: str,
) -> None:
    day_keys = [d.isoformat() for d in rep.days]
    # per provider, per day: (covered, eligible) or a bare pct when eligible cannot be derived
    covered: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    eligible: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    pct_only: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    providers = sorted({c.provider_name for c in main})

    def add(p: str, day: str, cov_od: float, elig: float | None, pct: float | None) -> None:
        if elig is not None:
            covered[p][day] += cov_od
            eligible[p][day] += elig
        elif pct is not None:
            pct_only[p][day].append(pct)

    def api_provider(p: str) -> bool:
        totals = [k for k in api if k[0] == p and k[1].startswith(TOTAL_PREFIXES)]
        if totals:
            # per account and day: {"ri-total": (on-demand equivalent, coverage %), "sp-total": ...}
            acct_days: dict[tuple[str, str], dict[str, tuple[int, float | None]]] = defaultdict(dict)
            for key in totals:
                kind, _, account = key[1].partition(":")
                for day, _c, _u, _x, od, cov in api[key]:
                    acct_days[(account, day)][kind] = (int(od or 0), cov)
            found = False
            for (_account, day), kinds in acct_days.items():
                ri, sp = kinds.get("ri-total"), kinds.get("sp-total")
                ri_od = ri[0] if ri else 0
                if sp is not None and sp[1] is not None and sp[1] > 0:
                    # SP coverage is over the on-demand spend left after RIs: add the RI-covered part back
                    add(p, day, ri_od + sp[0], ri_od + sp[0] * 100.0 / sp[1], None)
                elif ri is not None and ri[1] is not None and ri[1] > 0:
                    add(p, day, ri_od + (sp[0] if sp else 0), ri_od * 100.0 / ri[1] + (sp[0] if sp else 0), None)
                elif (sp is not None and sp[1] is not None) or (ri is not None and ri[1] is not None):
                    add(p, day, 0, None, 0.0)
                else:
                    continue
                found = True
            return found
        found = False
        for c in main:
            if c.provider_name != p or (p, c.commitment_id) not in api:
                continue
            for day, _cm, _u, _x, od, cov in api[(p, c.commitment_id)]:
                if cov is None:
                    continue
                found = True
                if cov > 0 and od:
                    add(p, day, int(od), int(od) * 100.0 / cov, None)
                else:
                    add(p, day, 0, None, float(cov))
        return found

    focus_providers = []
    for p in providers:
        has_focus = any(r.provider == p and r.status == "Used" for r in focus_rows)
        if prefer == "focus" and has_focus:
            focus_providers.append(p)
        elif api_provider(p):
            rep.coverage_basis[p] = "api"
        elif has_focus:
            focus_providers.append(p)
    if focus_providers:
        _focus_coverage(conn, rep, main, focus_rows, focus_providers, covered, eligible)
        for p in focus_providers:
            rep.coverage_basis[p] = "focus"

    tot_cov = tot_elig = 0.0
    fallback: list[float] = []
    for k in day_keys:
        c_sum = sum(covered[p].get(k, 0.0) for p in rep.coverage_basis)
        e_sum = sum(eligible[p].get(k, 0.0) for p in rep.coverage_basis)
        pcts = [x for p in rep.coverage_basis for x in pct_only[p].get(k, [])]
        if e_sum > 0:
            rep.coverage_series.append(c_sum * 100.0 / e_sum)
        elif pcts:
            rep.coverage_series.append(sum(pcts) / len(pcts))
            fallback.extend(pcts)
        else:
            rep.coverage_series.append(None)
        tot_cov += c_sum
        tot_elig += e_sum
    if tot_elig > 0:
        rep.coverage_pct = tot_cov * 100.0 / tot_elig
    elif fallback:
        rep.coverage_pct = sum(fallback) / len(fallback)


def _focus_coverage(
    conn: sqlite3.Connection,
    rep: CommitmentReport,
    main: list[CommitmentFigures],
    focus_rows: list[_FocusRow],
    providers: list[str],
    covered: dict[str, dict[str, float]],
    eligible: dict[str, dict[str, float]],
) -> None:
    used = [r for r in focus_rows if r.status == "Used" and r.provider in providers]
    pairs_by: dict[str, set[tuple[int | None, int | None]]] = defaultdict(set)
    for r in used:
        pairs_by[r.commitment_id].add((r.service, r.category))
        covered[r.provider or ""][r.day] += r.od
        eligible[r.provider or ""][r.day] += r.od
    families = price_families(conn)
    preds = [_Predicate(c, pairs_by[c.commitment_id], families)
             for c in main if c.provider_name in providers and pairs_by.get(c.commitment_id)]
    services = {s for ps in pairs_by.values() for s, _cat in ps if s is not None}
    rows = _uncovered_rows(conn, rep.since, rep.until, services)
    if not rows or not preds:
        return
    need_family = any(p.family for p in preds)
    res_family: dict[tuple[str, str], str | None] = {}
    if need_family:
        fam_by_provider: dict[str, dict[str, str]] = defaultdict(dict)
        for (prov, sku), family in families.items():
            fam_by_provider[prov][sku] = family
        for prov, rid, itype in conn.execute(
            "SELECT provider_name, resource_id, instance_type FROM resources WHERE instance_type IS NOT NULL"
        ):
            res_family[(prov, rid)] = family_of(itype, fam_by_provider.get(prov))
    for e in rows:
        fam = res_family.get((e.provider or "", e.resource or "")) if need_family else None
        if any(p.matches(e, fam) for p in preds):
            eligible[e.provider or ""][e.day] += e.od


def commitment_record(c: CommitmentFigures) -> dict[str, Any]:
    """One commitment as a flat record (money in nanos) for reports and exports."""
    return {
        "commitment_id": c.commitment_id,
        "name": c.name,
        "type": c.commitment_type,
        "provider_name": c.provider_name,
        "scope": c.scope,
        "region_id": c.region_id,
        "units": c.units or None,
        "hourly_commitment": c.hourly_commitment,
        "payment_option": c.payment_option,
        "term_months": c.term_months,
        "start": timeutil.iso(c.start_at) if c.start_at else None,
        "end": timeutil.iso(c.end_at) if c.end_at else None,
        "days_to_expiry": c.days_to_expiry,
        "utilization_pct": None if c.utilization_pct is None else round(c.utilization_pct, 2),
        "committed_cost": c.figures.committed if c.figures else None,
        "used_cost": c.figures.used if c.figures else None,
        "unused_cost": c.unused,
        "on_demand_equivalent": c.figures.on_demand_equivalent if c.figures else None,
        "savings": c.savings,
        "net_savings": c.net_savings,
        "basis": c.basis,
        "in_inventory": c.in_inventory,
        "currency": c.currency,
    }


RECORD_MONEY = ("hourly_commitment", "committed_cost", "used_cost", "unused_cost", "on_demand_equivalent", "savings",
                "net_savings")


# -- expiring (the Overview's flag) -----------------------------------------------------------------


def expiring(conn: sqlite3.Connection, within: int = 90, now: datetime | None = None) -> list[Expiring]:
    """Inventory commitments ending within `within` days of the reference time, soonest first."""
    now = now or reference_time(conn)
    out = []
    for pv, cid, ctype, name, end, state in conn.execute(
        "SELECT provider_name, commitment_id, commitment_type, name, end_at, state FROM commitments "
        "WHERE end_at IS NOT NULL"
    ):
        if (state or "").lower() in ("retired", "expired"):
            continue
        end_at = timeutil.parse_instant_opt(end)
        d = days_to_expiry(end_at, now)
        if end_at is not None and d is not None and 0 <= d <= within:
            out.append(Expiring(pv, cid, ctype, name, end_at, d))
    out.sort(key=lambda e: (e.days_to_expiry, e.commitment_id))
    return out


__all__ = [
    "EXPIRY_FLAGS",
    "PERIODS",
    "CommitmentFigures",
    "CommitmentReport",
    "DayFigures",
    "Expiring",
    "Figures",
    "RECORD_MONEY",
    "build_report",
    "commitment_record",
    "data_anchor",
    "days_to_expiry",
    "expiring",
    "expiry_flag",
    "family_of",
    "period_range",
]
