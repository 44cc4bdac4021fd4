"""Recommendations over a real AWS sync against moto on 127.0.0.1, and the Cost Explorer
rightsizing step with botocore's Stubber (moto has no GetRightsizingRecommendation).

moto's GetMetricData cannot compute p99; `moto_percentiles` (from test_aws_inventory) teaches the
in-process server nearest-rank percentiles. Prices are pre-seeded rows (the Price List API has no
moto backend; its step is tested in test_aws_commitments_ml_prices).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from analysis.recommendations import load
from analysis.recommendations.engine import recompute, set_status
from cache import Store, timeutil
from cache.money import to_nanos
from providers.aws import rightsizing as rz
from providers.aws.adapter import AwsOptions
from providers.aws.session import AwsSession
from providers.base import StepError, SyncContext
from providers.config import load_config
from providers.sync import run_sync
from tests.moto_server import aws_env, moto_url, reset_moto  # noqa: F401
from tests.test_aws_inventory import moto_percentiles  # noqa: F401

REGION = "us-east-1"


def _put_cpu(cw: Any, iid: str, cpu: float, net: float, days: int = 5) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data = []
    for d in range(1, days + 1):
        for h in (2, 8, 14, 20):
            ts = today - timedelta(days=d) + timedelta(hours=h)
            dims = [{"Name": "InstanceId", "Value": iid}]
            data += [
                {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": ts, "Value": cpu, "Unit": "Percent"},
                {"MetricName": "NetworkIn", "Dimensions": dims, "Timestamp": ts, "Value": net, "Unit": "Bytes"},
                {"MetricName": "NetworkOut", "Dimensions": dims, "Timestamp": ts, "Value": net, "Unit": "Bytes"},
            ]
    for i in range(0, len(data), 20):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data[i:i + 20])


@pytest.fixture
def waste(moto_url: str, aws_env: None, moto_percentiles: None) -> dict[str, str]:  # noqa: F811
    """An account with exactly one of each kind of waste, next to resources in good use."""
    reset_moto(moto_url)
    ec2 = boto3.client("ec2", endpoint_url=moto_url, region_name=REGION)
    cw = boto3.client("cloudwatch", endpoint_url=moto_url, region_name=REGION)

    def run(itype: str, name: str, **kw: Any) -> str:
        r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType=itype,
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": "Name", "Value": name}]}], **kw)
        return str(r["Instances"][0]["InstanceId"])

    w: dict[str, str] = {}
    w["busy"] = run("m5.large", "busy")
    w["idle"] = run("m5.large", "idle")
    w["oversized"] = run("m5.2xlarge", "oversized")
    w["stopped"] = run("m5.large", "stopped")
    ec2.stop_instances(InstanceIds=[w["stopped"]])
    w["spot"] = run("m5.large", "spot", InstanceMarketOptions={"MarketType": "spot"})
    builder = run("m5.large", "builder")
    w["ami_unused"] = ec2.create_image(InstanceId=builder, Name="old-golden")["ImageId"]
    ec2.terminate_instances(InstanceIds=[builder])
    _put_cpu(cw, w["busy"], 65.0, 5e6)
    _put_cpu(cw, w["idle"], 1.0, 2e3)
    _put_cpu(cw, w["oversized"], 12.0, 4e5)
    _put_cpu(cw, w["spot"], 1.0, 2e3)
    w["free"] = ec2.create_volume(Size=50, VolumeType="gp3", AvailabilityZone="us-east-1a")["VolumeId"]
    w["att"] = ec2.create_volume(Size=20, VolumeType="gp2", AvailabilityZone="us-east-1a")["VolumeId"]
    ec2.attach_volume(VolumeId=w["att"], InstanceId=w["busy"], Device="/dev/sdf")
    gone = ec2.create_volume(Size=5, VolumeType="gp2", AvailabilityZone="us-east-1a")["VolumeId"]
    w["orphan"] = ec2.create_snapshot(VolumeId=gone, Description="orphan")["SnapshotId"]
    ec2.delete_volume(VolumeId=gone)
    w["backup"] = ec2.create_snapshot(VolumeId=w["att"], Description="live")["SnapshotId"]
    used = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used, InstanceId=w["busy"])
    w["eip_used"] = used
    w["eip_free"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    w["sg_open"] = ec2.create_security_group(GroupName="ssh-world", Description="bad")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=w["sg_open"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    w["sg_closed"] = ec2.create_security_group(GroupName="internal", Description="ok")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=w["sg_closed"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    w["url"] = moto_url
    return w


def test_sync_then_recompute_finds_exactly_the_waste(waste: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    # Resources were all created seconds ago: age thresholds to 0 here (their edges are unit-tested).
    cfg.write_text(f"""
[sources.acct]
kind = "aws"
endpoint_url = "{waste['url']}"
regions = ["{REGION}"]
steps = ["inventory", "metrics"]

[rules.unattached_volume]
min_days = 0
[rules.obsolete_snapshot]
min_days = 0
[rules.obsolete_image]
min_days = 0
[rules.unused_ip]
min_days = 0
[rules.stopped_instance]
min_days = 0
[rules.idle_instance]
min_days = 3
[rules.rightsizing]
min_days = 3
""")
    config = load_config(cfg)
    db = tmp_path / "aws.db"
    [res] = run_sync(db, config)
    assert res.status == "ok", (res.error, res.step_errors)
    with Store(db) as store:
        now = timeutil.iso(timeutil.now())
        store.upsert("prices", [
            {"provider_name": "AWS", "region_id": REGION, "sku": sku, "pricing_model": "on-demand", "unit": "Hrs",
             "price_nanos": to_nanos(usd), "currency": "USD", "vcpu": v, "memory_gib": v * 4, "family": "General",
             "generation": "current", "source": "aws-pricing-api", "fetched_at": now}
            for sku, usd, v in (("m5.large", "0.096", 2), ("m5.xlarge", "0.192", 4), ("m5.2xlarge", "0.384", 8))
        ], pk=("provider_name", "region_id", "sku", "pricing_model"))
        result = recompute(store, config)
        got = {(r.rule, r.resource_id) for r in load(store.conn)}
        expected = {
            ("unattached_volume", waste["free"]),
            ("obsolete_snapshot", waste["orphan"]),
            ("obsolete_image", waste["ami_unused"]),
            ("unused_ip", waste["eip_free"]),
            ("stopped_instance", waste["stopped"]),
            ("idle_instance", waste["idle"]),
            ("rightsizing", waste["oversized"]),
            ("open_security_group", waste["sg_open"]),
        }
        assert got == expected
        good = {waste[k] for k in ("busy", "att", "backup", "eip_used", "sg_closed", "spot")}
        assert not good & {rid for _, rid in got}
        recs = {r.rule: r for r in load(store.conn)}
        assert recs["idle_instance"].monthly_saving == to_nanos("0.096") * 730
        assert recs["idle_instance"].detail["cpu_avg_pct"] == 1.0
        assert recs["rightsizing"].detail["target_type"] == "m5.large"  # 8 vCPU x 12 % / 70 % -> 2 vCPU
        assert recs["rightsizing"].monthly_saving == (to_nanos("0.384") - to_nanos("0.096")) * 730
        assert recs["open_security_group"].detail["open_ports"] == [22]
        assert recs["unattached_volume"].saving_basis.startswith("unknown")  # no cost rows, no volume price
        reasons = {(s.rule, s.resource_id): s.reason for s in result.skipped}
        assert "spot instance" in reasons[("idle_instance", waste["spot"])]


# -- Cost Explorer rightsizing (Stubber) ----------------------------------------------------------


def _rec(iid: str, kind: str, saving: str, target: str | None = None) -> dict[str, Any]:
    cur = {"ResourceId": iid, "InstanceName": f"name-{iid}", "Tags": [],
           "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": "m5.2xlarge", "HourlyOnDemandRate": "0.384",
                                                      "Region": "US East (N. Virginia)", "Vcpu": "8",
                                                      "Memory": "32 GiB"}},
           "ResourceUtilization": {"EC2ResourceUtilization": {"MaxCpuUtilizationPercentage": "9.5"}},
           "MonthlyCost": "280.32", "CurrencyCode": "USD", "TotalRunningHoursInLookbackPeriod": "336"}
    out: dict[str, Any] = {"AccountId": "123456789012", "CurrentInstance": cur, "RightsizingType": kind,
                           "FindingReasonCodes": ["CPU_OVER_PROVISIONED"]}
    if kind == "MODIFY":
        out["ModifyRecommendationDetail"] = {"TargetInstances": [
            {"EstimatedMonthlyCost": "70.08", "EstimatedMonthlySavings": "0.5", "CurrencyCode": "USD",
             "DefaultTargetInstance": False,
             "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": "m5.large", "HourlyOnDemandRate": "0.096"}}},
            {"EstimatedMonthlyCost": "140.16", "EstimatedMonthlySavings": saving, "CurrencyCode": "USD",
             "DefaultTargetInstance": True,
             "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": target, "HourlyOnDemandRate": "0.192"}},
             "ExpectedResourceUtilization": {"EC2ResourceUtilization": {"MaxCpuUtilizationPercentage": "19"}}},
        ]}
    else:
        out["TerminateRecommendationDetail"] = {"EstimatedMonthlySavings": saving, "CurrencyCode": "USD"}
    return out


REQ = {"Service": "AmazonEC2", "PageSize": 100,
       "Configuration": {"RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": True}}


def _ctx(db: Path, url: str, now: datetime = datetime(2026, 11, 27, 9, 0, tzinfo=UTC), **kw: Any
         ) -> tuple[SyncContext, AwsSession]:
    store = Store(db)
    sid = store.ensure_source("acct", "aws", {})
    options = AwsOptions(endpoint_url=url, regions=[REGION], **kw)
    ctx = SyncContext(store=store, source_id=sid, source_name="acct", kind="aws", options=options, now=now,
                      cost_window=(now.date() - timedelta(days=3), now.date()))
    return ctx, AwsSession(options, ctx.counter, max_attempts=1)


def test_rightsizing_step_pages_maps_and_keeps_status(moto_url: str, aws_env: None, tmp_path: Path) -> None:  # noqa: F811
    reset_moto(moto_url)
    ctx, aws = _ctx(tmp_path / "rz.db", moto_url, rightsizing_refresh_days=0)
    with Stubber(aws.client("ce")) as ce:
        ce.add_response("get_rightsizing_recommendation",
                        {"RightsizingRecommendations": [_rec("i-aaa", "MODIFY", "140.16", "m5.xlarge")],
                         "NextPageToken": "page2"}, REQ)
        ce.add_response("get_rightsizing_recommendation",
                        {"RightsizingRecommendations": [_rec("i-bbb", "TERMINATE", "280.32")]},
                        {**REQ, "NextPageToken": "page2"})
        assert rz.sync_rightsizing(ctx, aws) == 2
        ce.assert_no_pending_responses()
    recs = {r.resource_id: r for r in load(ctx.store.conn, statuses=None)}
    a, b = recs["i-aaa"], recs["i-bbb"]
    assert (a.rule, a.origin, b.rule) == ("aws_rightsizing", "aws-rightsizing", "aws_idle_instance")
    assert a.detail["target_type"] == "m5.xlarge" and a.detail["instance_type"] == "m5.2xlarge"
    assert a.monthly_saving == to_nanos("140.16") and b.monthly_saving == to_nanos("280.32")
    assert a.detail["price_now"] == "$0.384/h" and a.detail["price_after"] == "$0.192/h"
    assert a.detail["cpu_max_pct"] == 9.5 and a.saving_basis == "AWS Cost Explorer estimate"
    assert a.sub_account_id == "123456789012" and a.region_id == "US East (N. Virginia)"

    set_status(ctx.store.conn, [a.id], "dismissed", reason="reserved capacity")  # type: ignore[list-item]
    with Stubber(aws.client("ce")) as ce:
        ce.add_response("get_rightsizing_recommendation",
                        {"RightsizingRecommendations": [_rec("i-aaa", "MODIFY", "150", "m5.xlarge")]}, REQ)
        rz.sync_rightsizing(ctx, aws)
    recs = {r.resource_id: r for r in load(ctx.store.conn, statuses=None)}
    assert set(recs) == {"i-aaa"}  # the open TERMINATE advice AWS no longer gives is gone
    assert recs["i-aaa"].status == "dismissed" and recs["i-aaa"].monthly_saving == to_nanos("150")

    with Stubber(aws.client("ce")) as ce:
        ce.add_client_error("get_rightsizing_recommendation", service_error_code="AccessDeniedException",
                            service_message="Rightsizing recommendations are not enabled", http_status_code=400)
        with pytest.raises(StepError) as exc:
            rz.sync_rightsizing(ctx, aws)
    assert "previous advice kept" in str(exc.value) and "\n" not in str(exc.value)
    assert {r.resource_id for r in load(ctx.store.conn, statuses=None)} == {"i-aaa"}


def test_rightsizing_advice_is_fetched_at_most_once_a_day(moto_url: str, aws_env: None, tmp_path: Path) -> None:  # noqa: F811
    reset_moto(moto_url)
    db = tmp_path / "rz.db"
    ctx, aws = _ctx(db, moto_url)
    with Stubber(aws.client("ce")) as ce:
        ce.add_response("get_rightsizing_recommendation",
                        {"RightsizingRecommendations": [_rec("i-aaa", "MODIFY", "140.16", "m5.xlarge")]}, REQ)
        assert rz.sync_rightsizing(ctx, aws) == 1
        ce.assert_no_pending_responses()
    # Later the same UTC day: nothing asked (a Stubber with no responses fails on any call).
    ctx2, aws2 = _ctx(db, moto_url, now=datetime(2026, 11, 27, 23, 59, tzinfo=UTC))
    with Stubber(aws2.client("ce")):
        assert rz.sync_rightsizing(ctx2, aws2) == 0
    assert "next on 2026-11-28" in ctx2.detail["rightsizing"]
    assert {r.resource_id for r in load(ctx2.store.conn, statuses=None)} == {"i-aaa"}  # advice kept
    # The next day: asked again.
    ctx3, aws3 = _ctx(db, moto_url, now=datetime(2026, 11, 28, 0, 5, tzinfo=UTC))
    with Stubber(aws3.client("ce")) as ce:
        ce.add_response("get_rightsizing_recommendation", {"RightsizingRecommendations": []}, REQ)
        assert rz.sync_rightsizing(ctx3, aws3) == 0
        ce.assert_no_pending_responses()
    assert load(ctx3.store.conn, statuses=None) == []
