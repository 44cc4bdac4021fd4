"""The ML waste rules on hand-made data, each firing and not firing at its threshold:
ml_underutilized_executor, ml_spot_training, ml_idle_endpoint, ml_idle_notebook, ml_failed_runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.recommendations import load
from analysis.recommendations.engine import recompute
from cache import Store, timeutil
from cache.money import to_nanos
from providers.config import Config
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
H = timedelta(hours=1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "ml.db")
    s.ensure_source("t", "test")
    for sku, usd, vcpu in (("ml.g5.12xlarge", "7.09", 48), ("ml.g5.2xlarge", "1.515", 8),
                           ("ml.g5.xlarge", "1.41", 4), ("ml.m5.xlarge", "0.23", 4), ("ml.m5.4xlarge", "0.922", 16),
                           ("ml.m5.2xlarge", "0.461", 8), ("ml.t3.medium", "0.05", 2)):
        s.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": sku, "pricing_model": "on-demand",
                             "unit": "Hrs", "price_nanos": to_nanos(usd), "currency": "USD", "vcpu": vcpu,
                             "memory_gib": None, "family": None, "generation": "current", "source": "test",
                             "fetched_at": timeutil.iso(NOW)}], pk=("provider_name", "region_id", "sku", "pricing_model"))
    return s


def add_run(store: Store, rid: str, task: str, *, itype: str = "ml.g5.12xlarge", hours: float = 2.0,
            status: str = "completed", days_ago: float = 3, gpu: float | None = None, cpu: float | None = None,
            props: dict[str, Any] | None = None, steps: int | None = None) -> None:
    start = NOW - days_ago * DAY
    end = start + hours * H
    rec = RunRecord(run_id=rid, task=task, status=status, start_at=start, end_at=end, host="algo-1",
                    properties={"platform": "sagemaker", **(props or {})},
                    executors=[ExecutorRecord(instance_type=itype, provider_name="AWS", region_id="us-east-1",
                                              start_at=start, end_at=end)])
    for metric, v in (("gpu", gpu), ("cpu", cpu)):
        if v is not None:
            rec.profile += [("algo-1", metric, start + i * 10 * timedelta(minutes=1), v if i % 5 else v - 1,
                             4 if metric == "gpu" else None) for i in range(20)]
    if steps is not None:
        rec.metrics = [("loss", s, None, 1.0 / (s + 1)) for s in range(steps + 1)]
    write_runs(store, 1, [rec])


def rules(store: Store, **cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    recompute(store, Config(rules=cfg), NOW)
    out: dict[str, dict[str, Any]] = {}
    for r in load(store.conn, statuses=None):
        if r.rule.startswith("ml_"):
            out.setdefault(r.rule, {})[r.resource_id] = r
    return out


# -- ml_underutilized_executor -------------------------------------------------------------------


@pytest.mark.parametrize(("gpu", "fires"), [(19.9, True), (20.0, False)])
def test_underutilized_gpu_edge_fewer_gpus_and_saving(store: Store, gpu: float, fires: bool) -> None:
    for i in range(3):
        add_run(store, f"r{i}", "bert", gpu=gpu, hours=2)
    got = rules(store, ml_underutilized_executor={"max_gpu_p95": 20}).get("ml_underutilized_executor", {})
    assert ("ml-task:bert" in got) is fires
    if fires:
        rec = got["ml-task:bert"]
        # 4 GPUs at p95 19.9% need 4 x 19.9 / 80 = 1 GPU: the dearest one-GPU size, ml.g5.2xlarge
        assert (rec.detail["instance_type"], rec.detail["target_type"]) == ("ml.g5.12xlarge", "ml.g5.2xlarge")
        assert rec.detail["profiled_runs"] == 3 and rec.detail["metric"] == "gpu"
        assert rec.detail["saving_per_run"] == "$11.15"  # (7.09 - 1.515) x 2 h
        assert "1 GPU) instead of 4 GPU" in rec.detail["summary"]


def test_underutilized_without_a_smaller_size_that_fits_is_skipped(store: Store) -> None:
    for i in range(3):
        add_run(store, f"r{i}", "bert", gpu=39.9)  # needs 2 GPUs: no 2- or 3-GPU g5 size
    res = recompute(store, Config(), NOW)
    assert "ml_underutilized_executor" not in rules(store)
    assert any(s.rule == "ml_underutilized_executor" and s.resource_id == "ml-task:bert"
               and "no cheaper size of the same series" in s.reason for s in res.skipped)


def test_underutilized_needs_min_runs_and_a_cheaper_size(store: Store) -> None:
    for i in range(2):
        add_run(store, f"r{i}", "bert", gpu=10)
    assert "ml_underutilized_executor" not in rules(store)  # 2 profiled runs, 3 needed
    assert "ml-task:bert" in rules(store, ml_underutilized_executor={"min_runs": 2})["ml_underutilized_executor"]


def test_underutilized_cpu_instance_saving_per_run_and_month(store: Store) -> None:
    for i in range(3):
        add_run(store, f"c{i}", "xgb", itype="ml.m5.4xlarge", cpu=20, hours=5)
    rec = rules(store)["ml_underutilized_executor"]["ml-task:xgb"]
    # 16 vCPU at p95 20% need 4 vCPU at 80%: the next size down is ml.m5.2xlarge (8 vCPU)
    assert rec.detail["target_type"] == "ml.m5.2xlarge" and rec.detail["metric"] == "cpu"
    assert rec.detail["saving_per_run"] == "$2.30"  # (0.922 - 0.461) x 5 h = 2.305, half to even
    assert rec.monthly_saving == round(to_nanos("0.461") * 5 * 3 * (730 / 24) / 30)
    add_run(store, "c3", "xgb", itype="ml.m5.4xlarge", cpu=35, hours=5)  # one busy run: not flagged
    assert "ml-task:xgb" not in rules(store).get("ml_underutilized_executor", {})


# -- ml_spot_training ------------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "fires"), [(4.0, True), (4.1, False)])
def test_spot_training_short_runs_edge(store: Store, hours: float, fires: bool) -> None:
    for i in range(2):
        add_run(store, f"s{i}", "llm", itype="ml.m5.xlarge", hours=hours)
    got = rules(store).get("ml_spot_training", {})
    assert ("ml-task:llm" in got) is fires
    if fires:
        rec = got["ml-task:llm"]
        cost = to_nanos("0.23") * 4 * 2
        assert rec.monthly_saving == round(cost * 0.6 * (730 / 24) / 30)
        assert rec.detail["spot_discount"] == "assumed 60% spot discount"
        assert "estimate" in rec.saving_basis


def test_spot_training_checkpointed_long_runs_and_already_spot(store: Store) -> None:
    for i in range(2):
        add_run(store, f"l{i}", "llm", itype="ml.m5.xlarge", hours=20, props={"checkpoint_s3": "s3://b/ck"})
    assert rules(store)["ml_spot_training"]["ml-task:llm"].detail["checkpointed_runs"] == 2
    store.conn.execute("UPDATE ml_runs SET properties = json_set(properties, '$.managed_spot', json('true'))")
    assert "ml_spot_training" not in rules(store)


def test_spot_training_uses_the_spot_price_when_known(store: Store) -> None:
    store.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": "ml.m5.xlarge",
                             "pricing_model": "spot", "unit": "Hrs", "price_nanos": to_nanos("0.069"),
                             "currency": "USD", "source": "t", "fetched_at": timeutil.iso(NOW)}],
                 pk=("provider_name", "region_id", "sku", "pricing_model"))
    for i in range(2):
        add_run(store, f"s{i}", "llm", itype="ml.m5.xlarge", hours=1)
    rec = rules(store)["ml_spot_training"]["ml-task:llm"]
    assert rec.detail["spot_discount"] == "spot vs on-demand price of ml.m5.xlarge in us-east-1"
    assert rec.monthly_saving == round(to_nanos("0.161") * 2 * (730 / 24) / 30)


# -- ml_idle_endpoint / ml_idle_notebook ------------------------------------------------------------


def add_res(store: Store, rid: str, rtype: str, itype: str, *, state: str = "InService", created_days: float = 60,
            **props: Any) -> None:
    store.upsert("resources", [{
        "source_id": 1, "provider_name": "AWS", "resource_id": rid, "resource_name": rid.rsplit("/", 1)[-1],
        "resource_type": rtype, "billing_account_id": "999", "sub_account_id": "111", "region_id": "us-east-1",
        "state": state, "attached_to": None, "size": None, "instance_type": itype, "lifecycle": None,
        "created_at": timeutil.iso(NOW - created_days * DAY), "first_seen": timeutil.iso(NOW - created_days * DAY),
        "last_seen": timeutil.iso(NOW), "tags": {}, "properties": props}], pk=("provider_name", "resource_id"))


def metric(store: Store, rid: str, name: str, values: dict[int, float]) -> None:
    """values: days ago -> the day's value."""
    store.upsert("metrics", [{"provider_name": "AWS", "resource_id": rid, "metric": name,
                              "ts": timeutil.iso(datetime(2026, 6, 30, tzinfo=UTC) - d * DAY), "period_s": 86400,
                              "average": v, "maximum": v, "p99": None} for d, v in values.items()],
                 pk=("provider_name", "resource_id", "metric", "ts"))


EP = "arn:aws:sagemaker:us-east-1:999:endpoint/churn"


@pytest.mark.parametrize(("last_day_ago", "fires"), [(7, False), (8, True), (None, True)])
def test_idle_endpoint_days_since_last_invocation(store: Store, last_day_ago: int | None, fires: bool) -> None:
    add_res(store, EP, "sagemaker_endpoint", "ml.m5.2xlarge", instance_count=2, endpoint_config_name="churn-cfg")
    if last_day_ago is not None:
        metric(store, EP, "invocations", {last_day_ago: 120, last_day_ago + 3: 40})
    got = rules(store).get("ml_idle_endpoint", {})
    assert (EP in got) is fires
    if fires:
        rec = got[EP]
        assert rec.monthly_saving == to_nanos("0.461") * 2 * 730  # price x 2 instances x 730 h
        assert rec.detail["action"] == "delete_endpoint" and rec.detail["endpoint_config"] == "churn-cfg"


def test_idle_endpoint_new_or_not_in_service(store: Store) -> None:
    add_res(store, EP, "sagemaker_endpoint", "ml.m5.2xlarge", created_days=6)
    add_res(store, EP + "2", "sagemaker_endpoint", "ml.m5.2xlarge", state="Updating")
    assert "ml_idle_endpoint" not in rules(store)
    assert EP in rules(store, ml_idle_endpoint={"min_days": 5})["ml_idle_endpoint"]


NB = "arn:aws:sagemaker:us-east-1:999:notebook-instance/alice"


@pytest.mark.parametrize(("cpu", "fires"), [(1.99, True), (2.0, False)])
def test_idle_notebook_cpu_edge(store: Store, cpu: float, fires: bool) -> None:
    add_res(store, NB, "sagemaker_notebook", "ml.t3.medium")
    metric(store, NB, "cpu", {0: 0.5, 1: cpu, 2: 0.4, 9: 60})
    got = rules(store).get("ml_idle_notebook", {})
    assert (NB in got) is fires
    if fires:
        assert got[NB].monthly_saving == to_nanos("0.05") * 730
        assert got[NB].detail["action"] == "stop_notebook"


def test_idle_notebook_needs_cpu_history(store: Store) -> None:
    add_res(store, NB, "sagemaker_notebook", "ml.t3.medium")
    metric(store, NB, "cpu", {0: 0.5, 1: 0.5})
    res = recompute(store, Config(), NOW)
    assert "ml_idle_notebook" not in rules(store)
    assert any(s.rule == "ml_idle_notebook" and "too little CPU history: 2 day(s)" in s.reason for s in res.skipped)


# -- ml_failed_runs ---------------------------------------------------------------------------------


def test_failed_runs_share_edge_and_failure_point(store: Store) -> None:
    # 4 completed runs of 2 h and 1 failed of 2 h: 20% -> not above the 20% threshold
    for i in range(4):
        add_run(store, f"ok{i}", "gan", itype="ml.g5.2xlarge", hours=2, steps=100)
    add_run(store, "bad0", "gan", itype="ml.g5.2xlarge", hours=2, status="failed", steps=37)
    assert "ml_failed_runs" not in rules(store, ml_failed_runs={"min_cost": 1})
    add_run(store, "bad1", "gan", itype="ml.g5.2xlarge", hours=1, status="stopped", steps=37,
            props={"failure_reason": "CUDA out of memory"})
    assert "ml_failed_runs" not in rules(store)  # $4.55 burnt: under the default min_cost of 10
    rec = rules(store, ml_failed_runs={"min_cost": 4.5})["ml_failed_runs"]["ml-task:gan"]
    assert rec.detail["failed_runs"] == 2 and rec.detail["failed_share_pct"] == pytest.approx(27.3, abs=0.05)
    assert rec.detail["commonest_failure_point"] == "step 37 (2 of 2 runs)"
    assert rec.detail["commonest_failure_reason"] == "CUDA out of memory"
    assert rec.monthly_saving == round(to_nanos("1.515") * 3 * (730 / 24) / 30)
    assert "ml_failed_runs" not in rules(store, ml_failed_runs={"min_cost": 5})  # $4.55 burnt < $5


def test_ml_thresholds_are_checked_one_line() -> None:
    from analysis.recommendations import RuleConfigError, rule_params

    for rules, message in (({"ml_idle_endpoint": {"min_days": 0}}, "rules.ml_idle_endpoint.min_days"),
                           ({"ml_spot_training": {"spot_discount_pct": 100}}, "rules.ml_spot_training.spot_discount_pct"),
                           ({"ml_failed_runs": {"max_share": 5}}, "rules.ml_failed_runs.max_share: unknown threshold")):
        with pytest.raises(RuleConfigError) as exc:
            rule_params(rules, "cfg.toml")
        assert message in str(exc.value) and "\n" not in str(exc.value)
    assert rule_params({"ml_underutilized_executor": {"max_gpu_p95": 25}})["ml_underutilized_executor"].max_gpu_p95 == 25
