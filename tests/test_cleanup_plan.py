"""Cleanup planning, guards and audit-logged execution over a small hand-built inventory.

The executor here is the demo executor (it re-checks and acts on the `resources` rows of the
cache), plus two fakes for failures; AWS itself is in test_cleanup_aws.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analysis.cleanup import (
    DEFAULT_BATCH_LIMIT,
    PlanRefused,
    build_plan,
    execute_plan,
    executor_for,
    settings,
)
from analysis.recommendations.model import Recommendation, load
from cache import Store
from providers.actions import DemoExecutor, Executor, LiveState, PlanStep
from providers.aws.adapter import AwsOptions
from providers.base import FatalSourceError
from providers.config import Config, ProtectionConfig, SourceConfig, parse_config

NOW = "2026-11-27T09:00:00+00:00"
ACCT = "123456789012"
NANOS = 1_000_000_000


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)


class Inv:
    """A tiny inventory + recommendations in a real cache file."""

    def __init__(self, path: Path, kind: str = "demo") -> None:
        self.store = Store(path)
        self.source_id = self.store.ensure_source("src", kind, {})
        if kind == "demo":
            self.store.set_meta("demo", "1")

    def res(self, rid: str, rtype: str, *, state: str | None = None, attached_to: str | None = None,
            tags: dict[str, str] | None = None, provider: str = "AWS", lifecycle: str | None = None,
            name: str | None = None, region: str = "us-east-1", **props: Any) -> str:
        self.store.upsert("resources", [{
            "source_id": self.source_id, "provider_name": provider, "resource_id": rid, "resource_name": name or rid,
            "resource_type": rtype, "sub_account_id": ACCT, "region_id": region, "state": state,
            "attached_to": attached_to, "lifecycle": lifecycle, "first_seen": NOW, "last_seen": NOW,
            "tags": tags or {}, "properties": props,
        }], pk=("provider_name", "resource_id"))
        return rid

    def rec(self, rule: str, rid: str, saving_usd: int = 10, provider: str = "AWS", **detail: Any) -> int:
        cur = self.store.conn.execute(
            "INSERT INTO recommendations(rule, provider_name, resource_id, resource_name, sub_account_id, region_id, "
            "detail, monthly_saving_nanos, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (rule, provider, rid, rid, ACCT, "us-east-1", json.dumps(detail), saving_usd * NANOS, NOW, NOW))
        return int(cur.lastrowid or 0)

    def recs(self) -> list[Recommendation]:
        return load(self.store.conn, statuses=None)

    def plan(self, config: Config | None = None, **kw: Any) -> Any:
        return build_plan(self.store.conn, self.recs(), config or Config(), read_only=False, demo=True, **kw)

    def row(self, rid: str) -> dict[str, Any] | None:
        r = self.store.conn.execute("SELECT * FROM resources WHERE resource_id=?", (rid,)).fetchone()
        return dict(r) if r else None

    def audit(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.store.conn.execute("SELECT * FROM actions ORDER BY id")]

    def status(self, rec_id: int) -> str:
        return str(self.store.conn.execute("SELECT status FROM recommendations WHERE id=?", (rec_id,)).fetchone()[0])


@pytest.fixture
def inv(tmp_path: Path) -> Inv:
    return Inv(tmp_path / "c.db")


def steps_by_id(plan: Any) -> dict[str, PlanStep]:
    return {s.resource_id: s for s in plan.steps}


def excluded_by_id(plan: Any) -> dict[str, tuple[str, str]]:
    return {e.resource_id: (e.kind, e.reason) for e in plan.excluded}


# -- plan ----------------------------------------------------------------------------------------------


def test_each_rule_maps_to_its_step_or_says_why_not(inv: Inv) -> None:
    inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available"), 8)
    inv.rec("unused_ip", inv.res("eipalloc-1", "elastic_ip", state="unassociated"), 4)
    inv.rec("obsolete_snapshot", inv.res("snap-1", "snapshot", state="completed", images=[]), 2)
    inv.res("snap-img", "snapshot", state="completed", images=["ami-1"])
    inv.rec("obsolete_image", inv.res("ami-1", "image", state="available", snapshot_ids=["snap-img"],
                                      instances=[]), 3)
    inv.rec("idle_instance", inv.res("i-idle", "instance", state="running", lifecycle="on-demand"), 50)
    inv.rec("stopped_instance", inv.res("i-stopped", "instance", state="stopped"), 9)
    inv.rec("rightsizing", inv.res("i-big", "instance", state="running"), 30)
    inv.rec("previous_generation", "i-big", 5)
    inv.rec("open_security_group", inv.res("sg-1", "security_group"), 0)
    inv.rec("unattached_volume", inv.res("disk-az", "volume", state="Unattached", provider="Microsoft"), 7,
            provider="Microsoft")
    inv.rec("stopped_instance", inv.res("vm-az", "instance", state="stopped", provider="Microsoft"), 70,
            provider="Microsoft")

    plan = inv.plan()
    steps = steps_by_id(plan)
    assert {k: s.action for k, s in steps.items()} == {
        "vol-1": "delete_volume", "eipalloc-1": "release_address", "snap-1": "delete_snapshot",
        "ami-1": "deregister_image", "i-idle": "stop_instance"}
    assert steps["ami-1"].snapshot_ids == ["snap-img"]
    assert steps["vol-1"].preconditions == {"state": "available", "attached": False}
    assert steps["i-idle"].preconditions == {"state": "running", "spot": False}
    assert steps["snap-1"].preconditions == {"state": "completed", "in_use": False}
    assert [s.reversible for s in plan.steps] == [s.action == "stop_instance" for s in plan.steps]
    assert plan.total_saving == (8 + 4 + 2 + 3 + 50) * NANOS
    assert steps["vol-1"].sub_account_id == ACCT and steps["vol-1"].region_id == "us-east-1"
    assert steps["vol-1"].recommendation_id is not None and steps["vol-1"].rule == "unattached_volume"

    excl = {(e.resource_id, e.rule): (e.kind, e.reason) for e in plan.excluded}
    assert excl[("i-stopped", "stopped_instance")][0] == "not-actionable"
    assert "snapshot and delete the volumes" in excl[("i-stopped", "stopped_instance")][1]
    assert excl[("i-big", "rightsizing")][0] == "not-actionable"
    assert excl[("i-big", "previous_generation")][0] == "not-actionable"
    assert "security finding" in excl[("sg-1", "open_security_group")][1]
    assert excl[("vm-az", "stopped_instance")][0] == "not-supported"
    assert "deallocate the VM (az vm deallocate)" in excl[("vm-az", "stopped_instance")][1]
    assert excl[("disk-az", "unattached_volume")] == (
        "not-supported", "not supported yet: cleanup actions run on AWS, Google Cloud only, not Microsoft")


def test_protected_resources_are_excluded_with_the_reason(inv: Inv) -> None:
    inv.rec("unattached_volume", inv.res("vol-tag", "volume", state="available", tags={"costdeck:protect": ""}))
    inv.rec("unattached_volume", inv.res("vol-cfgtag", "volume", state="available", tags={"keep": "yes"}))
    inv.rec("unattached_volume", inv.res("vol-cfgtag-other", "volume", state="available", tags={"keep": "no"}))
    inv.rec("unattached_volume", inv.res("vol-listed", "volume", state="available"))
    inv.rec("unused_ip", inv.res("eipalloc-p", "elastic_ip", state="unassociated"), protected=True,
            protected_by="tag owner=ops")
    inv.rec("unattached_volume", inv.res("vol-ok", "volume", state="available"))
    config = Config(protection=ProtectionConfig(tags=["keep=yes"], resource_ids=["vol-listed"]))

    plan = inv.plan(config)
    assert sorted(s.resource_id for s in plan.steps) == ["vol-cfgtag-other", "vol-ok"]
    excl = excluded_by_id(plan)
    assert excl["vol-tag"] == ("protected", "protected: tagged costdeck:protect")
    assert excl["vol-cfgtag"] == ("protected", "protected: tagged keep=yes ([protection] tags)")
    assert excl["vol-listed"] == ("protected", "protected: listed in [protection] resource_ids")
    assert excl["eipalloc-p"] == ("protected", "protected: tag owner=ops")


def test_exclusions_dismissed_applied_stale_and_gone(inv: Inv) -> None:
    inv.rec("unattached_volume", inv.res("vol-excl", "volume", state="available"))
    inv.store.conn.execute("INSERT INTO exclusions(provider_name, resource_id, rule, reason, created_at) "
                           "VALUES ('AWS', 'vol-excl', NULL, 'legal hold', ?)", (NOW,))
    inv.rec("unattached_volume", inv.res("vol-attached", "volume", state="in-use", attached_to="i-9"))
    inv.rec("unused_ip", inv.res("eipalloc-assoc", "elastic_ip", state="associated", attached_to="i-9"))
    inv.rec("idle_instance", inv.res("i-spot", "instance", state="running", lifecycle="spot"))
    inv.rec("idle_instance", inv.res("i-down", "instance", state="stopped"))
    inv.rec("obsolete_image", inv.res("ami-used", "image", state="available", instances=["i-9"]))
    inv.rec("unattached_volume", "vol-gone")
    d = inv.rec("unattached_volume", inv.res("vol-dismissed", "volume", state="available"))
    a = inv.rec("unattached_volume", inv.res("vol-applied", "volume", state="available"))
    inv.store.conn.execute("UPDATE recommendations SET status='dismissed', status_reason='kept for DR' WHERE id=?",
                           (d,))
    inv.store.conn.execute("UPDATE recommendations SET status='applied' WHERE id=?", (a,))

    plan = inv.plan()
    assert plan.steps == []
    excl = excluded_by_id(plan)
    assert excl["vol-excl"] == ("excluded", "excluded: legal hold")
    assert excl["vol-attached"] == ("stale", "attached to i-9 (as of the last sync)")
    assert excl["eipalloc-assoc"] == ("stale", "associated with i-9 (as of the last sync)")
    assert excl["i-spot"][0] == "stale" and excl["i-spot"][1].startswith("spot instance")
    assert excl["i-down"] == ("stale", "state is stopped (as of the last sync) (expected running)")
    assert excl["ami-used"] == ("stale", "in use by i-9 (as of the last sync)")
    assert excl["vol-gone"][0] == "stale" and excl["vol-gone"][1].startswith("gone")
    assert excl["vol-dismissed"] == ("status", "dismissed: kept for DR")
    assert excl["vol-applied"] == ("status", "already applied")


def test_snapshot_of_a_planned_image_is_not_a_second_step(inv: Inv) -> None:
    inv.res("snap-a", "snapshot", state="completed", images=["ami-1"])
    inv.res("snap-p", "snapshot", state="completed", images=["ami-1"], tags={"costdeck:protect": "1"})
    inv.rec("obsolete_image", inv.res("ami-1", "image", state="available", snapshot_ids=["snap-a", "snap-p"]))
    inv.rec("obsolete_snapshot", "snap-a")
    plan = inv.plan()
    assert [s.resource_id for s in plan.steps] == ["ami-1"]
    assert plan.steps[0].snapshot_ids == ["snap-a"]  # the protected snapshot is kept
    assert "protected snapshot(s) kept: snap-p" in plan.steps[0].undo
    assert excluded_by_id(plan)["snap-a"] == ("duplicate", "deleted with image ami-1")


def test_read_only_refuses_to_plan(inv: Inv) -> None:
    inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available"))
    with pytest.raises(PlanRefused, match="read-only mode"):
        build_plan(inv.store.conn, inv.recs(), Config(), read_only=True, demo=True)
    with pytest.raises(PlanRefused, match="read-only mode"):
        build_plan(inv.store.conn, inv.recs(), Config(read_only=True), read_only=False, demo=True)


def test_batch_limit_cuts_runaway_plans_and_lists_the_rest(inv: Inv) -> None:
    for i in range(30):
        inv.rec("unattached_volume", inv.res(f"vol-{i:02d}", "volume", state="available"), 30 - i)
    plan = inv.plan()
    assert len(plan.steps) == DEFAULT_BATCH_LIMIT == 25
    over = [e for e in plan.excluded if e.kind == "over-limit"]
    assert len(over) == 5 and "batch limit of 25" in over[0].reason
    # largest saving first (load's order), the smallest 5 are cut
    assert sorted(e.resource_id for e in over) == [f"vol-{i:02d}" for i in range(25, 30)]
    config = parse_config({"rules": {"cleanup": {"batch_limit": 3, "confirm_threshold": 1,
                                                 "snapshot_volumes": True}}})
    plan = inv.plan(config)
    assert len(plan.steps) == 3 and plan.confirm_threshold == 1
    assert all(s.snapshot_first and s.reversible for s in plan.steps)
    assert plan.steps[0].undo.startswith("create a volume from the snapshot")


@pytest.mark.parametrize("table, message", [
    ({"batch_limit": 0}, "rules.cleanup.batch_limit: expected a whole number from 1 to 500"),
    ({"batch_limit": "10"}, "rules.cleanup.batch_limit: expected a whole number from 1 to 500"),
    ({"confirm_threshold": True}, "rules.cleanup.confirm_threshold: expected a whole number from 0 to 100"),
    ({"snapshot_volumes": "yes"}, "rules.cleanup.snapshot_volumes: expected true or false"),
    ({"dry_run": False}, "rules.cleanup.dry_run: unknown"),
])
def test_bad_cleanup_settings_are_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanRefused, match=message.replace(".", r"\.")):
        settings(Config(rules={"cleanup": table}))


def test_typed_confirmation_threshold_and_phrase(inv: Inv) -> None:
    for i in range(6):
        inv.rec("idle_instance", inv.res(f"i-{i}", "instance", state="running"), 10 + i)
    plan = inv.plan(confirm_threshold=6)
    assert len(plan.steps) == 6 and plan.irreversible == 0
    assert not plan.needs_typed_confirmation  # reversible and not over the threshold
    plan = inv.plan()  # default threshold 5
    assert plan.needs_typed_confirmation and plan.confirmation_phrase == "stop 6 resources"
    assert plan.confirmed_by("stop 6 resources") and plan.confirmed_by("  stop 6 resources ")
    for wrong in ("", "y", "yes", "stop 5 resources", "Stop 6 resources", "stop 6 resource", "6"):
        assert not plan.confirmed_by(wrong)
    inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available"), 1)
    plan = inv.plan(confirm_threshold=50)
    assert plan.irreversible == 1 and plan.needs_typed_confirmation  # one irreversible step is enough
    assert plan.confirmation_phrase == "delete 7 resources"


# -- execution -------------------------------------------------------------------------------------


def test_dry_run_changes_nothing_and_logs_every_attempt(inv: Inv) -> None:
    v = inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available"), 8)
    inv.rec("idle_instance", inv.res("i-1", "instance", state="running"), 40)
    before = inv.store.table_counts()
    plan = inv.plan()
    results = execute_plan(plan, executor_for(inv.store, Config()), inv.store, dry_run=True, actor="alice")
    assert [(r.step.resource_id, r.status) for r in results] == [("i-1", "dry-run"), ("vol-1", "dry-run")]
    assert results[1].message == "would delete volume vol-1 — simulated (demo)"
    assert inv.row("vol-1") is not None and inv.row("i-1")["state"] == "running"  # type: ignore[index]
    assert inv.status(v) == "open"
    audit = inv.audit()
    assert [(a["actor"], a["action"], a["resource_id"], a["dry_run"], a["result"]) for a in audit] == [
        ("alice", "stop_instance", "i-1", 1, "dry-run"), ("alice", "delete_volume", "vol-1", 1, "dry-run")]
    assert audit[1]["at"] == NOW and audit[1]["region_id"] == "us-east-1" and audit[1]["sub_account_id"] == ACCT
    detail = json.loads(audit[1]["detail"])
    assert detail["monthly_saving_nanos"] == 8 * NANOS and detail["recommendation_id"] == v
    assert detail["simulated"] is True and detail["reversible"] is False
    after = inv.store.table_counts()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"actions": 2}


def test_execution_rechecks_acts_and_marks_applied(inv: Inv) -> None:
    ids = {
        "vol-ok": inv.rec("unattached_volume", inv.res("vol-ok", "volume", state="available"), 8),
        "vol-reattached": inv.rec("unattached_volume", inv.res("vol-reattached", "volume", state="available"), 7),
        "eipalloc-tagged": inv.rec("unused_ip", inv.res("eipalloc-tagged", "elastic_ip", state="unassociated"), 4),
        "snap-gone": inv.rec("obsolete_snapshot", inv.res("snap-gone", "snapshot", state="completed"), 2),
        "i-1": inv.rec("idle_instance", inv.res("i-1", "instance", state="running"), 40),
        "i-started-stopping": inv.rec("idle_instance", inv.res("i-started-stopping", "instance", state="running"), 30),
    }
    inv.res("snap-i", "snapshot", state="completed", images=["ami-1"])
    ids["ami-1"] = inv.rec("obsolete_image", inv.res("ami-1", "image", state="available", snapshot_ids=["snap-i"]), 3)
    plan = inv.plan()
    assert len(plan.steps) == 7
    # the world changes between the plan and the confirmation
    conn = inv.store.conn
    conn.execute("UPDATE resources SET state='in-use', attached_to='i-9' WHERE resource_id='vol-reattached'")
    conn.execute("UPDATE resources SET tags='{\"costdeck:protect\": \"\"}' WHERE resource_id='eipalloc-tagged'")
    conn.execute("DELETE FROM resources WHERE resource_id='snap-gone'")
    conn.execute("UPDATE resources SET state='stopping' WHERE resource_id='i-started-stopping'")

    results = execute_plan(plan, executor_for(inv.store, Config()), inv.store, dry_run=False, actor="bob")
    got = {r.step.resource_id: (r.status, r.message) for r in results}
    assert got["vol-ok"] == ("ok", "deleted — simulated (demo)")
    assert got["i-1"] == ("ok", "stop requested — simulated (demo)")
    assert got["ami-1"] == ("ok", "deregistered, 1 snapshot(s) deleted — simulated (demo)")
    assert got["vol-reattached"] == ("skipped", "re-attached to i-9 since the plan was made — simulated (demo)")
    assert got["eipalloc-tagged"] == (
        "skipped", "protected: tagged costdeck:protect (newly, since the plan was made) — simulated (demo)")
    assert got["snap-gone"] == ("skipped", "gone: the snapshot no longer exists — simulated (demo)")
    assert got["i-started-stopping"][0] == "skipped"
    assert "state changed to stopping since the plan was made (expected running)" in got["i-started-stopping"][1]

    assert inv.row("vol-ok") is None and inv.row("ami-1") is None and inv.row("snap-i") is None
    assert inv.row("i-1")["state"] == "stopped"  # type: ignore[index]
    assert inv.row("vol-reattached") is not None and inv.row("eipalloc-tagged") is not None
    assert {k: inv.status(v) for k, v in ids.items()} == {
        "vol-ok": "applied", "vol-reattached": "open", "eipalloc-tagged": "open", "snap-gone": "open",
        "i-1": "applied", "i-started-stopping": "open", "ami-1": "applied"}
    reason = conn.execute("SELECT status_reason FROM recommendations WHERE id=?", (ids["vol-ok"],)).fetchone()[0]
    assert reason == f"delete volume simulated (demo) by bob at {NOW}"
    audit = {a["resource_id"]: a for a in inv.audit()}
    assert len(audit) == 7 and all(a["dry_run"] == 0 and a["actor"] == "bob" for a in audit.values())
    assert audit["vol-reattached"]["result"] == "skipped"
    assert audit["vol-reattached"]["error"].startswith("re-attached to i-9")
    assert audit["ami-1"]["result"] == "ok"
    assert json.loads(audit["ami-1"]["detail"])["deleted_snapshots"] == ["snap-i"]


def test_snapshot_first_in_the_demo_keeps_a_simulated_snapshot(inv: Inv) -> None:
    inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available", size_gib=100))
    plan = inv.plan(snapshot_volumes=True)
    [res] = execute_plan(plan, executor_for(inv.store, Config()), inv.store, dry_run=False, actor="c")
    assert res.status == "ok" and res.message.startswith("snapshot snap-demo-")
    snap = inv.row(res.detail["snapshot_id"])
    assert snap is not None and snap["resource_type"] == "snapshot"
    assert json.loads(snap["properties"])["volume_id"] == "vol-1"
    assert inv.row("vol-1") is None


class _Flaky(Executor):
    """Fails on chosen resources: a plain error, or an expired-credentials error."""

    def __init__(self, boom: str, fatal: str) -> None:
        super().__init__()
        self.boom, self.fatal = boom, fatal
        self.acted: list[str] = []

    def live(self, step: PlanStep) -> LiveState:
        if step.resource_id == self.fatal:
            raise FatalSourceError("credentials expired: run `aws sso login --profile prod` or refresh them")
        return LiveState(exists=True, state="available")

    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        if step.resource_id == self.boom:
            raise RuntimeError("the API said no")
        self.acted.append(step.resource_id)
        return "deleted", {}


def test_step_errors_do_not_stop_the_batch_but_credential_errors_do(inv: Inv) -> None:
    for i, n in enumerate(("vol-a", "vol-boom", "vol-c", "vol-fatal", "vol-e")):
        inv.rec("unattached_volume", inv.res(n, "volume", state="available"), 50 - i)
    plan = inv.plan()
    assert [s.resource_id for s in plan.steps] == ["vol-a", "vol-boom", "vol-c", "vol-fatal", "vol-e"]
    ex = _Flaky("vol-boom", "vol-fatal")
    results = execute_plan(plan, ex, inv.store, dry_run=False, actor="d")
    assert [(r.step.resource_id, r.status) for r in results] == [
        ("vol-a", "ok"), ("vol-boom", "failed"), ("vol-c", "ok"), ("vol-fatal", "failed"), ("vol-e", "not-run")]
    assert results[1].error == "RuntimeError: the API said no"
    assert results[3].error == "credentials expired: run `aws sso login --profile prod` or refresh them"
    assert results[4].message.startswith("not attempted: the batch stopped (credentials expired")
    assert ex.acted == ["vol-a", "vol-c"]
    # every attempt is logged; the step never attempted is not
    assert [(a["resource_id"], a["result"]) for a in inv.audit()] == [
        ("vol-a", "ok"), ("vol-boom", "failed"), ("vol-c", "ok"), ("vol-fatal", "failed")]
    assert inv.audit()[1]["error"] == "RuntimeError: the API said no"
    # not simulated: the inventory mirrors what was done
    assert inv.row("vol-a") is None and inv.row("vol-boom") is not None and inv.row("vol-e") is not None


def test_real_sources_need_a_configured_aws_source(tmp_path: Path) -> None:
    inv = Inv(tmp_path / "real.db", kind="aws")
    inv.rec("unattached_volume", inv.res("vol-1", "volume", state="available"))
    plan = build_plan(inv.store.conn, inv.recs(), Config(), read_only=False, demo=False)
    [res] = execute_plan(plan, executor_for(inv.store, Config()), inv.store, dry_run=True, actor="e")
    assert res.status == "skipped"
    assert res.message == "source 'src' is not in the config file: costdeck cannot tell which credentials to use"
    assert inv.audit()[0]["result"] == "skipped"
    resolve = executor_for(inv.store, Config(sources={"src": SourceConfig("src", "aws", AwsOptions(region="us-east-1"))}))
    assert type(resolve(plan.steps[0])).__name__ == "AwsExecutor"
    assert not isinstance(resolve(plan.steps[0]), DemoExecutor)
