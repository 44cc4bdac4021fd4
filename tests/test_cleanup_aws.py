"""Cleanup against AWS emulated by moto on 127.0.0.1, behind a proxy that counts every request.

The inventory comes from the real sync (providers.sync.run_sync, step "inventory"); the
recommendations rows are written here for the waste we created (the rules are tested
elsewhere). The plan is executed through the AwsExecutor chosen by `executor_for` from the
source's config options (endpoint_url -> the proxy), so what moto received is what the
executor did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from analysis.cleanup import PlanRefused, build_plan, execute_plan, executor_for
from analysis.recommendations.model import load
from cache import Store
from providers.config import parse_config
from providers.sync import run_sync
from tests.moto_server import EXPIRED, FaultProxy, aws_env, moto_url, reset_moto  # noqa: F401

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
NOW = "2026-11-27T09:00:00+00:00"
NANOS = 1_000_000_000
MUTATING = ("DeleteVolume", "CreateSnapshot", "ReleaseAddress", "DeleteSnapshot", "DeregisterImage", "StopInstances",
            "TerminateInstances", "DetachVolume", "DisassociateAddress", "ModifyInstanceAttribute", "CreateTags")


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)


def tags(**kv: str) -> list[dict[str, Any]]:
    return [{"Key": k, "Value": v} for k, v in kv.items()]


@pytest.fixture
def world(moto_url: str, aws_env: None) -> dict[str, Any]:  # noqa: F811
    """Waste and non-waste: every id the tests look at."""
    reset_moto(moto_url)
    ec2 = boto3.client("ec2", endpoint_url=moto_url, region_name=REGION)

    def run(name: str) -> str:
        r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags(Name=name)}])
        return str(r["Instances"][0]["InstanceId"])

    def volume(name: str, **extra: str) -> str:
        v = ec2.create_volume(Size=10, VolumeType="gp3", AvailabilityZone=f"{REGION}a",
                              TagSpecifications=[{"ResourceType": "volume", "Tags": tags(Name=name, **extra)}])
        return str(v["VolumeId"])

    w: dict[str, Any] = {"ec2": ec2, "url": moto_url}
    w["idle"], w["busy"] = run("idle"), run("busy")
    w["vol_free"] = volume("free")
    w["vol_protected"] = volume("keep-me", **{"costdeck:protect": "true"})
    w["vol_reattach"] = volume("reattach-me")
    w["vol_attached"] = volume("in-use")
    ec2.attach_volume(VolumeId=w["vol_attached"], InstanceId=w["busy"], Device="/dev/sdf")
    w["eip_free"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    w["eip_used"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=w["eip_used"], InstanceId=w["busy"])
    gone = volume("gone")
    w["snap_orphan"] = ec2.create_snapshot(VolumeId=gone, Description="orphan")["SnapshotId"]
    ec2.delete_volume(VolumeId=gone)
    w["snap_kept"] = ec2.create_snapshot(VolumeId=w["vol_attached"], Description="backup")["SnapshotId"]
    w["ami"] = ec2.create_image(InstanceId=w["busy"], Name="old-golden")["ImageId"]
    img = ec2.describe_images(ImageIds=[w["ami"]])["Images"][0]
    w["ami_snaps"] = [b["Ebs"]["SnapshotId"] for b in img["BlockDeviceMappings"] if "Ebs" in b]
    assert w["ami_snaps"]
    return w


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:  # noqa: F811
    """A counting (and fault-injecting) proxy in front of moto: the executor's endpoint."""
    with FaultProxy(moto_url) as p:
        yield p


def cfg(url: str, **extra: Any) -> Any:
    src = {"kind": "aws", "endpoint_url": url, "regions": [REGION], "steps": ["inventory"], "max_attempts": 1}
    return parse_config({"sources": {"prod": src}, **extra})


def synced(db: Path, url: str) -> Store:
    [res] = run_sync(db, cfg(url))
    assert res.status == "ok", res.error or res.step_errors
    return Store(db)


def recommend(store: Store, rule: str, rid: str, saving_usd: int) -> int:
    row = store.conn.execute("SELECT resource_name, resource_type, sub_account_id, region_id FROM resources "
                             "WHERE resource_id=?", (rid,)).fetchone()
    assert row is not None, f"{rid} not in the synced inventory"
    cur = store.conn.execute(
        "INSERT INTO recommendations(rule, provider_name, resource_id, resource_name, resource_type, sub_account_id, "
        "region_id, monthly_saving_nanos, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (rule, "AWS", rid, row[0], row[1], row[2], row[3], saving_usd * NANOS, NOW, NOW))
    return int(cur.lastrowid or 0)


def recommend_waste(store: Store, w: dict[str, Any]) -> dict[str, int]:
    return {
        "vol_free": recommend(store, "unattached_volume", w["vol_free"], 8),
        "vol_protected": recommend(store, "unattached_volume", w["vol_protected"], 7),
        "vol_reattach": recommend(store, "unattached_volume", w["vol_reattach"], 6),
        "eip_free": recommend(store, "unused_ip", w["eip_free"], 4),
        "snap_orphan": recommend(store, "obsolete_snapshot", w["snap_orphan"], 3),
        "ami": recommend(store, "obsolete_image", w["ami"], 2),
        "idle": recommend(store, "idle_instance", w["idle"], 50),
    }


def mutating(proxy: FaultProxy) -> dict[str, int]:
    return {op: proxy.count(op) for op in MUTATING if proxy.count(op)}


def moto_state(ec2: Any) -> dict[str, Any]:
    vols = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
    return {
        "volumes": vols,
        "addresses": {a["AllocationId"]: a for a in ec2.describe_addresses()["Addresses"]},
        "snapshots": {s["SnapshotId"]: s for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]},
        "images": {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]},
        "instances": {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
                      for i in r["Instances"]},
    }


def test_cleanup_removes_exactly_the_planned_resources(world: dict[str, Any], proxy: FaultProxy,
                                                       db_path: Path) -> None:
    w, ec2 = world, world["ec2"]
    store = synced(db_path, proxy.url)
    rec_ids = recommend_waste(store, w)
    config = cfg(proxy.url)
    plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=store.is_demo())
    assert not plan.demo
    assert [s.resource_id for s in plan.steps] == [w["idle"], w["vol_free"], w["vol_reattach"], w["eip_free"],
                                                   w["snap_orphan"], w["ami"]]
    assert plan.steps[-1].snapshot_ids == w["ami_snaps"]
    assert [(e.resource_id, e.kind, e.reason) for e in plan.excluded] == [
        (w["vol_protected"], "protected", "protected: tagged costdeck:protect")]
    assert plan.needs_typed_confirmation and plan.confirmation_phrase == "delete 6 resources"
    before = moto_state(ec2)

    # between the plan and the confirmation, someone attaches a planned volume
    ec2.attach_volume(VolumeId=w["vol_reattach"], InstanceId=w["idle"], Device="/dev/sdg")

    # a dry run first: re-reads only
    proxy.clear()
    dry = execute_plan(plan, executor_for(store, config), store, dry_run=True, actor="alice")
    assert mutating(proxy) == {}
    assert [r.status for r in dry] == ["dry-run", "dry-run", "skipped", "dry-run", "dry-run", "dry-run"]
    assert proxy.count("DescribeVolumes") == 2 and proxy.count("DescribeInstances") == 2
    assert moto_state(ec2)["volumes"].keys() == before["volumes"].keys()

    proxy.clear()
    results = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="alice")
    got = {r.step.resource_id: (r.status, r.message) for r in results}
    assert got[w["vol_free"]] == ("ok", "deleted")
    assert got[w["eip_free"]] == ("ok", "released")
    assert got[w["snap_orphan"]] == ("ok", "deleted")
    assert got[w["ami"]] == ("ok", f"deregistered, {len(w['ami_snaps'])} snapshot(s) deleted")
    assert got[w["idle"]][0] == "ok" and got[w["idle"]][1].startswith("stop requested")
    assert got[w["vol_reattach"]] == ("skipped", f"re-attached to {w['idle']} since the plan was made")

    # moto received exactly the planned mutations, once each
    assert mutating(proxy) == {"DeleteVolume": 1, "ReleaseAddress": 1, "DeleteSnapshot": 1 + len(w["ami_snaps"]),
                                     "DeregisterImage": 1, "StopInstances": 1}
    after = moto_state(ec2)
    assert set(before["volumes"]) - set(after["volumes"]) == {w["vol_free"]}
    assert after["volumes"][w["vol_reattach"]]["State"] == "in-use"
    assert w["vol_protected"] in after["volumes"]
    assert set(before["addresses"]) - set(after["addresses"]) == {w["eip_free"]}
    assert set(before["snapshots"]) - set(after["snapshots"]) == {w["snap_orphan"], *w["ami_snaps"]}
    assert w["snap_kept"] in after["snapshots"]
    assert before["images"] - after["images"] == {w["ami"]}
    assert after["instances"][w["idle"]] in ("stopping", "stopped")
    assert after["instances"][w["busy"]] == "running"

    # the audit log: every attempt of both runs
    audit = [dict(r) for r in store.conn.execute("SELECT * FROM actions ORDER BY id")]
    assert len(audit) == 12
    assert [(a["dry_run"], a["result"]) for a in audit[:6]] == [(1, "dry-run")] * 2 + [(1, "skipped")] + \
        [(1, "dry-run")] * 3
    real = {a["resource_id"]: a for a in audit[6:]}
    assert {k: a["result"] for k, a in real.items()} == {w["idle"]: "ok", w["vol_free"]: "ok",
                                                         w["vol_reattach"]: "skipped", w["eip_free"]: "ok",
                                                         w["snap_orphan"]: "ok", w["ami"]: "ok"}
    assert all(a["actor"] == "alice" and a["dry_run"] == 0 and a["sub_account_id"] == ACCOUNT
               and a["region_id"] == REGION and a["provider_name"] == "AWS" for a in real.values())
    assert real[w["vol_reattach"]]["error"] == f"re-attached to {w['idle']} since the plan was made"
    detail = json.loads(real[w["ami"]]["detail"])
    assert detail["deleted_snapshots"] == w["ami_snaps"] and detail["monthly_saving_nanos"] == 2 * NANOS
    assert detail["recommendation_id"] == rec_ids["ami"] and detail["simulated"] is False

    # recommendations and inventory follow
    status = dict(store.conn.execute("SELECT resource_id, status FROM recommendations").fetchall())
    assert status == {w["vol_free"]: "applied", w["vol_protected"]: "open", w["vol_reattach"]: "open",
                      w["eip_free"]: "applied", w["snap_orphan"]: "applied", w["ami"]: "applied", w["idle"]: "applied"}
    left = {r[0] for r in store.conn.execute("SELECT resource_id FROM resources")}
    assert not {w["vol_free"], w["eip_free"], w["snap_orphan"], w["ami"], *w["ami_snaps"]} & left
    assert store.conn.execute("SELECT state FROM resources WHERE resource_id=?", (w["idle"],)).fetchone()[0] == \
        "stopping"


def test_read_only_sends_no_mutating_request(world: dict[str, Any], proxy: FaultProxy, db_path: Path) -> None:
    store = synced(db_path, proxy.url)
    recommend_waste(store, world)
    proxy.clear()
    for config, flag in ((cfg(proxy.url), True), (cfg(proxy.url, read_only=True), False)):
        with pytest.raises(PlanRefused, match="read-only mode: cleanup actions are disabled"):
            build_plan(store.conn, load(store.conn), config, read_only=flag, demo=False)
    assert proxy.counts == {}  # not even a Describe*
    assert store.conn.execute("SELECT count(*) FROM actions").fetchone()[0] == 0


def test_snapshot_first_then_delete(world: dict[str, Any], proxy: FaultProxy, db_path: Path) -> None:
    w, ec2 = world, world["ec2"]
    store = synced(db_path, proxy.url)
    recommend(store, "unattached_volume", w["vol_free"], 8)
    config = cfg(proxy.url, rules={"cleanup": {"snapshot_volumes": True}})
    plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
    assert plan.steps[0].snapshot_first and plan.steps[0].reversible and plan.irreversible == 0
    proxy.clear()
    [res] = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="carol")
    assert res.status == "ok" and res.message == f"snapshot {res.detail['snapshot_id']} taken, volume deleted"
    assert mutating(proxy) == {"CreateSnapshot": 1, "DeleteVolume": 1}
    snap = ec2.describe_snapshots(SnapshotIds=[res.detail["snapshot_id"]])["Snapshots"][0]
    assert snap["VolumeId"] == w["vol_free"] and snap["State"] == "completed"
    assert {"Key": "costdeck:created-by", "Value": "cleanup"} in snap["Tags"]
    assert w["vol_free"] not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}


def test_newly_protected_wrong_account_and_denied(world: dict[str, Any], proxy: FaultProxy,
                                                  db_path: Path) -> None:
    w, ec2 = world, world["ec2"]
    store = synced(db_path, proxy.url)
    recommend(store, "unused_ip", w["eip_free"], 4)
    recommend(store, "unattached_volume", w["vol_free"], 8)
    recommend(store, "obsolete_snapshot", w["snap_orphan"], 3)
    config = cfg(proxy.url)
    plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
    ec2.create_tags(Resources=[w["eip_free"]], Tags=tags(**{"costdeck:protect": "yes"}))
    by_id = {s.resource_id: s for s in plan.steps}
    by_id[w["snap_orphan"]].sub_account_id = "999999999999"  # e.g. the profile points at another account
    proxy.clear()
    proxy.add_fault("DeleteVolume", status=403, code="UnauthorizedOperation",
                          message="You are not authorized to perform this operation.")
    results = {r.step.resource_id: r for r in execute_plan(plan, executor_for(store, config), store, dry_run=False,
                                                             actor="dan")}
    assert results[w["eip_free"]].status == "skipped"
    assert results[w["eip_free"]].message == "protected: tagged costdeck:protect (newly, since the plan was made)"
    assert results[w["snap_orphan"]].status == "skipped"
    assert results[w["snap_orphan"]].message == ("wrong account: the credentials are for account 123456789012, the "
                                                 "resource is in 999999999999")
    assert results[w["vol_free"]].status == "failed"
    assert results[w["vol_free"]].error.startswith("access denied on DeleteVolume (UnauthorizedOperation)")
    assert mutating(proxy) == {"DeleteVolume": 1}  # refused by the proxy; nothing else was attempted
    state = moto_state(ec2)
    assert w["eip_free"] in state["addresses"] and w["vol_free"] in state["volumes"]
    assert w["snap_orphan"] in state["snapshots"]
    audit = dict(store.conn.execute("SELECT resource_id, result FROM actions").fetchall())
    assert audit == {w["eip_free"]: "skipped", w["vol_free"]: "failed", w["snap_orphan"]: "skipped"}


def test_expired_credentials_stop_the_batch(world: dict[str, Any], proxy: FaultProxy, db_path: Path) -> None:
    w, ec2 = world, world["ec2"]
    store = synced(db_path, proxy.url)
    recommend(store, "idle_instance", w["idle"], 50)
    recommend(store, "unattached_volume", w["vol_free"], 8)
    recommend(store, "unused_ip", w["eip_free"], 4)
    config = cfg(proxy.url)
    plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
    proxy.clear()
    proxy.add_fault("DescribeVolumes", times=-1, **EXPIRED)
    results = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="erin")
    assert [(r.step.resource_id, r.status) for r in results] == [
        (w["idle"], "ok"), (w["vol_free"], "failed"), (w["eip_free"], "not-run")]
    assert results[1].error is not None and results[1].error.startswith("credentials expired")
    assert mutating(proxy) == {"StopInstances": 1}
    assert proxy.count("DescribeAddresses") == 0 and proxy.count("ReleaseAddress") == 0
    assert w["eip_free"] in moto_state(ec2)["addresses"]
    rows = store.conn.execute("SELECT resource_id, result FROM actions ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(w["idle"], "ok"), (w["vol_free"], "failed")]


async def test_clean_up_through_the_app(world: dict[str, Any], proxy: FaultProxy, db_path: Path) -> None:
    """The confirm screen in the real app, acting on moto: dry run, typed phrase, results, audit."""
    from textual.widgets import DataTable, Input

    from tui.app import CostdeckApp
    from tui.screens.cleanup import CleanupScreen, open_cleanup

    w, ec2 = world, world["ec2"]
    synced(db_path, proxy.url).close()
    with Store(db_path) as store:
        recommend_waste(store, w)
    config = cfg(proxy.url)
    before = moto_state(ec2)

    async def settle(pilot: Any) -> None:
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    def results_column(screen: Any) -> dict[str, str]:
        t = screen.query_one("#plan-results", DataTable)
        return {str(t.get_cell(r.key, "id")): str(t.get_cell(r.key, "result")) for r in t.ordered_rows}

    # read-only: the screen refuses to open and moto hears nothing
    app = CostdeckApp(db_path, config=config, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with Store(db_path) as store:
            plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
        proxy.clear()
        assert open_cleanup(app, plan) is False
        app.push_screen(CleanupScreen(plan))
        await settle(pilot)
        await pilot.press("t", "enter", "y")
        await settle(pilot)
        assert not isinstance(app.screen, CleanupScreen)
    assert proxy.counts == {}

    app = CostdeckApp(db_path, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.read(lambda c: build_plan(c, load(c), config, read_only=app.read_only, demo=False))
        assert open_cleanup(app, plan)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CleanupScreen)
        # someone attaches a planned volume while the operator reads the plan
        ec2.attach_volume(VolumeId=w["vol_reattach"], InstanceId=w["busy"], Device="/dev/sdh")
        proxy.clear()
        await pilot.press("enter")  # dry run
        await settle(pilot)
        assert mutating(proxy) == {}
        assert results_column(screen)[w["vol_reattach"]].startswith("skipped: re-attached to")
        await pilot.press("t", "enter")
        await settle(pilot)
        screen.query_one("#confirm-input", Input).value = "delete 6 resources"
        await pilot.press("enter")
        await settle(pilot)
        got = results_column(screen)
        assert got[w["vol_free"]] == "ok: deleted" and got[w["eip_free"]] == "ok: released"
        assert got[w["vol_reattach"]].startswith(f"skipped: re-attached to {w['busy']}")
        assert sum(v.startswith("ok: ") for v in got.values()) == 5
        await pilot.press("escape")
        await settle(pilot)
    assert mutating(proxy) == {"DeleteVolume": 1, "ReleaseAddress": 1, "DeleteSnapshot": 1 + len(w["ami_snaps"]),
                               "DeregisterImage": 1, "StopInstances": 1}
    after = moto_state(ec2)
    assert set(before["volumes"]) - set(after["volumes"]) == {w["vol_free"]}
    assert w["vol_protected"] in after["volumes"] and after["volumes"][w["vol_reattach"]]["State"] == "in-use"
    assert set(before["addresses"]) - set(after["addresses"]) == {w["eip_free"]}
    assert set(before["snapshots"]) - set(after["snapshots"]) == {w["snap_orphan"], *w["ami_snaps"]}
    assert before["images"] - after["images"] == {w["ami"]}
    with Store(db_path) as store:
        rows = store.conn.execute("SELECT dry_run, result, count(*) FROM actions GROUP BY 1, 2 ORDER BY 1, 2")
        assert [tuple(r) for r in rows] == [(0, "ok", 5), (0, "skipped", 1), (1, "dry-run", 5), (1, "skipped", 1)]
