"""Benchmark: costdeck's anomaly detector against OptScale's rule, and the forecast backtest.

Generates N labelled daily cost series (default 600, seeded): a level drawn from $150 to $20,000 a
day, weekly seasonality (weekends down 0-70 %, or a busy Monday), a trend (-0.2 % to +0.5 % a day),
multiplicative noise (2-15 %), month-start charges on a third of them, and 0 to 3 injected
anomalies with known days in the last 90 days: spikes (1-3 days, x1.8-x4), level shifts (x1.5-x2.5
until the end or for 10-30 days) and drops (spend falls to 0-40 % for 3 days or more). Every
injected anomaly moves at least $50 a day (the detector's default minimum impact).

Scoring is by event, on the last 90 days of each series:
- an injected anomaly is FOUND when a flagged day falls in its first 7 days (recall);
- a flagged episode (consecutive flagged days, gaps of up to 2 days bridged) is RIGHT when it
  overlaps an injected anomaly's days (+2 days after it), else a false alarm (precision).
OptScale's rule: a day is anomalous when it exceeds the mean of the previous 7 days by 30 %.

The forecast backtest: the month-end forecast made on day 7, 14 and 21 of every complete month
(with 4 weeks of history before it) against the month's actual, on the same series and on the
FOCUS sample in tests/data (one month of a 1,000-row sample: the forecast on day 7/14/21 uses that
month's days only).

    .venv/bin/python benchmarks/bench_anomalies.py
    .venv/bin/python benchmarks/bench_anomalies.py --series 500 --seed 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from analysis import anomalies as an  # noqa: E402
from analysis.forecast import BacktestPoint, backtest  # noqa: E402
from cache import Store  # noqa: E402
from cache import queries as q  # noqa: E402
from cache.money import NANOS  # noqa: E402

DAYS = 180
EVAL = 90  # scored on the last 90 days
START = date(2025, 1, 1)
FOCUS_SAMPLE = REPO / "tests" / "data" / "focus-sample-1.0-1000rows.csv"


@dataclass(slots=True)
class Event:
    kind: str
    start: int
    end: int  # inclusive


def generate(rng: random.Random) -> tuple[list[float], list[Event]]:
    base = math_exp(rng.uniform(5.0, 9.9))  # ~$150 .. $20,000 a day
    weekend = rng.choice([0.0, rng.uniform(0.1, 0.7), rng.uniform(0.1, 0.7)])
    monday = rng.uniform(0.0, 0.3) if rng.random() < 0.2 else 0.0
    trend = rng.uniform(-0.002, 0.005)
    noise = rng.uniform(0.02, 0.15)
    monthly = rng.uniform(0.5, 3.0) * base if rng.random() < 0.33 else 0.0
    days = [START + timedelta(days=i) for i in range(DAYS)]
    clean = []
    for i, d in enumerate(days):
        v = base * (1 + trend) ** i
        v *= (1 - weekend) if d.weekday() >= 5 else (1 + monday) if d.weekday() == 0 else 1.0
        v *= max(0.0, 1 + rng.gauss(0, noise))
        clean.append(v)
    vals = list(clean)
    events: list[Event] = []
    used: set[int] = set()
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        kind = rng.choice(["spike", "spike", "level_shift", "drop"])
        start = rng.randint(DAYS - EVAL, DAYS - 4)
        if kind == "spike":
            end = start + rng.randint(1, 3) - 1
            factor = rng.uniform(1.8, 4.0)
        elif kind == "level_shift":
            end = DAYS - 1 if rng.random() < 0.5 else min(DAYS - 1, start + rng.randint(10, 30))
            factor = rng.uniform(1.5, 2.5)
        else:
            end = min(DAYS - 1, start + rng.randint(3, 20))
            factor = rng.uniform(0.0, 0.4)
        span = set(range(start - 7, end + 8))
        if span & used:
            continue
        level = statistics.median(clean[max(0, start - 28):start])
        if abs(factor - 1) * level < 50:  # under the minimum impact: not an anomaly, not injected
            continue
        used |= span
        for i in range(start, end + 1):
            vals[i] = clean[i] * factor
        events.append(Event(kind, start, end))
    if monthly:
        for i, d in enumerate(days):
            if d.day == 1:
                vals[i] += monthly
    return vals, events


def math_exp(x: float) -> float:
    import math

    return math.exp(x)


def episodes_of(flags: list[int], first: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in range(first, len(flags)):
        if not flags[i]:
            continue
        if out and i - out[-1][1] <= 3:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


@dataclass(slots=True)
class Score:
    episodes: int = 0
    right: int = 0
    events: int = 0
    found: int = 0

    def add(self, flags: list[int], events: list[Event], first: int, found_by_kind: dict[str, list[int]]) -> None:
        eps = episodes_of(flags, first)
        self.episodes += len(eps)
        self.right += sum(1 for s, e in eps if any(s <= ev.end + 2 and ev.start <= e for ev in events))
        for ev in events:
            hit = any(flags[i] for i in range(ev.start, min(len(flags), ev.start + 7)))
            self.events += 1
            self.found += hit
            found_by_kind.setdefault(ev.kind, [0, 0])
            found_by_kind[ev.kind][0] += hit
            found_by_kind[ev.kind][1] += 1

    @property
    def precision(self) -> float:
        return self.right / self.episodes if self.episodes else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.events if self.events else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def summarize(points: list[BacktestPoint]) -> list[str]:
    rows = []
    for k in (7, 14, 21):
        pts = [p for p in points if p.day == k]
        if not pts:
            continue
        errs = sorted(abs(p.error) for p in pts)
        p90 = errs[min(len(errs) - 1, int(0.9 * len(errs)))]
        held = sum(p.held for p in pts) / len(pts)
        rows.append(f"| day {k} | {len(pts)} | {statistics.median(errs):.1%} | {p90:.1%} | "
                    f"{statistics.mean(p.error for p in pts):+.1%} | {held:.0%} |")
    return rows


def focus_backtest() -> list[BacktestPoint]:
    from providers.focus import import_files

    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "f.db") as store:
            import_files(store, [FOCUS_SAMPLE], source_name="focus-sample")
            span = q.data_range(store.conn)
            assert span is not None
            pts = q.spend_series(store.conn, None, span[0], span[1] + timedelta(days=1),
                                 filters={"billing_currency": "USD"}).get(None, {})
    daily = {date.fromisoformat(d): v for d, v in pts.items()}
    d = min(daily)
    while d <= max(daily):
        daily.setdefault(d, 0)
        d += timedelta(days=1)
    return backtest(daily, min_history=7)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    days = [START + timedelta(days=i) for i in range(DAYS)]
    first = DAYS - EVAL
    ours, rule = Score(), Score()
    kinds_ours: dict[str, list[int]] = {}
    kinds_rule: dict[str, list[int]] = {}
    fc_points: list[BacktestPoint] = []
    t_ours = t_rule = 0.0
    params = an.Params(lookback_days=EVAL)
    for _ in range(args.series):
        vals, events = generate(rng)
        t0 = time.perf_counter()
        res = an.detect(vals, days, params, first)
        t1 = time.perf_counter()
        flags_rule = an.optscale_rule(vals, first)
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_rule += t2 - t1
        ours.add(res.flags, events, first, kinds_ours)
        rule.add(flags_rule, events, first, kinds_rule)
        fc_points.extend(backtest({d: int(v * NANOS) for d, v in zip(days, vals, strict=True)}))
    print(f"{args.series} series x {DAYS} days, scored on the last {EVAL}: {ours.events} injected anomalies "
          f"(seed {args.seed})\n")
    print("| detector | flagged episodes | precision | recall | F1 | spikes found | level shifts found | "
          "drops found | time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s, k, t in (("costdeck (robust weekday baseline)", ours, kinds_ours, t_ours),
                          ("OptScale rule (> 1.3 x mean of previous 7 days)", rule, kinds_rule, t_rule)):
        by_kind = " | ".join(f"{k.get(x, [0, 0])[0]}/{k.get(x, [0, 0])[1]}" for x in ("spike", "level_shift", "drop"))
        print(f"| {name} | {s.episodes} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {by_kind} | "
              f"{t * 1000:.0f} ms |")
    print(f"\nF1 ratio costdeck / OptScale rule: {ours.f1 / rule.f1 if rule.f1 else float('inf'):.2f}\n")
    print("Forecast backtest, generated series (month-end forecast made on day N vs the actual month):\n")
    print("| made on | forecasts | median abs error | P90 abs error | mean error (bias) | actual inside P10-P90 |")
    print("|---|---|---|---|---|---|")
    print("\n".join(summarize(fc_points)))
    print("\nForecast backtest, FOCUS sample (tests/data, September 2024, 1,000 rows):\n")
    print("| made on | forecasts | median abs error | P90 abs error | mean error (bias) | actual inside P10-P90 |")
    print("|---|---|---|---|---|---|")
    focus = focus_backtest()
    print("\n".join(summarize(focus)))
    for p in focus:
        print(f"  day {p.day}: forecast ${p.forecast / NANOS:,.2f} (P10 ${p.p10 / NANOS:,.2f} - P90 "
              f"${p.p90 / NANOS:,.2f}), actual ${p.actual / NANOS:,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
