"""Commitments for ML teams: how much of each ML task's (and each ML instance family's) executor
hours ran covered by Reserved Instances or Savings Plans, how much on demand, and what a commitment
sized to the ML baseline would save.

* Hours: each executor's instance-hours (seconds costed x instances) of the runs that started in
  the last `window_days` (30) before the cache's reference time.
* Covered share: from the billed cost rows of the executor's resource on the run's days: the
  billed cost carrying a commitment (commitment_discount_id) or PricingCategory "Committed",
  over all its billed cost. An executor without billed rows (costed at price x duration, or
  unknown) has no evidence of coverage and counts as on demand ("no billing evidence" in the
  figures: a Savings Plan may cover it without the cache knowing).
* Serving: SageMaker endpoints, notebook instances and Studio apps in service (inventory) run around the
  clock: their instance-hours over the window (since they were created, at most the window) at
  the on-demand price count in the families too (and under the pseudo-task SERVING): they are
  usually the steady part of ML usage a SageMaker Savings Plan is sized to.
* Saving: the daily on-demand ML spend per (provider, region, instance family) over the window
  (each executor's on-demand cost spread over the days it ran), fed to the purchase math of
  analysis/purchase.py (`make_option`): the p10 baseline, the 1- and 3-year discount (prices table,
  else the assumed default), the monthly saving. ML usage is bursty: a p10 of zero means no
  commitment is worth buying, and says so.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cache import timeutil

from .clock import reference_time
from .commitments import family_of
from .mlruns import day_hours
from .purchase import PurchaseOption, load_prices, make_option

if TYPE_CHECKING:
    from .mlruns import RunCost

WINDOW_DAYS = 30
SERVING = "(serving: endpoints, notebooks, Studio apps)"
SERVING_TYPES = ("sagemaker_endpoint", "sagemaker_notebook", "sagemaker_studio_app")


@dataclass(slots=True)
class Coverage:
    key: str  # the task, or "provider/region/family"
    hours: float = 0.0
    covered_hours: float = 0.0
    no_evidence_hours: float = 0.0  # on demand for want of billed rows
    on_demand_cost: int = 0  # nanos
    currency: str = "USD"
    runs: int = 0
    option: PurchaseOption | None = None  # families only: the commitment sized to the ML baseline

    @property
    def on_demand_hours(self) -> float:
        return self.hours - self.covered_hours

    @property
    def covered_pct(self) -> float | None:
        return self.covered_hours * 100 / self.hours if self.hours > 0 else None


@dataclass(slots=True)
class MlCommitments:
    since: date
    until: date
    tasks: dict[str, Coverage] = field(default_factory=dict)
    families: dict[str, Coverage] = field(default_factory=dict)


def _covered_shares(conn: sqlite3.Connection, resource_ids: Sequence[str]) -> dict[tuple[str, str], Fraction]:
    """(resource, day) -> covered share of its billed cost that day (resources with billed rows only)."""
    out: dict[tuple[str, str], Fraction] = {}
    committed = conn.execute("SELECT id FROM dims WHERE kind='pricing_category' AND value='Committed'").fetchone()
    cid = committed[0] if committed else -1
    ids = list(dict.fromkeys(resource_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" for _ in chunk)
        for rid, day, total, cov in conn.execute(
            f"""SELECT d.value, c.day, sum(c.billed),
                       sum(CASE WHEN c.commitment IS NOT NULL OR c.pricing_category = ? THEN c.billed ELSE 0 END)
                FROM costs c JOIN dims d ON d.id = c.resource
                WHERE d.kind = 'resource' AND d.value IN ({marks}) GROUP BY d.value, c.day""", (cid, *chunk)):
            if total and total > 0:
                out[(rid, day)] = Fraction(int(cov or 0), int(total))
    return out


def ml_commitments(conn: sqlite3.Connection, runs: Sequence[RunCost], now: datetime | None = None,
                   window_days: int = WINDOW_DAYS) -> MlCommitments:
    now = now or reference_time(conn)
    until = now.date() + timedelta(days=1)
    since = until - timedelta(days=window_days)
    days = timeutil.days(since, until)
    day_idx = {d.isoformat(): i for i, d in enumerate(days)}
    recent = [r for r in runs if since.isoformat() <= r.start.date().isoformat() < until.isoformat()]
    shares = _covered_shares(conn, [e.resource_id for r in recent for e in r.executors if e.resource_id])
    prices, fams = load_prices(conn)
    out = MlCommitments(since, until)
    series: dict[tuple[str, str | None, str, str], list[int]] = {}
    by_type: dict[tuple[str, str | None, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in recent:
        task = out.tasks.setdefault(r.task, Coverage(r.task, currency=r.currency))
        task.runs += 1
        for e in r.executors:
            if e.start is None or e.seconds <= 0:
                continue
            end = e.start + timedelta(seconds=e.seconds)
            parts = day_hours(e.start, end)
            total_h = sum((h for _, h in parts), Fraction(0))
            inst_hours = e.seconds / 3600 * e.instance_count
            covered = Fraction(0)
            evidence = False
            for d, h in parts:
                sh = shares.get((e.resource_id or "", d.isoformat()))
                if sh is not None:
                    evidence = True
                    covered += sh * h
            cov_frac = covered / total_h if total_h else Fraction(0)
            prov = e.provider_name or "?"
            fam = family_of(e.instance_type, fams.get(prov)) or e.instance_type
            fkey = f"{prov}/{e.region_id or 'global'}/{fam}"
            fam_cov = out.families.setdefault(fkey, Coverage(fkey, currency=e.currency))
            for c in (task, fam_cov):
                c.hours += inst_hours
                c.covered_hours += float(inst_hours * cov_frac)
                if not evidence:
                    c.no_evidence_hours += inst_hours
            if e.cost is None:
                continue
            od_cost = int(e.cost * (1 - cov_frac))
            task.on_demand_cost += od_cost
            fam_cov.on_demand_cost += od_cost
            key = (prov, e.region_id, fam, e.currency)
            s = series.setdefault(key, [0] * len(days))
            for d, h in parts:
                if d.isoformat() in day_idx and total_h:
                    s[day_idx[d.isoformat()]] += int(od_cost * h / total_h)
            by_type[key][e.instance_type] += od_cost
    _serving(conn, out, now, since, days, day_idx, shares, prices, fams, series, by_type)
    for (prov, region, fam, cur), s in series.items():
        fkey = f"{prov}/{region or 'global'}/{fam}"
        out.families[fkey].option = make_option(prov, region, fam, cur, days, s, by_type[(prov, region, fam, cur)],
                                                prices)
    return out


def _serving(conn: sqlite3.Connection, out: MlCommitments, now: datetime, since: date, days: list[date],
             day_idx: dict[str, int], shares: dict[tuple[str, str], Fraction], prices: Any, fams: Any,
             series: dict[tuple[str, str | None, str, str], list[int]],
             by_type: dict[tuple[str, str | None, str, str], dict[str, int]]) -> None:
    import json

    rows = conn.execute(
        f"SELECT provider_name, resource_id, region_id, instance_type, created_at, properties FROM resources "
        f"WHERE resource_type IN ({','.join('?' for _ in SERVING_TYPES)}) AND lower(state) = 'inservice' "
        "AND instance_type IS NOT NULL", SERVING_TYPES).fetchall()
    shares.update(_covered_shares(conn, [r[1] for r in rows]))
    start_of = datetime.combine(since, datetime.min.time(), tzinfo=now.tzinfo)
    for prov, rid, region, itype, created, props in rows:
        try:
            count = int((json.loads(props or "{}") or {}).get("instance_count") or 1)
        except (ValueError, TypeError):
            count = 1
        price = prices.get((prov, region or "", itype), {}).get("on-demand")
        begin = max(start_of, timeutil.parse_instant_opt(created) or start_of)
        if begin >= now:
            continue
        fam = family_of(itype, fams.get(prov)) or itype
        fkey = f"{prov}/{region or 'global'}/{fam}"
        cur = "USD"
        task = out.tasks.setdefault(SERVING, Coverage(SERVING, currency=cur))
        fam_cov = out.families.setdefault(fkey, Coverage(fkey, currency=cur))
        task.runs += 1
        key = (prov, region, fam, cur)
        s = series.setdefault(key, [0] * len(days))
        for d, h in day_hours(begin, now):
            inst_h = float(h) * count
            sh = shares.get((rid, d.isoformat()))
            cov = float(sh) if sh is not None else 0.0
            for c in (task, fam_cov):
                c.hours += inst_h
                c.covered_hours += inst_h * cov
                if sh is None:
                    c.no_evidence_hours += inst_h
            if price and d.isoformat() in day_idx:
                od = int(price * inst_h * (1 - cov))
                s[day_idx[d.isoformat()]] += od
                by_type[key][itype] += od
                task.on_demand_cost += od
                fam_cov.on_demand_cost += od


__all__ = ["SERVING", "WINDOW_DAYS", "Coverage", "MlCommitments", "ml_commitments"]
