"""SageMaker Studio apps: synced by the "sagemaker" step, flagged by ml_idle_notebook, deleted by the
cleanup (plan, re-check, protection, audit, script export).

Domains come from moto (CreateDomain / ListDomains); moto has no ListApps, DescribeApp or
DeleteApp, so tests/sagemaker_studio_fake.py answers those (and ListTags of app ARNs) from the
seeded apps below and forwards everything else to moto. The first test proves with boto3 itself
that the fake speaks SageMaker's protocol and shapes (botocore's service model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from analysis.cleanup import build_plan, execute_plan, executor_for, export_script
from analysis.recommendations import load
from analysis.recommendations.engine import recompute
from cache import Store, timeutil
from cache.money import to_nanos
from providers.aws import ml, ml_serving
from providers.config import parse_config
from tests.moto_server import aws_env, aws_env_module, make_ctx, moto_url, reset_moto  # noqa: F401
from tests.sagemaker_studio_fake import StudioFake, app_arn

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", timeutil.iso(NOW))


def _apps(domain: str) -> list[dict[str, Any]]:
    t0 = NOW - timedelta(days=30)
    base = {"domain_id": domain, "status": "InService", "created": t0, "last_activity": NOW - timedelta(days=9)}
    return [
        {**base, "user_profile": "alice", "app_type": "KernelGateway", "app_name": "ds-gpu",
         "instance_type": "ml.g4dn.xlarge"},  # idle for days
        {**base, "user_profile": "bob", "app_type": "JupyterLab", "app_name": "default",
         "instance_type": "ml.t3.medium", "last_activity": NOW - timedelta(hours=1)},  # busy
        {**base, "space": "team-a", "app_type": "CodeEditor", "app_name": "default",
         "instance_type": "ml.m5.large", "tags": {"costdeck:protect": "true"}},  # idle but protected
        {**base, "user_profile": "carol", "app_type": "KernelGateway", "app_name": "pt",
         "instance_type": "ml.m5.large"},  # idle, deleted by its owner between plan and run
        {**base, "user_profile": "alice", "app_type": "JupyterServer", "app_name": "default",
         "instance_type": "system"},  # free: left out
        {**base, "user_profile": "dave", "app_type": "KernelGateway", "app_name": "old",
         "instance_type": "ml.m5.large", "status": "Deleted"},  # gone: left out
    ]


@pytest.fixture(scope="module")
def fake(moto_url: str, aws_env_module: None) -> Iterator[StudioFake]:  # noqa: F811
    reset_moto(moto_url)
    sm = boto3.client("sagemaker", endpoint_url=moto_url, region_name=REGION)
    domain = sm.create_domain(DomainName="research", AuthMode="IAM", VpcId="vpc-1", SubnetIds=["subnet-1"],
                              DefaultUserSettings={"ExecutionRole": "arn:aws:iam::123456789012:role/sm"})
    domain_id = domain["DomainArn"].rsplit("/", 1)[1]
    cw = boto3.client("cloudwatch", endpoint_url=moto_url, region_name=REGION)
    day = datetime(2026, 11, 26, 12, tzinfo=UTC)
    for owner_dim, owner, name, cpu in (("UserProfileName", "alice", "ds-gpu", 0.3),
                                        ("UserProfileName", "bob", "default", 41.0),
                                        ("SpaceName", "team-a", "default", 0.2),
                                        ("UserProfileName", "carol", "pt", 0.5)):
        for d in range(4):
            cw.put_metric_data(Namespace=ml_serving.STUDIO_NAMESPACE, MetricData=[{
                "MetricName": "CPUUtilization", "Timestamp": day - timedelta(days=d), "Value": cpu,
                "Dimensions": [{"Name": "DomainId", "Value": domain_id}, {"Name": owner_dim, "Value": owner},
                               {"Name": "AppName", "Value": name}]}])
    with StudioFake(moto_url, _apps(domain_id), REGION) as f:
        yield f
    reset_moto(moto_url)  # the domain would send later modules' syncs to ListApps on moto


def test_fake_speaks_sagemaker_json_protocol(fake: StudioFake) -> None:
    """boto3 parses every answer (timestamps, paging, errors) and each answer uses only members of
    the output shapes in botocore's SageMaker service model."""
    sm = boto3.client("sagemaker", endpoint_url=fake.url, region_name=REGION)
    model = botocore.session.get_session().get_service_model("sagemaker")
    domain_id = fake.apps[0]["domain_id"]
    assert [d["DomainId"] for d in sm.list_domains()["Domains"]] == [domain_id]  # moto, through the fake
    pages = list(sm.get_paginator("list_apps").paginate(DomainIdEquals=domain_id, PaginationConfig={"PageSize": 4}))
    assert [len(p["Apps"]) for p in pages] == [4, 2]
    assert sorted(a["AppName"] for p in pages for a in p["Apps"]) == ["default", "default", "default", "ds-gpu",
                                                                     "old", "pt"]
    ref = {"DomainId": domain_id, "UserProfileName": "alice", "AppType": "KernelGateway", "AppName": "ds-gpu"}
    desc = sm.describe_app(**ref)
    assert desc["CreationTime"] == NOW - timedelta(days=30) and desc["ResourceSpec"]["InstanceType"] == "ml.g4dn.xlarge"
    assert desc["AppArn"] == app_arn(REGION, fake.apps[0])
    for op, answer in (("ListApps", pages[0]), ("DescribeApp", desc)):
        members = set(model.operation_model(op).output_shape.members)
        assert set(answer) - {"ResponseMetadata"} <= members, op
    item = set(model.shape_for("AppDetails").members)
    assert all(set(a) <= item for a in pages[0]["Apps"])
    with pytest.raises(ClientError) as exc:
        sm.describe_app(**{**ref, "AppName": "nope"})
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    assert sm.list_tags(ResourceArn=app_arn(REGION, fake.apps[2]))["Tags"] == [
        {"Key": "costdeck:protect", "Value": "true"}]
    assert ("DescribeApp", ref) in fake.received


@pytest.fixture(scope="module")
def synced(fake: StudioFake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("studio") / "c.db"
    ctx, aws = make_ctx(db, {"endpoint_url": fake.url, "regions": [REGION]}, NOW)
    for sku, usd in (("ml.g4dn.xlarge", "0.7364"), ("ml.m5.large", "0.115"), ("ml.t3.medium", "0.05")):
        ctx.store.upsert("prices", [{"provider_name": "AWS", "region_id": REGION, "sku": sku,
                                     "pricing_model": "on-demand", "price_nanos": to_nanos(usd), "vcpu": 2,
                                     "source": "t", "fetched_at": timeutil.iso(NOW)}],
                         pk=("provider_name", "region_id", "sku", "pricing_model"))
    ml.sync_sagemaker(ctx, aws)
    ctx.store.close()
    return db


def test_studio_apps_synced_with_cpu(fake: StudioFake, synced: Path) -> None:
    import json

    domain_id = fake.apps[0]["domain_id"]
    with Store(synced, readonly=True) as s:
        rows = {r["resource_name"]: dict(r) for r in s.conn.execute(
            "SELECT * FROM resources WHERE resource_type='sagemaker_studio_app'")}
        cpu = {r[0]: r[1] for r in s.conn.execute(
            "SELECT resource_id, average FROM metrics WHERE metric='cpu' AND ts LIKE '2026-11-26%'")}
    # the free JupyterServer on `system` and the already deleted app are left out
    assert set(rows) == {"alice/ds-gpu", "bob/default", "team-a/default", "carol/pt"}
    a = rows["alice/ds-gpu"]
    assert (a["resource_id"], a["state"], a["instance_type"], a["sub_account_id"], a["region_id"]) == (
        app_arn(REGION, fake.apps[0]), "InService", "ml.g4dn.xlarge", "123456789012", REGION)
    props = json.loads(a["properties"])
    assert {k: props[k] for k in ("domain_id", "user_profile", "app_type", "app_name")} == {
        "domain_id": domain_id, "user_profile": "alice", "app_type": "KernelGateway", "app_name": "ds-gpu"}
    assert props["last_user_activity"] == timeutil.iso(NOW - timedelta(days=9))
    assert json.loads(rows["team-a/default"]["properties"])["space"] == "team-a"
    assert json.loads(rows["team-a/default"]["tags"]) == {"costdeck:protect": "true"}
    assert cpu[a["resource_id"]] == 0.3 and cpu[app_arn(REGION, fake.apps[1])] == 41.0
    # one page per domain (the first test's paged calls carry MaxResults)
    assert [req for op, req in fake.received if op == "ListApps" and "MaxResults" not in req] == [
        {"DomainIdEquals": domain_id}]


def test_idle_app_flagged_then_deleted_with_recheck_protection_and_audit(fake: StudioFake, synced: Path,
                                                                         aws_env: None) -> None:  # noqa: F811
    cfg = parse_config({"sources": {"prod": {"kind": "aws", "endpoint_url": fake.url, "regions": [REGION],
                                             "max_attempts": 1}}})
    alice, carol = app_arn(REGION, fake.apps[0]), app_arn(REGION, fake.apps[3])
    protected = app_arn(REGION, fake.apps[2])
    with Store(synced) as store:
        store.conn.execute("UPDATE sources SET name='prod' WHERE name='aws-test'")
        recompute(store, cfg, NOW)
        recs = {r.resource_id: r for r in load(store.conn) if r.rule == "ml_idle_notebook"}
        assert set(recs) == {alice, carol, protected}  # bob's app works
        rec = recs[alice]
        assert rec.detail["action"] == "delete_studio_app" and rec.detail["cpu_avg_pct"] == 0.3
        assert rec.monthly_saving == to_nanos("0.7364") * 730
        plan = build_plan(store.conn, list(recs.values()), cfg, read_only=False, demo=False)
        assert sorted(s.resource_id for s in plan.steps) == sorted([alice, carol])
        assert [(e.kind, e.resource_id) for e in plan.excluded] == [("protected", protected)]
        script = export_script(plan, "aws")
        assert (f"aws sagemaker delete-app --region us-east-1 --domain-id {fake.apps[0]['domain_id']} "
                "--user-profile-name alice --app-type KernelGateway --app-name ds-gpu") in script
        fake.apps[3]["status"] = "Deleted"  # carol closed it in Studio after the plan was made
        results = execute_plan(plan, executor_for(store, cfg), store, dry_run=False, actor="ops")
        by = {r.step.resource_id: r for r in results}
        assert (by[alice].status, by[alice].message) == ("ok", "deleted (the user's files are kept)")
        assert by[carol].status == "skipped" and "Deleted" in by[carol].message
        deletes = [req for op, req in fake.received if op == "DeleteApp"]
        assert deletes == [{"DomainId": fake.apps[0]["domain_id"], "UserProfileName": "alice",
                            "AppType": "KernelGateway", "AppName": "ds-gpu"}]
        assert fake.apps[0]["status"] == "Deleted"
        audit = [tuple(r) for r in store.conn.execute("SELECT action, result, resource_id FROM actions ORDER BY id")]
        assert ("delete_studio_app", "ok", alice) in audit
        assert store.conn.execute("SELECT count(*) FROM resources WHERE resource_id=?", (alice,)).fetchone()[0] == 0


def test_listapps_denied_keeps_the_previous_studio_rows(fake: StudioFake, synced: Path, tmp_path: Path,
                                                        aws_env: None) -> None:  # noqa: F811
    """ListApps denied: the step says which part failed; the Studio apps of the last sync stay."""
    import shutil

    from providers.base import StepError
    from tests.moto_server import DENIED

    db = tmp_path / "copy.db"
    shutil.copy(synced, db)
    with Store(db) as s:
        before = sorted(r[0] for r in s.conn.execute(
            "SELECT resource_id FROM resources WHERE resource_type='sagemaker_studio_app'"))
    assert before
    fake.add_fault("ListApps", times=-1, **DENIED)
    try:
        ctx, aws = make_ctx(db, {"endpoint_url": fake.url, "regions": [REGION], "max_attempts": 1}, NOW)
        with pytest.raises(StepError) as exc:
            ml.sync_sagemaker(ctx, aws)
    finally:
        fake.faults.clear()
    assert "us-east-1 (Studio apps): access denied on ListApps" in str(exc.value)
    after = sorted(r[0] for r in ctx.store.conn.execute(
        "SELECT resource_id FROM resources WHERE resource_type='sagemaker_studio_app'"))
    assert after == before
