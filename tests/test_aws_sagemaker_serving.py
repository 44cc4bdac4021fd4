"""SageMaker endpoints, endpoint configurations and notebook instances, their CloudWatch metrics
(Invocations, notebook CPU) and the training jobs' per-host profiles, against moto on 127.0.0.1
(moto answers every call used here: ListEndpoints, DescribeEndpoint, DescribeEndpointConfig,
ListNotebookInstances, DescribeNotebookInstance, ListTags, DeleteEndpoint, StopNotebookInstance,
PutMetricData, GetMetricData). Then the idle rules on what was synced, and the cleanup of the idle
endpoint (its configuration and model kept) and notebook, through the counting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from analysis.cleanup import build_plan, execute_plan, executor_for, export_script
from analysis.recommendations import load
from analysis.recommendations.engine import recompute
from cache import Store, timeutil
from cache.money import to_nanos
from providers.aws import ml, ml_serving
from providers.config import parse_config
from tests.moto_server import FaultProxy, aws_env, aws_env_module, make_ctx, moto_url, reset_moto  # noqa: F401

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sm"


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", timeutil.iso(NOW))


@pytest.fixture(scope="module")
def world(moto_url: str, aws_env_module: None) -> dict[str, Any]:  # noqa: F811
    reset_moto(moto_url)
    sm = boto3.client("sagemaker", endpoint_url=moto_url, region_name=REGION)
    cw = boto3.client("cloudwatch", endpoint_url=moto_url, region_name=REGION)
    for name in ("churn-model", "fraud-model"):
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/serve:1"})
    sm.create_endpoint_config(EndpointConfigName="churn-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "churn-model", "InitialInstanceCount": 2,
         "InstanceType": "ml.m5.xlarge"}])
    sm.create_endpoint_config(EndpointConfigName="fraud-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "fraud-model", "InitialInstanceCount": 1,
         "InstanceType": "ml.c5.large"}])
    churn = sm.create_endpoint(EndpointName="churn", EndpointConfigName="churn-cfg")["EndpointArn"]
    fraud = sm.create_endpoint(EndpointName="fraud", EndpointConfigName="fraud-cfg",
                               Tags=[{"Key": "team", "Value": "risk"}])["EndpointArn"]
    nb = sm.create_notebook_instance(NotebookInstanceName="alice-scratch", InstanceType="ml.t3.medium",
                                     RoleArn=ROLE)["NotebookInstanceArn"]
    nb2 = sm.create_notebook_instance(NotebookInstanceName="bob-busy", InstanceType="ml.t3.medium",
                                      RoleArn=ROLE)["NotebookInstanceArn"]
    day = datetime(2026, 11, 26, 12, tzinfo=UTC)
    # fraud serves traffic every day; churn served its last request 20 days ago
    for d in range(10):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "Invocations", "Timestamp": day - timedelta(days=d), "Value": 500.0 + d,
            "Dimensions": [{"Name": "EndpointName", "Value": "fraud"}, {"Name": "VariantName", "Value": "AllTraffic"}]}])
    cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "Invocations", "Timestamp": day - timedelta(days=20), "Value": 3.0,
        "Dimensions": [{"Name": "EndpointName", "Value": "churn"}, {"Name": "VariantName", "Value": "AllTraffic"}]}])
    for d in range(4):
        for name, cpu in (("alice-scratch", 0.4), ("bob-busy", 35.0)):
            cw.put_metric_data(Namespace=ml_serving.NOTEBOOK_NAMESPACE, MetricData=[{
                "MetricName": "CPUUtilization", "Timestamp": day - timedelta(days=d), "Value": cpu,
                "Dimensions": [{"Name": "NotebookInstanceName", "Value": name}]}])
    return {"url": moto_url, "sm": sm, "cw": cw, "churn": churn, "fraud": fraud, "nb": nb, "nb2": nb2}


def prices(store: Store) -> None:
    for sku, usd, vcpu in (("ml.m5.xlarge", "0.23", 4), ("ml.c5.large", "0.119", 2), ("ml.t3.medium", "0.05", 2),
                           ("ml.g5.12xlarge", "7.09", 48)):
        store.upsert("prices", [{"provider_name": "AWS", "region_id": REGION, "sku": sku, "pricing_model": "on-demand",
                                 "price_nanos": to_nanos(usd), "vcpu": vcpu, "source": "t",
                                 "fetched_at": timeutil.iso(NOW)}], pk=("provider_name", "region_id", "sku", "pricing_model"))


@pytest.fixture(scope="module")
def synced(world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sm") / "c.db"
    ctx, aws = make_ctx(db, {"endpoint_url": world["url"], "regions": [REGION]}, NOW)
    prices(ctx.store)
    ml.sync_sagemaker(ctx, aws)
    world["ops"] = dict(ctx.counter.by_operation)
    ctx.store.close()
    return db


def test_endpoints_and_notebooks_inventory(world: dict[str, Any], synced: Path) -> None:
    with Store(synced, readonly=True) as s:
        rows = {r["resource_name"]: dict(r) for r in s.conn.execute(
            "SELECT * FROM resources WHERE resource_type LIKE 'sagemaker_%'")}
    assert set(rows) == {"churn", "fraud", "alice-scratch", "bob-busy"}
    churn = rows["churn"]
    assert (churn["resource_id"], churn["resource_type"], churn["state"], churn["instance_type"],
            churn["sub_account_id"], churn["region_id"]) == (world["churn"], "sagemaker_endpoint", "InService",
                                                             "ml.m5.xlarge", ACCOUNT, REGION)
    import json

    props = json.loads(churn["properties"])
    assert props["endpoint_config_name"] == "churn-cfg" and props["instance_count"] == 2
    assert props["model_names"] == ["churn-model"]
    assert json.loads(rows["fraud"]["tags"]) == {"team": "risk"}
    nb = rows["alice-scratch"]
    assert (nb["resource_type"], nb["state"], nb["instance_type"]) == ("sagemaker_notebook", "InService",
                                                                       "ml.t3.medium")
    ops = world["ops"]
    assert ops["sagemaker.ListEndpoints"] == 1 and ops["sagemaker.DescribeEndpointConfig"] == 2
    assert ops["sagemaker.ListNotebookInstances"] == 1


def test_invocations_and_notebook_cpu_metrics(world: dict[str, Any], synced: Path) -> None:
    with Store(synced, readonly=True) as s:
        inv = {(r[0], r[1]): r[2] for r in s.conn.execute(
            "SELECT resource_id, substr(ts, 1, 10), average FROM metrics WHERE metric='invocations'")}
        cpu = {(r[0], r[1]): r[2] for r in s.conn.execute(
            "SELECT resource_id, substr(ts, 1, 10), average FROM metrics WHERE metric='cpu'")}
    assert inv[(world["fraud"], "2026-11-26")] == 500.0 and inv[(world["fraud"], "2026-11-17")] == 509.0
    assert inv[(world["churn"], "2026-11-06")] == 3.0
    assert len([k for k in inv if k[0] == world["churn"]]) == 1
    assert cpu[(world["nb"], "2026-11-26")] == 0.4 and cpu[(world["nb2"], "2026-11-23")] == 35.0


def test_training_job_host_profiles_scaled_to_percent(world: dict[str, Any]) -> None:
    cw = world["cw"]
    start = NOW - timedelta(hours=3)
    for i in range(6):
        ts = start + timedelta(minutes=10 * i)
        for h, gpu, cpu in ((1, 120.0, 960.0), (2, 80.0, 480.0)):
            cw.put_metric_data(Namespace=ml_serving.JOBS_NAMESPACE, MetricData=[
                {"MetricName": n, "Timestamp": ts, "Value": v,
                 "Dimensions": [{"Name": "Host", "Value": f"bert-7/algo-{h}"}]}
                for n, v in (("GPUUtilization", gpu), ("CPUUtilization", cpu), ("MemoryUtilization", 41.0),
                             ("GPUMemoryUtilization", 30.0))])
    run = ml.Run(run_id="arn:job/bert-7", name="bert-7", task="bert", status="completed",
                 start_at=timeutil.iso(start), end_at=timeutil.iso(start + timedelta(hours=1)), region=REGION,
                 executors=[ml.Executor("ml.g5.12xlarge", 2, REGION, "arn:job/bert-7", None, None, 3600)])
    prof = ml_serving.fetch_job_profiles(cw, [run], {"ml.g5.12xlarge": 48.0}, NOW)["arn:job/bert-7"]
    by = {(h, m): v for h, m, _, v, _ in prof}
    assert by[("algo-1", "gpu")] == 30.0 and by[("algo-2", "gpu")] == 20.0  # 120 % over 4 GPUs
    assert by[("algo-1", "cpu")] == 20.0 and by[("algo-2", "cpu")] == 10.0  # 960 % over 48 vCPUs
    assert by[("algo-1", "memory")] == 41.0 and by[("algo-1", "gpu_memory")] == 30.0
    assert {g for _, m, _, _, g in prof if m == "gpu"} == {4}
    assert len([1 for h, m, *_ in prof if (h, m) == ("algo-1", "gpu")]) == 6
    # without the vCPU count the CPU figure cannot be scaled: left out, not guessed
    prof2 = ml_serving.fetch_job_profiles(cw, [run], {}, NOW)["arn:job/bert-7"]
    assert {m for _, m, *_ in prof2} == {"gpu", "memory", "gpu_memory"}


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:  # noqa: F811
    with FaultProxy(moto_url) as p:
        yield p


def test_idle_rules_then_cleanup_keeps_config_and_model(world: dict[str, Any], synced: Path, proxy: FaultProxy,
                                                        aws_env: None) -> None:  # noqa: F811
    cfg = parse_config({"sources": {"prod": {"kind": "aws", "endpoint_url": proxy.url, "regions": [REGION],
                                             "max_attempts": 1}}})
    with Store(synced) as store:
        store.conn.execute("UPDATE resources SET source_id=(SELECT id FROM sources WHERE name='aws-test')")
        store.conn.execute("UPDATE sources SET name='prod' WHERE name='aws-test'")
        # moto stamps CreationTime with the wall clock; the endpoints are older than the test's NOW
        store.conn.execute("UPDATE resources SET created_at=?", (timeutil.iso(NOW - timedelta(days=60)),))
        recompute(store, cfg, NOW)
        recs = {r.resource_id: r for r in load(store.conn) if r.rule in ("ml_idle_endpoint", "ml_idle_notebook")}
        assert set(recs) == {world["churn"], world["nb"]}  # fraud serves, bob's notebook works
        ep = recs[world["churn"]]
        assert ep.detail["last_invocation_day"] == "2026-11-06" and ep.monthly_saving == to_nanos("0.23") * 2 * 730
        plan = build_plan(store.conn, list(recs.values()), cfg, read_only=False, demo=False)
        assert sorted(s.action for s in plan.steps) == ["delete_endpoint", "stop_notebook"]
        script = export_script(plan, "aws")
        assert "aws sagemaker delete-endpoint --region us-east-1 --endpoint-name churn" in script
        assert "aws sagemaker stop-notebook-instance --region us-east-1 --notebook-instance-name alice-scratch" in script
        results = execute_plan(plan, executor_for(store, cfg), store, dry_run=False, actor="ops")
        assert {r.step.action: (r.status, r.message) for r in results} == {
            "delete_endpoint": ("ok", "deleted (endpoint configuration churn-cfg and model kept)"),
            "stop_notebook": ("ok", "stop requested")}
        assert proxy.count("DeleteEndpoint") == 1 and proxy.count("StopNotebookInstance") == 1
        assert proxy.count("DeleteEndpointConfig") == 0 and proxy.count("DeleteModel") == 0
        audit = [tuple(r) for r in store.conn.execute("SELECT action, result, resource_id FROM actions ORDER BY id")]
        assert sorted(audit) == sorted([("delete_endpoint", "ok", world["churn"]), ("stop_notebook", "ok", world["nb"])])
    sm = world["sm"]
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert names == ["fraud"]
    assert sm.describe_endpoint_config(EndpointConfigName="churn-cfg")["EndpointConfigName"] == "churn-cfg"
    assert sm.describe_model(ModelName="churn-model")["ModelName"] == "churn-model"
    assert sm.describe_notebook_instance(NotebookInstanceName="alice-scratch")["NotebookInstanceStatus"] == "Stopped"


def test_protected_endpoint_is_not_planned(world: dict[str, Any], tmp_path: Path, aws_env: None) -> None:  # noqa: F811
    """A protection tag on the endpoint keeps it out of the plan (and the re-check would skip it)."""
    ctx, aws = make_ctx(tmp_path / "p.db", {"endpoint_url": world["url"], "regions": [REGION]}, NOW)
    prices(ctx.store)
    world["sm"].add_tags(ResourceArn=world["fraud"], Tags=[{"Key": "costdeck:protect", "Value": "true"}])
    ml.sync_sagemaker(ctx, aws)
    ctx.store.conn.execute("DELETE FROM metrics WHERE metric='invocations'")  # make it look idle
    ctx.store.conn.execute("UPDATE resources SET created_at=?", (timeutil.iso(NOW - timedelta(days=60)),))
    recompute(ctx.store, parse_config({}), NOW)
    recs = [r for r in load(ctx.store.conn) if r.rule == "ml_idle_endpoint"]
    assert [r.resource_id for r in recs] == [world["fraud"]]
    plan = build_plan(ctx.store.conn, recs, parse_config({}), read_only=False, demo=False)
    assert plan.steps == [] and [e.kind for e in plan.excluded] == ["protected"]


def test_cloudwatch_denied_keeps_the_jobs_and_the_previous_serving_rows(world: dict[str, Any], synced: Path,
                                                                        proxy: FaultProxy, tmp_path: Path,
                                                                        aws_env: None) -> None:  # noqa: F811
    """GetMetricData denied: the training jobs are still written, endpoints and notebooks keep the rows
    of the previous sync, and the step error names what failed."""
    import shutil

    from providers.base import StepError
    from tests.moto_server import DENIED

    db = tmp_path / "copy.db"
    shutil.copy(synced, db)
    with Store(db) as s:
        before = s.conn.execute("SELECT count(*) FROM resources WHERE resource_type LIKE 'sagemaker_%'").fetchone()[0]
        s.conn.execute("DELETE FROM ml_runs")
    world["sm"].create_training_job(
        TrainingJobName="xgb-9", AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
        RoleArn=ROLE, OutputDataConfig={"S3OutputPath": "s3://b/o"}, StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5})
    proxy.add_fault("GetMetricData", times=-1, **DENIED)
    ctx, aws = make_ctx(db, {"endpoint_url": proxy.url, "regions": [REGION], "max_attempts": 1}, NOW)
    with pytest.raises(StepError) as exc:
        ml.sync_sagemaker(ctx, aws)
    # (moto's jobs start and end at once: no profile to ask for, so only the serving metrics fail)
    assert "us-east-1 (endpoints and notebooks): access denied on GetMetricData" in str(exc.value)
    names = {r[0] for r in ctx.store.conn.execute("SELECT name FROM ml_runs")}
    assert "xgb-9" in names
    after = ctx.store.conn.execute("SELECT count(*) FROM resources WHERE resource_type LIKE 'sagemaker_%'").fetchone()[0]
    assert after == before > 0  # (the cleanup test before may have removed the deleted endpoint)
