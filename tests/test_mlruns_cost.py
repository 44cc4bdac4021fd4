"""Run cost attribution (analysis/mlruns.py) on small hand-computed caches, and `report ml-runs`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analysis import mlruns
from cache import CostRow, Store
from cache.money import to_nanos
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs
from tui.cli import main

NOW = "2026-03-10T12:00:00+00:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def price(provider: str, region: str, sku: str, usd: str) -> dict[str, object]:
    return {"provider_name": provider, "region_id": region, "sku": sku, "pricing_model": "on-demand", "unit": "Hrs",
            "price_nanos": to_nanos(usd), "currency": "USD", "source": "test", "fetched_at": NOW}


def cost(day: date, resource: str, usd: str, qty: float | None = None) -> CostRow:
    return CostRow(day=day, provider_name="AWS", service_name="Amazon EC2", region_id="us-east-1",
                   resource_id=resource, resource_type="instance", billed_cost=to_nanos(usd),
                   effective_cost=to_nanos(usd), list_cost=to_nanos(usd), pricing_quantity=qty)


@pytest.fixture
def store(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    s = Store(db_path)
    s.upsert("prices", [price("AWS", "us-east-1", "p3.2xlarge", "3.06"), price("AWS", "eu-west-1", "p3.2xlarge", "3.305"),
                        price("AWS", "us-east-1", "m5.large", "0.096")],
             pk=("provider_name", "region_id", "sku", "pricing_model"))
    yield s
    s.close()


def add_runs(store: Store, *runs: RunRecord) -> None:
    with store.transaction():
        sid = store.ensure_source("test", "runs")
        write_runs(store, sid, list(runs), in_transaction=True)


def run(run_id: str, start: str, end: str | None, *execs: ExecutorRecord, task: str = "t", status: str = "completed",
        metric: str | None = None, value: float | None = None) -> RunRecord:
    return RunRecord(run_id=run_id, task=task, status=status, start_at=at(start), end_at=at(end) if end else None,
                     name=run_id, executors=list(execs), primary_metric=metric, primary_value=value)


def one(store: Store, run_id: str) -> mlruns.RunCost:
    (r,) = mlruns.load_runs(store.conn, run_ids=[run_id])
    return r


def test_price_x_duration_exact_and_billable_seconds(store: Store) -> None:
    add_runs(
        store,
        run("a", "2026-03-01T10:00:00", "2026-03-01T12:00:00",
            ExecutorRecord("p3.2xlarge", 2, "AWS", "us-east-1")),
        # billable_seconds (SageMaker: wall-clock seconds per instance) wins over end - start
        run("b", "2026-03-01T10:00:00", "2026-03-01T12:00:00",
            ExecutorRecord("p3.2xlarge", 2, "AWS", "us-east-1", billable_seconds=1800)),
    )
    a = one(store, "a")
    assert a.cost == to_nanos("12.24")  # 3.06 x 2 instances x 2 h
    assert a.basis == mlruns.PRICED and a.executors[0].basis == mlruns.PRICED
    assert a.duration_s == 7200
    b = one(store, "b")
    assert b.cost == to_nanos("3.06")  # 3.06 x 2 x 0.5 h


def test_price_from_another_region_says_so(store: Store) -> None:
    add_runs(store, run("r", "2026-03-01T00:00:00", "2026-03-01T01:00:00",
                        ExecutorRecord("p3.2xlarge", 1, "AWS", "ap-south-1")))
    r = one(store, "r")
    assert r.cost == to_nanos("3.06")  # us-east-1 preferred over eu-west-1
    assert "us-east-1" in (r.executors[0].note or "") and "ap-south-1" in (r.executors[0].note or "")


def test_billed_cost_apportioned_24h_and_usage_hours(store: Store) -> None:
    d = date(2026, 3, 2)
    with store.transaction():
        sid = store.ensure_source("bill", "focus")
    store.replace_costs(sid, [cost(d, "i-allday", "24.00"), cost(d, "i-half", "12.00", qty=12.0)])
    add_runs(
        store,
        run("x", "2026-03-02T06:00:00", "2026-03-02T12:00:00",
            ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1", resource_id="i-allday")),
        run("y", "2026-03-02T06:00:00", "2026-03-02T12:00:00",
            ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1", resource_id="i-half")),
    )
    x = one(store, "x")
    assert x.basis == mlruns.BILLED
    assert x.cost == to_nanos("6.00")  # $24 x 6 h / 24 h (no usage quantity)
    y = one(store, "y")
    assert y.cost == to_nanos("6.00")  # $12 x 6 h / 12 h used that day (pricing_quantity)
    assert y.executors[0].billed_days == 1


def test_run_crossing_midnight_billed_and_priced(store: Store) -> None:
    with store.transaction():
        sid = store.ensure_source("bill", "focus")
    store.replace_costs(sid, [cost(date(2026, 3, 3), "i-night", "48.00"), cost(date(2026, 3, 4), "i-night", "24.00")])
    add_runs(
        store,
        run("night", "2026-03-03T22:00:00", "2026-03-04T04:00:00",
            ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1", resource_id="i-night")),
        run("night-p", "2026-03-03T22:30:00", "2026-03-04T01:30:00",
            ExecutorRecord("m5.large", 1, "AWS", "us-east-1")),
    )
    n = one(store, "night")
    # day 1: $48 x 2 h / 24 h = $4; day 2: $24 x 4 h / 24 h = $4
    assert n.cost == to_nanos("8.00") and n.basis == mlruns.BILLED
    assert n.executors[0].billed_days == 2
    assert mlruns.day_hours(at("2026-03-03T22:00:00"), at("2026-03-04T04:00:00")) == [
        (date(2026, 3, 3), 2), (date(2026, 3, 4), 4)]
    assert one(store, "night-p").cost == to_nanos("0.288")  # 3 h x $0.096


def test_several_executors_mixed_basis_and_unbilled_days(store: Store) -> None:
    with store.transaction():
        sid = store.ensure_source("bill", "focus")
    store.replace_costs(sid, [cost(date(2026, 3, 5), "i-lead", "24.00")])
    add_runs(store, run(
        "multi", "2026-03-05T12:00:00", "2026-03-06T06:00:00",
        ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1", resource_id="i-lead"),  # Mar 6 not billed yet: priced
        ExecutorRecord("m5.large", 4, "AWS", "us-east-1"),
    ))
    r = one(store, "multi")
    lead, workers = r.executors
    assert lead.basis == mlruns.MIXED and lead.billed_days == 1 and lead.priced_hours == 6
    assert lead.cost == to_nanos("12.00") + to_nanos("18.36")  # $24 x 12/24 + 6 h x $3.06
    assert workers.basis == mlruns.PRICED and workers.cost == to_nanos("6.912")  # 18 h x 4 x $0.096
    assert r.cost == to_nanos("37.272") and r.basis == mlruns.MIXED
    assert r.executors_label == "p3.2xlarge x1, m5.large x4"


def test_missing_price_is_unknown_with_reason_never_zero(store: Store, db_path: Path, capsys) -> None:
    add_runs(
        store,
        run("nop", "2026-03-01T10:00:00", "2026-03-01T11:00:00",
            ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1"), ExecutorRecord("zz9.huge", 1, "AWS", "us-east-1"),
            metric="loss", value=0.2),
        run("noexec", "2026-03-01T10:00:00", "2026-03-01T11:00:00", metric="loss", value=0.1),
        run("ok", "2026-03-01T10:00:00", "2026-03-01T11:00:00", ExecutorRecord("m5.large", 1, "AWS", "us-east-1"),
            metric="loss", value=0.3),
    )
    r = one(store, "nop")
    assert r.cost is None and r.basis == mlruns.UNKNOWN
    assert "zz9.huge" in (r.reason or "") and "no on-demand price" in (r.reason or "")
    assert r.executors[0].cost == to_nanos("3.06")  # the priced executor is still shown
    assert one(store, "noexec").cost is None and "no executor" in (one(store, "noexec").reason or "")
    (s,) = mlruns.summarize(mlruns.load_runs(store.conn))
    assert s.total_cost == to_nanos("0.096") and s.unknown_runs == 2
    assert s.metric == "loss" and s.direction == "min" and s.best_run_id == "noexec"
    assert s.best_cost is None  # the best run's cost is unknown: not zero
    store.close()
    assert main(["report", "ml-runs", "--db", str(db_path), "--format", "json"]) == 0
    rows = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["nop"]["cost"] is None and rows["nop"]["cost_basis"] == "unknown"
    assert "zz9.huge" in rows["nop"]["cost_reason"]
    assert rows["ok"]["cost"] == 0.096 and rows["ok"]["cost_basis"] == "price x duration"
    assert {"task", "run_id", "name", "status", "start", "duration_s", "cost", "cost_basis"} <= set(rows["ok"])
    assert rows["ok"]["duration_s"] == 3600.0 and rows["ok"]["start"] == "2026-03-01T10:00:00+00:00"


def test_running_run_costs_up_to_now(store: Store) -> None:
    add_runs(store, run("live", "2026-03-10T09:00:00", None, ExecutorRecord("p3.2xlarge", 1, "AWS", "us-east-1"),
                        status="running"))
    r = one(store, "live")  # now = 12:00: 3 h so far
    assert r.running and r.duration_s == 3 * 3600
    assert r.cost == to_nanos("9.18")


def test_leaderboard_and_direction(store: Store) -> None:
    add_runs(
        store,
        *[run(f"acc{i}", f"2026-03-0{i}T10:00:00", f"2026-03-0{i}T1{i}:00:00",
              ExecutorRecord("m5.large", 1, "AWS", "us-east-1"), task="cls", metric="val_accuracy", value=v)
          for i, v in ((1, 0.8), (2, 0.9), (3, 0.85))],
        run("x1", "2026-03-01T10:00:00", "2026-03-01T11:00:00", ExecutorRecord("m5.large", 1, "AWS", "us-east-1"),
            task="reg", metric="rmse", value=3.0),
        run("x2", "2026-03-02T10:00:00", "2026-03-02T11:00:00", ExecutorRecord("m5.large", 1, "AWS", "us-east-1"),
            task="reg", metric="rmse", value=2.0),
    )
    runs = mlruns.load_runs(store.conn)
    board = mlruns.leaderboard([r for r in runs if r.task == "cls"])
    assert [(b.rank, b.run.run_id) for b in board] == [(1, "acc2"), (2, "acc3"), (3, "acc1")]
    assert board[0].run.cost == to_nanos("0.192")  # 2 h x $0.096
    by = {s.task: s for s in mlruns.summarize(runs)}
    assert by["reg"].direction == "min" and by["reg"].best_run_id == "x2"
    assert by["cls"].days == 3 and by["cls"].cost_per_day == (to_nanos("0.096") * 6) // 3
    assert mlruns.metric_direction("neg_mape") == "max" and mlruns.metric_direction("val_loss") == "min"
    assert mlruns.metric_direction("ndcg_at_10") == "max" and mlruns.metric_direction("word_error_rate") == "min"
    # a task overrides the direction with a param
    store.conn.execute("INSERT INTO ml_run_params(run_id, key, value) VALUES ('acc1', 'costdeck.metric_direction', 'min')")
    by = {s.task: s for s in mlruns.summarize(runs, mlruns.direction_overrides(store.conn))}
    assert by["cls"].direction == "min" and by["cls"].best_run_id == "acc1"


def test_report_unknown_task_is_usage_error(store: Store, db_path: Path, capsys) -> None:
    add_runs(store, run("a", "2026-03-01T10:00:00", "2026-03-01T11:00:00", task="known"))
    store.close()
    assert main(["report", "ml-runs", "--db", str(db_path), "--task", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no runs for task 'nope'" in err[0] and "known" in err[0]
