"""Cost per outcome (cost to reach the best value, Pareto frontier, cheapest good run, weekly spend
and task budgets) and commitments for ML (covered vs on-demand hours, the ML baseline's saving),
on hand-made caches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analysis import mlprofile
from analysis.mlcommit import SERVING, ml_commitments
from analysis.mlruns import load_runs
from cache import CostRow, Store, timeutil
from cache.money import to_nanos
from providers.config import ConfigError, parse_config
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "o.db")
    s.ensure_source("t", "test")
    s.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": sku, "pricing_model": "on-demand",
                         "price_nanos": to_nanos(usd), "family": fam, "source": "t", "fetched_at": timeutil.iso(NOW)}
                        for sku, usd, fam in (("ml.g5.2xlarge", "1.50", "ml.g5"), ("p3.2xlarge", "3.00", "p3"),
                                              ("ml.m5.xlarge", "0.25", "ml.m5"))],
             pk=("provider_name", "region_id", "sku", "pricing_model"))
    return s


def run(store: Store, rid: str, hours: float, value: float | None, *, days_ago: float = 3, task: str = "t",
        itype: str = "ml.g5.2xlarge", resource: str | None = None, status: str = "completed") -> None:
    start = NOW - days_ago * DAY
    end = start + timedelta(hours=hours)
    rec = RunRecord(run_id=rid, task=task, status=status, start_at=start, end_at=end,
                    primary_metric="acc" if value is not None else None, primary_value=value,
                    executors=[ExecutorRecord(instance_type=itype, provider_name="AWS", region_id="us-east-1",
                                              resource_id=resource, start_at=start, end_at=end)])
    write_runs(store, 1, [rec])


def test_pareto_frontier_cheapest_good_run_and_cost_to_best(store: Store) -> None:
    # cost = 1.50/h x hours: a $3 run at 0.801, a $4.5 run at 0.78 (dominated), a $6 run at 0.804,
    # a $7.5 run at 0.809 (best); a $12 run that started after the best ended does not count
    run(store, "a", 2, 0.801, days_ago=5)
    run(store, "b", 3, 0.78, days_ago=4)
    run(store, "c", 4, 0.804, days_ago=3)
    run(store, "d", 5, 0.809, days_ago=2)
    run(store, "e", 8, 0.79, days_ago=1)
    runs = load_runs(store.conn, now=NOW)
    o = mlprofile.outcome(runs, "acc", "max")
    assert o.best_run_id == "d" and o.best_value == 0.809
    assert o.frontier == ["a", "c", "d"]
    assert o.cheapest_good_run_id == "a"  # 0.801 is within 1% of 0.809
    assert o.cost_to_best == to_nanos("1.50") * (2 + 3 + 4 + 5)
    assert mlprofile.outcome(runs, "acc", "max", good_within=0.007).cheapest_good_run_id == "c"
    assert mlprofile.outcome(runs, "acc", "max", good_within=0.001).cheapest_good_run_id == "d"
    # lower is better: the frontier runs the other way
    assert mlprofile.pareto([("x", 1, 0.5), ("y", 2, 0.4), ("z", 3, 0.45)], "min") == ["x", "y"]


def test_weekly_spend_and_task_budgets(store: Store) -> None:
    run(store, "a", 2, 0.8, days_ago=1)  # Monday 2026-06-29
    run(store, "b", 4, 0.8, days_ago=3)  # Saturday 2026-06-27
    runs = load_runs(store.conn, now=NOW)
    assert mlprofile.weekly_spend(runs) == {date(2026, 6, 22): to_nanos("6"), date(2026, 6, 29): to_nanos("3")}
    cfg = parse_config({"budgets": {"llm": {"amount": 1000, "filter": {"task": "t"}},
                                    "both": {"amount": 50, "period": "month", "filter": {"task": ["t", "u"]}},
                                    "team": {"amount": 99, "filter": {"task": "t", "tag:team": "ml"}},
                                    "all": {"amount": 5000}}})
    budgets = mlprofile.task_budgets(cfg.budgets.values())
    assert sorted(b.name for b in budgets["t"]) == ["both", "llm"]  # a budget filtering on more is not a task's
    llm = next(b for b in budgets["t"] if b.name == "llm")
    assert llm.weekly_nanos == round(to_nanos("1000") * 7 * 12 / 365.25)
    with pytest.raises(ConfigError):
        parse_config({"budgets": {"x": {"amount": 1, "filter": {"tasks": "t"}}}})


def test_ml_commitments_covered_on_demand_and_serving_baseline(store: Store) -> None:
    # run r1 on p3 instance i-1 whose billed cost is half covered by a Savings Plan on its days
    days = [date(2026, 6, 26), date(2026, 6, 27)]
    rows = []
    for d in days:
        rows.append(CostRow(day=d, provider_name="AWS", sub_account_id="1", service_name="Amazon EC2",
                            region_id="us-east-1", resource_id="i-1", billed_cost=to_nanos("36"),
                            effective_cost=to_nanos("36"), list_cost=to_nanos("72"), pricing_category="Committed",
                            commitment_discount_id="sp-1", commitment_discount_type="Savings Plan"))
        rows.append(CostRow(day=d, provider_name="AWS", sub_account_id="1", service_name="Amazon EC2",
                            region_id="us-east-1", resource_id="i-1", billed_cost=to_nanos("36"),
                            effective_cost=to_nanos("36"), list_cost=to_nanos("36"), pricing_category="Standard"))
    store.replace_costs(1, rows, window=(date(2026, 6, 1), date(2026, 7, 1)))
    run(store, "r1", 10, 0.9, itype="p3.2xlarge", resource="i-1", task="rec", days_ago=4)
    run(store, "r2", 6, 0.9, task="llm", days_ago=2)  # priced: no billing evidence
    store.upsert("resources", [{"source_id": 1, "provider_name": "AWS", "resource_id": "arn:ep/x",
                                "resource_name": "x", "resource_type": "sagemaker_endpoint", "region_id": "us-east-1",
                                "state": "InService", "instance_type": "ml.m5.xlarge",
                                "created_at": timeutil.iso(NOW - 90 * DAY), "first_seen": timeutil.iso(NOW - 90 * DAY),
                                "last_seen": timeutil.iso(NOW), "tags": {}, "properties": {"instance_count": 2}}],
                 pk=("provider_name", "resource_id"))
    m = ml_commitments(store.conn, load_runs(store.conn, now=NOW), NOW)
    rec = m.tasks["rec"]
    assert rec.hours == pytest.approx(10) and rec.covered_hours == pytest.approx(5)
    assert rec.no_evidence_hours == 0
    llm = m.tasks["llm"]
    assert llm.hours == pytest.approx(6) and llm.covered_hours == 0 and llm.no_evidence_hours == pytest.approx(6)
    assert llm.on_demand_cost == to_nanos("9")
    serving = m.tasks[SERVING]
    assert serving.hours == pytest.approx(2 * (29 * 24 + 12))  # 06-01 00:00 (30 days to 07-01) until NOW
    fam = m.families["AWS/us-east-1/ml.m5"]
    assert fam.option is not None
    assert fam.option.baseline_hourly == to_nanos("0.5")  # two instances at $0.25/h, all day, every full day
    assert fam.option.terms[1].monthly_saving == round(to_nanos("0.5") * 0.27 * 730)
    assert m.families["AWS/us-east-1/ml.g5"].option is None  # one 6-hour run: no steady baseline
