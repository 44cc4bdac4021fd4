"""AWS inventory and CloudWatch metrics steps against moto on 127.0.0.1.

moto answers EC2 describe calls and GetMetricData (only for data put with PutMetricData). Two
gaps are bridged in the test, not in the code: moto's GetMetricData does not compute extended
statistics (a "p99" Stat makes it fail with HTTP 500), so `moto_percentiles` teaches the
in-process moto server nearest-rank percentiles; and moto's DescribeVolumes ignores
MaxResults, so volume paging is checked with botocore's Stubber.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from cache import Store
from providers.aws import inventory as inv
from providers.aws import metrics as met
from providers.base import StepError
from tests.moto_server import DENIED, aws_env, fault_proxy, make_ctx, moto_url, reset_moto  # noqa: F401

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REGION = "us-east-1"
HOSTILE = {
    "Name": "[bold red]pwn[/] [link=file:///etc/passwd]x[/link]",
    "owner": "$(rm -rf /); `id` | tee && echo 'x\"y'",
    "ünï": "日本語 <script>alert(1)</script>",
}


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION)


@pytest.fixture
def world(moto_url: str, aws_env: None) -> dict[str, Any]:  # noqa: F811
    """A small account: instances (running, stopped, spot), volumes, snapshots, AMI, EIPs, SGs."""
    reset_moto(moto_url)
    ec2 = client(moto_url, "ec2")

    def run(itype: str, tags: dict[str, str], **kw: Any) -> str:
        r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType=itype,
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}], **kw)
        return str(r["Instances"][0]["InstanceId"])

    busy = run("m5.large", {"Name": "busy"})
    idle = run("t3.micro", {"Name": "idle"})
    stopped = run("t3.small", HOSTILE)
    ec2.stop_instances(InstanceIds=[stopped])
    spot = run("c5.large", {"Name": "spot"}, InstanceMarketOptions={"MarketType": "spot"})
    # AMI from `busy` (its snapshot is used by the AMI) and an instance launched from the AMI.
    ami = ec2.create_image(InstanceId=busy, Name="golden")["ImageId"]
    from_ami = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    from_ami_id = from_ami["Instances"][0]["InstanceId"]
    # Volumes: one unattached, one attached to `idle`, one to delete (its snapshot is orphaned).
    free = ec2.create_volume(Size=10, VolumeType="gp3", AvailabilityZone="us-east-1a",
                             TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "free"}]}])
    att = ec2.create_volume(Size=20, VolumeType="gp2", AvailabilityZone="us-east-1a")
    ec2.attach_volume(VolumeId=att["VolumeId"], InstanceId=idle, Device="/dev/sdf")
    gone = ec2.create_volume(Size=5, VolumeType="gp2", AvailabilityZone="us-east-1a")
    orphan = ec2.create_snapshot(VolumeId=gone["VolumeId"], Description="orphan")["SnapshotId"]
    ec2.delete_volume(VolumeId=gone["VolumeId"])
    kept = ec2.create_snapshot(VolumeId=free["VolumeId"])["SnapshotId"]
    # Elastic IPs: one associated with `busy`, one idle.
    eip_used = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip_used["AllocationId"], InstanceId=busy)
    eip_free = ec2.allocate_address(Domain="vpc")
    # Security groups: SSH open to the world, and a closed one.
    sg_open = ec2.create_security_group(GroupName="open-ssh", Description="bad")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_open, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
    ])
    sg_closed = ec2.create_security_group(GroupName="internal", Description="ok")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_closed, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])
    ami_snap = ec2.describe_images(ImageIds=[ami])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    return {"url": moto_url, "busy": busy, "idle": idle, "stopped": stopped, "spot": spot, "ami": ami,
            "from_ami": from_ami_id, "free": free["VolumeId"], "att": att["VolumeId"], "orphan": orphan,
            "kept": kept, "ami_snap": ami_snap, "eip_used": eip_used["AllocationId"],
            "eip_free": eip_free["AllocationId"], "sg_open": sg_open, "sg_closed": sg_closed}


def rows(store: Store, rtype: str) -> dict[str, dict[str, Any]]:
    out = {}
    for r in store.conn.execute("SELECT * FROM resources WHERE resource_type=?", (rtype,)):
        d = dict(r)
        d["tags"], d["properties"] = json.loads(d["tags"]), json.loads(d["properties"])
        out[d["resource_id"]] = d
    return out


def opts(url: str, **kw: Any) -> dict[str, Any]:
    return {"endpoint_url": url, "regions": [REGION], **kw}


# -- inventory ----------------------------------------------------------------------------------


def test_inventory_lands_every_type(world: dict[str, Any], tmp_path: Path) -> None:
    ctx, aws = make_ctx(tmp_path / "c.db", opts(world["url"]))
    n = inv.sync_inventory(ctx, aws)
    s = ctx.store
    counts = dict(s.conn.execute("SELECT resource_type, count(*) FROM resources GROUP BY 1").fetchall())
    assert n == sum(counts.values())

    inst = rows(s, "instance")
    assert set(inst) == {world[k] for k in ("busy", "idle", "stopped", "spot", "from_ami")}
    assert inst[world["busy"]]["state"] == "running" and inst[world["busy"]]["instance_type"] == "m5.large"
    assert inst[world["stopped"]]["state"] == "stopped"
    assert inst[world["spot"]]["lifecycle"] == "spot" and inst[world["busy"]]["lifecycle"] == "on-demand"
    assert inst[world["busy"]]["resource_name"] == "busy"
    assert inst[world["busy"]]["region_id"] == REGION and inst[world["busy"]]["sub_account_id"] == "123456789012"
    assert inst[world["busy"]]["created_at"].endswith("+00:00")
    assert {v["volume_id"] for v in inst[world["idle"]]["properties"]["volumes"]} >= {world["att"]}
    assert inst[world["busy"]]["first_seen"] == inst[world["busy"]]["last_seen"] == "2026-11-27T09:00:00+00:00"

    vols = rows(s, "volume")
    assert vols[world["free"]]["state"] == "available" and vols[world["free"]]["attached_to"] is None
    assert vols[world["free"]]["size"] == "10 GiB" and vols[world["free"]]["properties"]["volume_type"] == "gp3"
    assert vols[world["att"]]["state"] == "in-use" and vols[world["att"]]["attached_to"] == world["idle"]
    assert vols[world["free"]]["resource_name"] == "free"

    snaps = rows(s, "snapshot")
    assert set(snaps) == {world["orphan"], world["kept"], world["ami_snap"]}
    assert snaps[world["orphan"]]["properties"]["volume_exists"] is False
    assert snaps[world["kept"]]["properties"]["volume_exists"] is True
    assert snaps[world["ami_snap"]]["properties"]["images"] == [world["ami"]]
    assert snaps[world["orphan"]]["properties"]["images"] == []

    imgs = rows(s, "image")
    assert imgs[world["ami"]]["resource_name"] == "golden"
    assert imgs[world["ami"]]["properties"]["in_use"] is True
    assert imgs[world["ami"]]["properties"]["instances"] == [world["from_ami"]]
    assert imgs[world["ami"]]["properties"]["snapshot_ids"] == [world["ami_snap"]]

    eips = rows(s, "elastic_ip")
    assert eips[world["eip_used"]]["state"] == "associated" and eips[world["eip_used"]]["attached_to"] == world["busy"]
    assert eips[world["eip_free"]]["state"] == "unassociated" and eips[world["eip_free"]]["attached_to"] is None

    sgs = rows(s, "security_group")
    op = sgs[world["sg_open"]]["properties"]
    assert op["open_to_world"] is True and op["open_ports"] == [22]
    assert {(r["from_port"], r["world"]) for r in op["rules"]} == {(22, True), (443, True)}
    assert sgs[world["sg_closed"]]["properties"]["open_to_world"] is False


def test_hostile_tags_stored_verbatim(world: dict[str, Any], tmp_path: Path) -> None:
    ctx, aws = make_ctx(tmp_path / "c.db", opts(world["url"]))
    inv.sync_inventory(ctx, aws)
    r = rows(ctx.store, "instance")[world["stopped"]]
    assert r["tags"] == HOSTILE
    assert r["resource_name"] == HOSTILE["Name"]
    # Control characters cannot travel in EC2's XML, but a record carrying them is stored verbatim too.
    esc = {"Name": "\x1b[31mred\x1b[0m\x07", "k": "a\nb\tc"}
    res = inv.build_region(REGION, [], [{"VolumeId": "vol-esc", "Size": 1, "Tags": [
        {"Key": k, "Value": v} for k, v in esc.items()]}], [], [], [], [])
    inv.write_inventory(ctx, res, ["eu-west-9"], "123456789012")
    got = rows(ctx.store, "volume")["vol-esc"]
    assert got["tags"] == esc and got["resource_name"] == esc["Name"]


def test_resync_keeps_first_seen_and_drops_vanished(world: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(world["url"]))
    inv.sync_inventory(ctx, aws)
    ec2 = client(world["url"], "ec2")
    ec2.delete_volume(VolumeId=world["free"])
    ec2.release_address(AllocationId=world["eip_free"])
    later = NOW + timedelta(days=1)
    ctx2, aws2 = make_ctx(db, opts(world["url"]), now=later)
    inv.sync_inventory(ctx2, aws2)
    vols, eips = rows(ctx2.store, "volume"), rows(ctx2.store, "elastic_ip")
    assert world["free"] not in vols and world["eip_free"] not in eips
    a = vols[world["att"]]
    assert a["first_seen"] == "2026-11-27T09:00:00+00:00" and a["last_seen"] == "2026-11-28T09:00:00+00:00"


def test_instances_paginated(world: dict[str, Any], tmp_path: Path) -> None:
    ec2 = client(world["url"], "ec2")
    for _ in range(6):
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.nano")
    ctx, aws = make_ctx(tmp_path / "c.db", opts(world["url"], page_size=5))
    inv.sync_inventory(ctx, aws)
    # 11 instances in 11 reservations, 5 per page (the API minimum) -> 3 DescribeInstances requests.
    assert ctx.counter.by_operation["ec2.DescribeInstances"] == 3
    assert len(rows(ctx.store, "instance")) == 11


def test_volume_pages_follow_next_token() -> None:
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(ec2) as stub:
        stub.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-1", "Size": 1}], "NextToken": "t1"},
                          {"MaxResults": 5})
        stub.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-2", "Size": 2}]},
                          {"MaxResults": 5, "NextToken": "t1"})
        got = [v["VolumeId"] for v in inv.pages(ec2, "describe_volumes", "Volumes", page_size=5)]
        stub.assert_no_pending_responses()
    assert got == ["vol-1", "vol-2"]


def test_failed_inventory_keeps_previous_rows(world: dict[str, Any], tmp_path: Path, fault_proxy: Any) -> None:  # noqa: F811
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(world["url"]))
    inv.sync_inventory(ctx, aws)
    before = ctx.store.conn.execute("SELECT resource_id, last_seen FROM resources ORDER BY 1").fetchall()
    client(world["url"], "ec2").delete_volume(VolumeId=world["free"])
    fault_proxy.add_fault("DescribeVolumes", times=-1, **DENIED)
    ctx2, aws2 = make_ctx(db, opts(fault_proxy.url), now=NOW + timedelta(days=1))
    out = ctx2.run_step("inventory", inv.sync_inventory, aws2)
    assert out.status == "failed" and "DescribeVolumes" in (out.error or "") and "us-east-1" in (out.error or "")
    after = ctx2.store.conn.execute("SELECT resource_id, last_seen FROM resources ORDER BY 1").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert ctx2.store.integrity_ok()


def test_build_region_marks_rdp_and_all_traffic_open() -> None:
    groups = [
        {"GroupId": "sg-a", "GroupName": "a", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 3000, "ToPort": 4000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        {"GroupId": "sg-b", "GroupName": "b", "IpPermissions": [
            {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
        {"GroupId": "sg-c", "GroupName": "c", "IpPermissions": [
            {"IpProtocol": "udp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    ]
    res = {r.resource_id: r.properties for r in inv.build_region(REGION, [], [], [], [], [], groups)}
    assert res["sg-a"]["open_ports"] == [3389]
    assert res["sg-b"]["open_ports"] == [22, 3389]
    assert res["sg-c"]["open_to_world"] is False


# -- metrics -------------------------------------------------------------------------------------


@pytest.fixture
def moto_percentiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Teach the in-process moto server CloudWatch extended statistics ("p99")."""
    from moto.cloudwatch import models

    original = models.Statistics.get_statistics_for_type

    def patched(self: Any, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "").isdigit():
            vals = sorted(self.metric_single_values_list)
            if not vals:
                return None
            rank = max(1, math.ceil(float(stat[1:]) / 100 * len(vals)))
            return vals[rank - 1]
        return original(self, stat)

    monkeypatch.setattr(models.Statistics, "get_statistics_for_type", patched)


def put_day(cw: Any, iid: str, metric: str, day: datetime, values: list[float], unit: str) -> None:
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{
        "MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": iid}],
        "Timestamp": day + timedelta(hours=6), "Values": values, "Unit": unit}])


def test_metrics_daily_cpu_and_network(world: dict[str, Any], tmp_path: Path, moto_percentiles: None) -> None:
    # moto compares timestamps with its own clock, so use days relative to the real today.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    midnight = now.replace(hour=0)
    cw = client(world["url"], "cloudwatch")
    busy, idle = world["busy"], world["idle"]
    for d in (1, 2, 3):
        day = midnight - timedelta(days=d)
        put_day(cw, busy, "CPUUtilization", day, [float(v) for v in range(1, 101)], "Percent")
        put_day(cw, busy, "NetworkIn", day, [1000.0, 3000.0], "Bytes")
        put_day(cw, busy, "NetworkOut", day, [500.0], "Bytes")
        put_day(cw, idle, "CPUUtilization", day, [0.5, 1.5], "Percent")
    put_day(cw, busy, "CPUUtilization", midnight - timedelta(days=40), [99.0], "Percent")  # outside 30 days
    put_day(cw, busy, "CPUUtilization", midnight, [99.0], "Percent")  # today: not a whole day yet

    ctx, aws = make_ctx(tmp_path / "c.db", opts(world["url"]), now=now)
    inv.sync_inventory(ctx, aws)
    n = met.sync_metrics(ctx, aws)
    got = {(r["resource_id"], r["metric"], r["ts"]): dict(r) for r in ctx.store.conn.execute("SELECT * FROM metrics")}
    assert n == len(got) == 3 * 3 + 3  # busy: cpu, in, out x 3 days; idle: cpu x 3 days
    day1 = timeutil_iso(midnight - timedelta(days=1))
    b = got[(busy, "cpu", day1)]
    assert (b["average"], b["maximum"], b["p99"], b["period_s"]) == (50.5, 100.0, 99.0, 86400)
    assert got[(busy, "network_in", day1)]["average"] == 2000.0
    assert got[(busy, "network_in", day1)]["maximum"] == 3000.0
    i = got[(idle, "cpu", day1)]
    assert (i["average"], i["maximum"], i["p99"]) == (1.0, 1.5, 1.5)
    assert ctx.counter.by_operation["cloudwatch.GetMetricData"] == 1  # 5 instances x 7 queries in one call

    # A re-sync replaces the window's rows, it does not duplicate them.
    assert met.sync_metrics(ctx, aws) == n
    assert ctx.store.conn.execute("SELECT count(*) FROM metrics").fetchone()[0] == n


def timeutil_iso(dt: datetime) -> str:
    from cache import timeutil

    return timeutil.iso(dt)


class FakeCloudWatch:
    """Records GetMetricData requests; answers each query in two pages. The paging runs through a
    real botocore client and its paginator, whose hooks hand each request to `get_metric_data`
    below and return its answer (nothing leaves the process)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._client = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
        self._answer: dict[str, Any] = {}
        events = self._client.meta.events
        events.register("before-parameter-build.cloudwatch.GetMetricData", self._request)
        events.register("before-call.cloudwatch.GetMetricData", self._respond)

    def get_paginator(self, operation: str) -> Any:
        return self._client.get_paginator(operation)

    def _request(self, params: dict[str, Any], **_: Any) -> None:
        self._answer = self.get_metric_data(**params)

    def _respond(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, {}, None), self._answer

    def get_metric_data(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        page2 = "NextToken" in kw
        day = kw["StartTime"] + timedelta(days=1 if page2 else 0)
        res = [{"Id": q["Id"], "Timestamps": [day], "Values": [2.0 if page2 else 1.0], "StatusCode": "Complete"}
               for q in kw["MetricDataQueries"]]
        return {"MetricDataResults": res, **({} if page2 else {"NextToken": "more"})}


def test_metric_queries_batched_at_500_and_paged() -> None:
    cw = FakeCloudWatch()
    ids = [f"i-{n:04d}" for n in range(80)]
    start, end = met.metric_window(NOW, 30)
    points = met.fetch_metrics(cw, ids, start, end)
    # 7 queries per instance: 71 instances (497 queries) then 9; each batch paged twice.
    sizes = [len(c["MetricDataQueries"]) for c in cw.calls]
    assert sizes == [497, 497, 63, 63]
    assert all(len(c["MetricDataQueries"]) <= 500 for c in cw.calls)
    assert cw.calls[1]["NextToken"] == "more"
    assert len(points) == 80 * 3 * 2  # 3 metrics x 2 days (one per page)
    q = cw.calls[0]["MetricDataQueries"][2]["MetricStat"]
    assert q["Stat"] == "p99" and q["Period"] == 86400 and q["Metric"]["MetricName"] == "CPUUtilization"
    assert start == datetime(2026, 10, 28, tzinfo=UTC) and end == datetime(2026, 11, 27, tzinfo=UTC)


def test_metrics_step_failure_keeps_old_rows(world: dict[str, Any], tmp_path: Path, fault_proxy: Any) -> None:  # noqa: F811
    db = tmp_path / "c.db"
    ctx, aws = make_ctx(db, opts(world["url"]))
    inv.sync_inventory(ctx, aws)
    ctx.store.conn.execute(
        "INSERT INTO metrics VALUES ('AWS', ?, 'cpu', '2026-11-20T00:00:00+00:00', 86400, 5, 6, 7)", (world["busy"],))
    fault_proxy.add_fault("GetMetricData", times=-1, **DENIED)
    ctx2, aws2 = make_ctx(db, opts(fault_proxy.url))
    out = ctx2.run_step("metrics", met.sync_metrics, aws2)
    assert out.status == "failed"
    assert ctx2.store.conn.execute("SELECT average FROM metrics").fetchall()[0][0] == 5
    with pytest.raises(StepError):
        met.sync_metrics(ctx2, aws2)
