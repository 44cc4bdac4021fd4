"""Cost anomalies: spikes, level shifts and drops in daily spend, per scope.

The detector (`detect`) walks a daily series in order. For each day it builds a baseline from the
trailing weeks that is
- weekday-aware: a robust weekday factor (median, over the last 8 weeks, of each weekday's spend
  over the mean of its week; over the mean of the seven medians), so a quiet weekend or a busy
  Monday is not an anomaly, and a level shift inside the 8 weeks does not pass for a weekday rhythm;
- started at the scope's first cost: the days before a service existed are not a baseline of zero;
- robust: the level is the median of the deseasonalised values of the last 21 days and the noise
  the MAD of those days' residuals in money (or, for bursty series, their 90th percentile; at least
  3 % of the expectation and min_impact / z), both leaving out the days already flagged, so a spike
  does not drag the baseline (a shift that lasts longer than two weeks becomes the new level);
- aware of monthly charges: a day of the month whose residual was as large (z beyond `z`, the same
  way) in the one or two months before (a support fee, a commitment purchase on the 1st) has that
  residual added to its expectation (seen in one month only, when it shows again: a charge seen
  once and not repeated is no drop);
- aware of job-like scopes: a scope that had at least 3 short bursts (1-3 days well above the
  expectation, then back) in the weeks before (training jobs, batch runs) has them as its pattern:
  a burst up to 1.5 x its largest and no longer than its longest is not flagged (a bigger burst,
  or spend that stays up longer, still is).
A day is flagged when its robust z-score reaches `z` (4) or when three days in a row reach
`z_run` (2.5) the same way (a level shift smaller than a spike), and in both cases only when the
money moved is at least `min_impact` per day (a $3 blip on a $2 service is not an alert) and
`min_relative` of the expectation. Consecutive flagged days of one direction (gaps of up to two
days allowed) make one EPISODE: a drop when spend fell, a level shift when it lasted 4 days or
more, a spike otherwise.

`recompute(store, config)` runs the detector over the scopes (total; provider; sub account;
service; sub account x service; the values of the tag keys of `[anomalies] tags`) of each currency,
keeps the most specific scope of an episode (a parent whose excess is mostly one child's episode is
not repeated; a parent none of whose account x service parts moved beyond its own noise, z_run, is
noise adding up, or a charge its parts expect, not an anomaly), finds the contributors (the resources, or the services and regions for spend without
a resource, that moved most) and writes `anomalies`: an episode that overlaps a stored one of the
same scope keeps its row, its first-seen time and its status (open, acknowledged, dismissed); open
episodes that are no longer found go away.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from cache import queries as q
from cache import timeutil
from cache.money import NANOS

from .clock import reference_time

STATUSES = ("open", "acknowledged", "dismissed")
KINDS = ("spike", "level_shift", "drop")
KIND_TITLES = {"spike": "spike", "level_shift": "level shift", "drop": "drop"}
LAST_RUN_KEY = "anomalies_last_run"

# Scope dimensions, most specific last; `dimension` values stored in the table.
SCOPE_TOTAL = "total"
SCOPE_PAIR = "sub_account_id+service_name"
SCOPE_TITLES = {SCOPE_TOTAL: "Total", "provider_name": "Provider", "sub_account_id": "Sub account",
                "service_name": "Service", SCOPE_PAIR: "Account / service"}


@dataclass(frozen=True, slots=True)
class Params:
    min_impact: float = 50.0  # money per day (currency units)
    min_relative: float = 0.2  # of the expectation
    z: float = 4.0
    z_run: float = 2.5
    run_days: int = 3
    weeks: int = 8  # weekday factors
    level_days: int = 21
    min_history: int = 21  # days of history before a day can be flagged
    lookback_days: int = 60  # episodes are looked for in the last N days
    burst_runs: int = 3  # short bursts in the weeks before that make a scope job-like
    burst_margin: float = 1.5  # a job-like scope's burst is flagged beyond this x its largest burst
    tags: tuple[str, ...] = ()


@dataclass(slots=True)
class SeriesResult:
    expected: list[float]  # per day (0 before a baseline exists)
    sd: list[float]  # the noise of the day (same units)
    z: list[float]
    flags: list[int]  # +1 above, -1 below, 0 normal


@dataclass(slots=True)
class Episode:
    start: int  # indexes into the series
    end: int  # inclusive
    sign: int
    expected: float
    actual: float
    score: float

    @property
    def impact(self) -> float:
        return self.actual - self.expected

    def kind(self) -> str:
        if self.sign < 0:
            return "drop"
        return "level_shift" if self.end - self.start + 1 >= 4 else "spike"


def _mad(values: Sequence[float], center: float) -> float:
    return 1.4826 * median(abs(v - center) for v in values) if values else 0.0


def detect(values: Sequence[float], days: Sequence[date] | None = None, params: Params | None = None,
           first: int = 0) -> SeriesResult:
    """Flag the anomalous days of one daily series (`values` in money units, one per day, no gaps).
    `days`: their dates (weekdays and days of the month; default: consecutive days ending today);
    `first`: the first index that may be flagged (and at least `params.min_history`)."""
    p = params or Params()
    n = len(values)
    if days is None:
        end = timeutil.today()
        days = [end - timedelta(days=n - 1 - i) for i in range(n)]
    exp = [0.0] * n
    sd = [0.0] * n
    zs = [0.0] * n
    flags = [0] * n
    resid: list[float | None] = [None] * n  # x - level x factor (before the monthly adjustment)
    rz = [0.0] * n  # the same in noise units
    by_dom: dict[int, list[int]] = {}
    # a scope has no history before its first cost: the days before it are not a baseline of zero,
    # and it needs min_history days of its own
    born = next((i for i, v in enumerate(values) if v), n)
    first = max(first, born + p.min_history)
    cum = [0.0]
    for v in values:
        cum.append(cum[-1] + v)
    wds = [d.weekday() for d in days]
    centred: list[float | None] = [None] * n  # a day over the mean of the week centred on it
    for i in range(born + 3, n - 3):
        week = (cum[i + 4] - cum[i - 3]) / 7
        if week > 0:
            centred[i] = values[i] / week
    for t in range(n):
        lo = max(born, t - p.weeks * 7)
        clean = [i for i in range(lo, t) if not flags[i]]
        if len(clean) < 7:
            by_dom.setdefault(days[t].day, []).append(t)
            continue
        # weekday factors
        # (each day over the mean of its week centred on it, or ending on it near t: a level shift in
        # the window does not pass for a weekday rhythm)
        per_wd: list[list[float]] = [[] for _ in range(7)]
        for i in clean:
            if i + 3 < t and centred[i] is not None:
                per_wd[wds[i]].append(centred[i] or 0.0)
                continue
            a = max(born, min(i - 3, t - 7))
            if a + 7 > t or a > i:
                continue
            week = (cum[a + 7] - cum[a]) / 7
            if week > 0:
                per_wd[wds[i]].append(values[i] / week)
        meds = [median(v) if len(v) >= 2 else None for v in per_wd]
        known = [m for m in meds if m is not None]
        overall = sum(known) / len(known) if known else 0.0
        if overall > 0 and len(known) == 7:
            factors = [float(m) / overall for m in meds if m is not None]
        else:
            factors = [1.0] * 7
        # level and noise over the recent clean days (all recent days when too few are clean:
        # a shift that lasts becomes the new level)
        recent = [i for i in clean if i >= t - p.level_days]
        if len(recent) < p.level_days // 2:
            recent = list(range(max(lo, t - p.level_days), t))
        ys = [values[i] / factors[days[i].weekday()] for i in recent if factors[days[i].weekday()] > 0]
        if not ys:
            by_dom.setdefault(days[t].day, []).append(t)
            continue
        level = median(ys)
        f = factors[days[t].weekday()]
        e = level * f
        # the noise, in money: the MAD of the recent residuals, or their 90th percentile when the
        # series is bursty (jobs that run now and then are not anomalies); at least 3 % of the
        # expectation and min_impact / z (so z >= z means >= min_impact)
        # (residuals scaled by their day's weekday factor, floored at 1/4: noise grows with spend,
        # and a near-zero weekend does not blow a weekday residual up)
        noise_days = recent if len(recent) < p.level_days // 2 else [i for i in clean if i >= t - 2 * p.level_days]
        rs = [(values[i] - level * factors[days[i].weekday()]) / max(factors[days[i].weekday()], 0.25)
              for i in noise_days]
        mid = median(rs)
        devs = sorted(abs(r - mid) for r in rs)
        q90 = devs[min(len(devs) - 1, int(0.9 * len(devs)))] / 1.645
        s = max(max(_mad(rs, mid), q90) * max(f, 0.25), 0.03 * abs(e), p.min_impact / p.z)
        # monthly charges: the same day of the month was as far off, the same way, in the month(s) before
        prior = [i for i in by_dom.get(days[t].day, [])[-2:] if resid[i] is not None]
        if prior and all(abs(rz[i]) >= p.z for i in prior) and len({rz[i] > 0 for i in prior}) == 1:
            charge = median(resid[i] or 0.0 for i in prior)
            # seen in one month only, a charge is expected when it shows again (half of it at
            # least), not missed: its absence is no drop
            if len(prior) > 1 or abs(values[t] - e) >= abs(charge) / 2 and (values[t] - e) * charge > 0:
                e += charge
        by_dom.setdefault(days[t].day, []).append(t)
        exp[t], sd[t] = e, s
        x = values[t]
        r = x - level * f
        resid[t] = r
        rz[t] = r / s
        z = (x - e) / s
        zs[t] = z
        if t < first:
            continue

        def big(i: int) -> bool:
            d = values[i] - exp[i]
            return abs(d) >= p.min_impact and abs(d) >= p.min_relative * abs(exp[i])

        if abs(z) < min(p.z, p.z_run):
            continue
        spike = abs(z) >= p.z and big(t)
        run = list(range(t - p.run_days + 1, t + 1))
        if not spike and not (run[0] >= first and all(abs(zs[i]) >= p.z_run and (zs[i] > 0) == (z > 0) and big(i)
                                                      for i in run)):
            continue
        if z > 0 and _usual_burst(values, exp, flags, lo, t, p):
            continue
        for i in [t] if spike else run:
            flags[i] = 1 if z > 0 else -1
    return SeriesResult(exp, sd, zs, flags)


def _usual_burst(values: Sequence[float], exp: Sequence[float], flags: Sequence[int], lo: int, t: int,
                 p: Params) -> bool:
    """True when day `t` is one more of its scope's usual bursts: the scope is job-like (at least
    `burst_runs` short bursts, 1 to 3 days of spend above the expectation by more than the noise
    floor and `min_relative`, then back to it, in the weeks before `t`), the excess of day t is no
    more than `burst_margin` x the largest of those bursts' excess, and the run of raised days it
    belongs to is no longer than 3 days or the longest burst (a level shift outlasts the bursts and
    is still found)."""
    def up(i: int) -> float:
        d = values[i] - exp[i]
        return d if exp[i] > 0 and d >= max(p.min_relative * exp[i], p.min_impact / p.z) else 0.0

    runs: list[tuple[int, float]] = []  # (days, largest excess) of the ended short bursts
    i = lo
    while i < t:
        if not up(i):
            i += 1
            continue
        j = i
        while j < t and up(j):
            j += 1
        if j < t and j - i <= 3:  # ended before t: back to normal on day j
            runs.append((j - i, max(up(k) for k in range(i, j))))
        i = j + 1
    if len(runs) < p.burst_runs:
        return False
    current = 1
    while t - current >= lo and (up(t - current) or flags[t - current] > 0):
        current += 1
    return current <= max(3, *(r[0] for r in runs)) and values[t] - exp[t] <= p.burst_margin * max(r[1] for r in runs)


def episodes(values: Sequence[float], res: SeriesResult, gap: int = 2) -> list[Episode]:
    """Runs of flagged days of one direction, gaps of up to `gap` normal days bridged; expected and
    actual are summed over every day from start to end (bridged days included)."""
    out: list[Episode] = []
    cur: Episode | None = None
    last = -10
    for i, f in enumerate(res.flags):
        if not f:
            continue
        if cur is not None and f == cur.sign and i - last <= gap + 1:
            cur.end = i
            for j in range(last + 1, i + 1):  # the bridged normal days count too: the sums cover
                cur.expected += res.expected[j]  # start..end, as Spend shows the same days
                cur.actual += values[j]
            cur.score = max(cur.score, abs(res.z[i]))
        else:
            cur = Episode(i, i, f, res.expected[i], values[i], abs(res.z[i]))
            out.append(cur)
        last = i
    return out


def optscale_rule(values: Sequence[float], first: int = 7, factor: float = 1.3) -> list[int]:
    """The incumbent rule (OptScale): a day is anomalous when it exceeds the mean of the previous
    7 days by 30 %. Flags as in SeriesResult (+1 or 0)."""
    flags = [0] * len(values)
    for t in range(max(first, 7), len(values)):
        mean = sum(values[t - 7:t]) / 7
        if values[t] > factor * mean and mean > 0:
            flags[t] = 1
    return flags


# -- over the cache ------------------------------------------------------------------------------


@dataclass(slots=True)
class Found:
    dimension: str
    dim_value: str  # what the user reads
    scope: dict[str, str]  # Spend filters
    currency: str
    start: date
    end: date
    kind: str
    expected: int  # nanos, over the episode
    actual: int
    score: float
    contributors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def impact(self) -> int:
        return self.actual - self.expected


@dataclass(slots=True)
class Anomaly:
    id: int
    start: date
    end: date
    dimension: str
    dim_value: str
    scope: dict[str, str]
    currency: str
    kind: str
    expected: int
    actual: int
    impact: int
    score: float
    contributors: list[dict[str, Any]]
    first_seen: datetime
    detected_at: datetime
    status: str
    status_reason: str | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def scope_title(self) -> str:
        return SCOPE_TITLES.get(self.dimension, q.dim_title(self.dimension))


@dataclass(slots=True)
class RecomputeResult:
    found: int = 0
    inserted: int = 0
    kept: int = 0
    removed: int = 0
    series: int = 0
    open_count: int = 0
    as_of: date | None = None

    def summary(self) -> str:
        if self.as_of is None:
            return "anomalies: no cost data"
        return (f"anomalies: {self.found} found over {self.series} series up to {self.as_of} "
                f"({self.inserted} new), {self.open_count} open")


def params_of(config: Any) -> Params:
    a = getattr(config, "anomalies", None)
    if a is None:
        return Params()
    return Params(min_impact=float(a.min_impact), min_relative=float(a.min_relative), z=float(a.z_score),
                  lookback_days=int(a.lookback_days), tags=tuple(a.tags))


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days)]


def _series_of(points: dict[str, int], days: list[date]) -> list[float]:
    return [points.get(d.isoformat(), 0) / NANOS for d in days]


@dataclass(slots=True)
class _Series:
    dimension: str
    dim_value: str
    scope: dict[str, str]
    values: list[float]
    rank: int  # specificity: 0 total .. 3 account x service


def _scopes(conn: sqlite3.Connection, since: date, until: date, currency: str, p: Params) -> list[_Series]:
    """Every daily series of one currency: total, provider, sub account, service, account x service,
    tag values; each read through cache.queries (rollups), one query per dimension (per provider
    and sub account for the finer ones)."""
    days = _days(since, until)
    cur: dict[str, str | None] = {"billing_currency": currency}
    out: list[_Series] = []
    for pts in q.spend_series(conn, None, since, until, filters=cur).values():
        out.append(_Series(SCOPE_TOTAL, "All spend", {}, _series_of(pts, days), 0))
    providers = [g.value for g in q.spend_by(conn, "provider_name", since, until, filters=cur) if g.value]
    for prov, pts in q.spend_series(conn, "provider_name", since, until, filters=cur).items():
        if prov:
            out.append(_Series("provider_name", prov, {"provider_name": prov}, _series_of(pts, days), 1))
    for prov in providers:
        pf: dict[str, str | None] = {**cur, "provider_name": prov}
        labels = {g.value: g.label or g.value for g in q.spend_by(conn, "sub_account_id", since, until, filters=pf)}
        for dim in ("sub_account_id", "service_name"):
            for v, pts in q.spend_series(conn, dim, since, until, filters=pf).items():
                if v:
                    shown = labels.get(v) or v if dim == "sub_account_id" else v
                    out.append(_Series(dim, f"{prov} / {shown}", {"provider_name": prov, dim: v},
                                       _series_of(pts, days), 2))
        for acct, name in labels.items():
            if not acct:
                continue
            af: dict[str, str | None] = {**pf, "sub_account_id": acct}
            for svc, pts in q.spend_series(conn, "service_name", since, until, filters=af).items():
                if svc:
                    out.append(_Series(SCOPE_PAIR, f"{prov} / {name} / {svc}",
                                       {"provider_name": prov, "sub_account_id": acct, "service_name": svc},
                                       _series_of(pts, days), 3))
    for key in p.tags:
        for v, pts in q.spend_series(conn, f"tag:{key}", since, until, filters=cur).items():
            if v:
                out.append(_Series(f"tag:{key}", f"{key}={v}", {f"tag:{key}": v}, _series_of(pts, days), 2))
    return out


def _moved(values: Sequence[float], res: SeriesResult, i: int, sign: int, p: Params) -> bool:
    """A series moved on day i the `sign` way beyond its own noise (z_run), or is new spend (no
    baseline yet)."""
    if res.sd[i] == 0:
        return sign > 0 and values[i] > 0
    return sign * res.z[i] >= p.z_run


def _inside(child: dict[str, str], parent: dict[str, str]) -> bool:
    return child != parent and all(child.get(k) == v for k, v in parent.items())


def find(conn: sqlite3.Connection, p: Params | None = None, as_of: date | None = None) -> tuple[list[Found], int]:
    """The anomaly episodes of every scope and currency (most specific scope kept), and the number of
    series looked at."""
    p = p or Params()
    span = q.data_range(conn)
    if span is None:
        return [], 0
    end = min(span[1], as_of) if as_of else span[1]
    since = max(span[0], end - timedelta(days=p.lookback_days + p.weeks * 7 - 1))
    until = end + timedelta(days=1)
    days = _days(since, until)
    first = max(0, len(days) - p.lookback_days)
    found: list[tuple[int, Found]] = []
    n_series = 0
    for currency in sorted(q.total(conn, since, until)):
        scopes = _scopes(conn, since, until, currency, p)
        results = [detect(s.values, days, p, first) for s in scopes]
        n_series += len(scopes)
        for s, res in zip(scopes, results, strict=True):
            # its parts: the account x service series inside it (a tag value has none)
            parts = [(c, r) for c, r in zip(scopes, results, strict=True)
                     if c.dimension == SCOPE_PAIR and not s.dimension.startswith("tag:") and _inside(c.scope, s.scope)]
            # (judged only when the parts hold the scope's spend: not when some of it has no service)
            if parts and sum(sum(c.values) for c, _ in parts) < 0.9 * sum(s.values):
                parts = []
            for ep in episodes(s.values, res):
                if parts and not any(_moved(c.values, r, i, ep.sign, p) for c, r in parts
                                     for i in range(ep.start, ep.end + 1)):
                    continue  # spread thin: none of its parts moved beyond its own noise
                found.append((s.rank, Found(
                    s.dimension, s.dim_value, s.scope, currency, days[ep.start], days[ep.end], ep.kind(),
                    int(round(ep.expected * NANOS)), int(round(ep.actual * NANOS)), round(ep.score, 2))))
    # the most specific first; a parent goes when kept children inside it explain most of its excess,
    # or one of them moved for the same first reason (the same top contributor)
    found.sort(key=lambda rf: (-rf[0], -abs(rf[1].impact)))
    kept: list[Found] = []
    for _, f in found:
        f.contributors = contributors(conn, f)
        children = [c for c in kept if c.currency == f.currency and _inside(c.scope, f.scope)
                    and (c.impact > 0) == (f.impact > 0) and c.start <= f.end and f.start <= c.end]
        explained = sum(c.impact for c in children)
        top = f.contributors[0]["value"] if f.contributors else None
        if f.impact and (explained / f.impact >= 0.5 or any(
                top is not None and c.contributors and c.contributors[0]["value"] == top for c in children)):
            continue
        kept.append(f)
    kept.sort(key=lambda f: (f.end, abs(f.impact)), reverse=True)
    return kept, n_series


def contributors(conn: sqlite3.Connection, f: Found, top: int = 3) -> list[dict[str, Any]]:
    """What moved most in the episode against the 14 days before it (per day, times the episode's
    days): resources first; spend without a resource by service (or region inside one service)."""
    n = (f.end - f.start).days + 1
    before = (f.start - timedelta(days=14), f.start)
    during = (f.start, f.end + timedelta(days=1))
    filters: dict[str, str | None] = {**f.scope, "billing_currency": f.currency}

    def movers(by: str) -> dict[tuple[str | None, str | None], int]:
        now = {(g.value, g.label): g.cost for g in q.spend_by(conn, by, *during, filters=filters)}
        old = {(g.value, g.label): g.cost for g in q.spend_by(conn, by, *before, filters=filters)}
        return {k: now.get(k, 0) - old.get(k, 0) * n // 14 for k in {*now, *old}}

    sign = 1 if f.impact >= 0 else -1
    out: list[dict[str, Any]] = []
    res = movers("resource_id")
    unattributed = sum(d for (v, _), d in res.items() if v is None)
    for (v, label), d in sorted(res.items(), key=lambda kv: -sign * kv[1]):
        if v is None or d * sign <= 0 or len(out) >= top:
            continue
        out.append({"dimension": "resource_id", "value": v, "label": label, "delta_nanos": d})
    if unattributed * sign > 0 and (not out or unattributed * sign >= abs(f.impact) * 0.3):
        by = "region_id" if "service_name" in f.scope else "service_name"
        for (v, label), d in sorted(movers(by).items(), key=lambda kv: -sign * kv[1])[:top]:
            if d * sign > 0 and v:
                out.append({"dimension": by, "value": v, "label": label, "delta_nanos": d})
    return out


def recompute(store: Any, config: Any = None, now: datetime | None = None) -> RecomputeResult:
    """Detect and write the anomalies in one transaction (see the module doc)."""
    conn: sqlite3.Connection = store.conn
    now = now or reference_time(conn)
    p = params_of(config)
    result = RecomputeResult()
    span = q.data_range(conn)
    found, result.series = find(conn, p)
    result.found = len(found)
    result.as_of = span[1] if span else None
    now_s = timeutil.iso(now)
    with store.transaction():
        rows = conn.execute("SELECT id, day, last_day, dimension, dim_value, currency, status FROM anomalies").fetchall()
        matched: set[int] = set()
        for f in found:
            same = [r for r in rows if r[3] == f.dimension and r[4] == f.dim_value and r[5] == f.currency
                    and r[0] not in matched and r[1] <= f.end.isoformat() and f.start.isoformat() <= r[2]]
            values = (f.start.isoformat(), f.end.isoformat(), json.dumps(f.scope, sort_keys=True), f.kind,
                      f.expected, f.actual, f.impact, f.score, json.dumps(f.contributors, sort_keys=True), now_s)
            if same:
                rid = same[0][0]
                matched.add(rid)
                # another stored row of the same start day would collide: it is the same episode
                conn.execute("DELETE FROM anomalies WHERE id<>? AND day=? AND dimension=? AND dim_value=? "
                             "AND currency=?", (rid, f.start.isoformat(), f.dimension, f.dim_value, f.currency))
                conn.execute("UPDATE anomalies SET day=?, last_day=?, scope=?, kind=?, expected_nanos=?, "
                             "actual_nanos=?, impact_nanos=?, score=?, contributors=?, detected_at=? WHERE id=?",
                             (*values, rid))
                result.kept += 1
            else:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO anomalies(day, last_day, scope, kind, expected_nanos, actual_nanos, "
                    "impact_nanos, score, contributors, detected_at, dimension, dim_value, currency, first_seen, "
                    "status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                    (*values, f.dimension, f.dim_value, f.currency, now_s))
                if cur.rowcount == 1 and cur.lastrowid:
                    matched.add(int(cur.lastrowid))
                    result.inserted += 1
        for r in rows:
            if r[0] not in matched and r[6] == "open":
                conn.execute("DELETE FROM anomalies WHERE id=?", (r[0],))
                result.removed += 1
        result.open_count = int(conn.execute("SELECT count(*) FROM anomalies WHERE status='open'").fetchone()[0])
        store.set_meta(LAST_RUN_KEY, json.dumps({"at": now_s, "found": result.found, "series": result.series}))
    return result


def never_computed(conn: sqlite3.Connection) -> bool:
    """Cost data but no anomaly detection run yet (a cache written before costdeck had one)."""
    row = conn.execute("SELECT 1 FROM meta WHERE key=?", (LAST_RUN_KEY,)).fetchone()
    return row is None and q.data_range(conn) is not None


def _row(r: sqlite3.Row | tuple[Any, ...]) -> Anomaly:
    return Anomaly(
        id=int(r[0]), start=date.fromisoformat(r[1]), end=date.fromisoformat(r[2]), dimension=r[3], dim_value=r[4],
        scope=json.loads(r[5] or "{}"), currency=r[6], kind=r[7], expected=int(r[8]), actual=int(r[9]),
        impact=int(r[10]), score=float(r[11]), contributors=json.loads(r[12] or "[]"),
        first_seen=timeutil.parse_instant(r[13]), detected_at=timeutil.parse_instant(r[14]), status=r[15],
        status_reason=r[16])


_COLS = ("id, day, last_day, dimension, dim_value, scope, currency, kind, expected_nanos, actual_nanos, "
         "impact_nanos, score, contributors, first_seen, detected_at, status, status_reason")


def load(conn: sqlite3.Connection, statuses: Sequence[str] | None = None) -> list[Anomaly]:
    """Stored anomalies, newest last day first, then the largest impact."""
    where, params = "", ()  # type: tuple[str, tuple[str, ...]]
    if statuses:
        where = f"WHERE status IN ({', '.join('?' for _ in statuses)})"
        params = tuple(statuses)
    try:
        rows = conn.execute(f"SELECT {_COLS} FROM anomalies {where} ORDER BY last_day DESC, abs(impact_nanos) DESC, "
                            "id", params).fetchall()
    except sqlite3.OperationalError:
        return []  # a cache written before the table existed (read-only, not migrated)
    return [_row(r) for r in rows]


def set_status(conn: sqlite3.Connection, ids: Sequence[int], status: str, *, reason: str | None = None,
               at: datetime | None = None) -> int:
    """Acknowledge, dismiss (with a reason) or reopen anomalies. Returns rows changed."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    id_list = [int(i) for i in ids]
    if not id_list:
        return 0
    marks = ", ".join("?" for _ in id_list)
    return conn.execute(f"UPDATE anomalies SET status=?, status_reason=?, status_at=? WHERE id IN ({marks})",
                        (status, reason if status != "open" else None,
                         timeutil.iso(at or timeutil.now()) if status != "open" else None, *id_list)).rowcount


def open_count(conn: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    """(open anomalies, {currency: summed impact of the open ones})."""
    impact: dict[str, int] = {}
    n = 0
    try:
        rows = conn.execute("SELECT currency, count(*), sum(impact_nanos) FROM anomalies WHERE status='open' "
                            "GROUP BY currency").fetchall()
    except sqlite3.OperationalError:
        return 0, {}
    for cur, c, s in rows:
        n += int(c)
        impact[cur] = int(s or 0)
    return n, impact


def series_for(conn: sqlite3.Connection, a: Anomaly, p: Params | None = None,
               before: int = 42, after: int = 7) -> tuple[list[date], list[float], SeriesResult]:
    """The daily series of an anomaly's scope around it, with the detector's expectation and flags
    (for the chart): `before` days before its start and up to `after` days after its end."""
    p = p or Params()
    span = q.data_range(conn)
    end = min(a.end + timedelta(days=after), span[1]) if span else a.end
    show_since = a.start - timedelta(days=before)
    since = show_since - timedelta(days=p.weeks * 7)
    if span:
        since = max(since, span[0])
    until = end + timedelta(days=1)
    days = _days(since, until)
    filters: dict[str, str | None] = {**a.scope, "billing_currency": a.currency}
    pts = q.spend_series(conn, None, since, until, filters=filters).get(None, {})
    values = _series_of(pts, days)
    res = detect(values, days, p, 0)
    k = max(0, days.index(show_since) if show_since in days else 0)
    return days[k:], values[k:], SeriesResult(res.expected[k:], res.sd[k:], res.z[k:], res.flags[k:])


__all__ = ["KINDS", "KIND_TITLES", "STATUSES", "Anomaly", "Found", "Params", "RecomputeResult", "SeriesResult",
           "contributors", "detect", "episodes", "find", "load", "never_computed", "open_count", "optscale_rule",
           "recompute",
           "series_for", "set_status"]
