"""Google Cloud cleanup: the GcpExecutor against tests/fake_gcp.py (what the fake received), and the
`report recommendations --script gcp` gcloud script (injection-proof, run with a fake gcloud)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analysis.cleanup import Plan, build_plan, execute_plan, executor_for, export_script
from analysis.recommendations.model import load
from cache import Store
from providers.actions import PlanStep
from providers.config import load_config
from providers.gcp import client as gcp_client
from tests.fake_gcp import DETAILED, TOKEN, FakeGcp, reset_world, seed_world
from tests.test_gcp_inventory import NOW, NOW_DT
from tui.cli import main

LATER = "2025-03-17T12:00:00+00:00"
CRN = "//compute.googleapis.com/projects/shop-prod/"
MUTATING = r"^(DELETE|POST) /compute/v1/.*(?<!/wait)$"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One fake and one cache synced from it twice (the second time two days later), rules computed.
    No cost step: the rules fire on inventory and metrics alone (savings unknown)."""
    tmp = tmp_path_factory.mktemp("gclean")
    f = FakeGcp()
    f.url = f.start()  # type: ignore[attr-defined]
    seed_world(f, NOW_DT)
    f.operation_polls = 2
    config = tmp / "gcp.toml"
    config.write_text(
        f'[sources.gprod]\nkind = "gcp"\nbilling_export_table = "{DETAILED}"\nprojects = ["shop-prod"]\n'
        f'endpoint = "{f.url}"\nsteps = ["inventory", "metrics"]\n'  # type: ignore[attr-defined]
        f'[protection]\ntags = ["keep=yes"]\n', encoding="utf-8")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("COSTDECK_GCP_TOKEN", TOKEN)
        mp.setenv("COSTDECK_DB", str(tmp / "gcp.db"))
        mp.setattr(gcp_client, "SLEEP", lambda s: None)
        for now in (NOW, LATER):
            mp.setenv("COSTDECK_NOW", now)
            assert main(["sync", "--config", str(config)]) == 0
    finally:
        mp.undo()
    yield f, tmp / "gcp.db", config
    f.stop()


@pytest.fixture
def world(template: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A copy of the synced cache and the fake's world as it was seeded (cleanup changes both)."""
    f, db0, config = template
    reset_world(f, NOW_DT)
    db = tmp_path / "gcp.db"
    shutil.copyfile(db0, db)
    monkeypatch.setenv("COSTDECK_GCP_TOKEN", TOKEN)
    monkeypatch.setenv("COSTDECK_DB", str(db))
    monkeypatch.setenv("COSTDECK_NOW", LATER)
    waits: list[float] = []
    monkeypatch.setattr(gcp_client, "SLEEP", waits.append)
    return f, db, load_config(config)


def plan_for(store: Store, config: Any, **kw: Any) -> Plan:
    return build_plan(store.conn, load(store.conn), config, read_only=False, demo=False, **kw)


def test_executor_acts_waits_for_operations_and_skips_what_changed(world: Any) -> None:
    fake, db, config = world
    with Store(db) as store:
        plan = plan_for(store, config)
        planned = {s.resource_id: s.action for s in plan.steps}
        assert planned == {
            CRN + "zones/us-central1-a/instances/batch-1": "stop_instance",
            CRN + "zones/us-central1-a/disks/old-data": "delete_volume",
            CRN + "regions/us-central1/addresses/idle-ip": "release_address",
            CRN + "global/snapshots/snap-orphan": "delete_snapshot",
            CRN + "global/images/img-old": "deregister_image",
        }
        assert not any("not supported" in e.reason for e in plan.excluded)

        # a dry run re-reads every resource and changes nothing
        dry = execute_plan(plan, executor_for(store, config), store, dry_run=True, actor="alice")
        assert [r.status for r in dry] == ["dry-run"] * 5 and not fake.calls(MUTATING), [(r.message, r.error) for r in dry]

        # between the plan and the run: the address is attached, the image gets a protection label
        addr = next(a for a in fake.addresses["shop-prod"] if a["name"] == "idle-ip")
        addr.update(status="IN_USE", users=[addr["selfLink"].replace("regions/us-central1/addresses/idle-ip",
                                                                     "zones/us-central1-a/instances/web-1")])
        next(i for i in fake.images["shop-prod"] if i["name"] == "img-old")["labels"] = {"keep": "yes"}
        fake.clear()
        results = {r.step.resource_id.rsplit("/", 1)[-1]: r for r in
                   execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="alice")}
        assert {k: r.status for k, r in results.items()} == {
            "batch-1": "ok", "old-data": "ok", "idle-ip": "skipped", "snap-orphan": "ok", "img-old": "skipped"}
        assert results["idle-ip"].message.startswith("associated with " + CRN + "zones/us-central1-a/instances/web-1")
        assert results["img-old"].message == "protected: tagged keep=yes ([protection] tags) (newly, since the plan was made)"

        # the fake received exactly the planned mutations, each polled to DONE (2 x RUNNING, then DONE)
        assert sorted(f"{c['method']} {c['path']}" for c in fake.calls(MUTATING)) == [
            "DELETE /compute/v1/projects/shop-prod/global/snapshots/snap-orphan",
            "DELETE /compute/v1/projects/shop-prod/zones/us-central1-a/disks/old-data",
            "POST /compute/v1/projects/shop-prod/zones/us-central1-a/instances/batch-1/stop",
        ]
        assert len(fake.calls(r"/operations/[^/]+/wait$")) == 3 * 3
        assert {d["name"] for d in fake.disks["shop-prod"]} >= {"web-1"} and "old-data" not in {
            d["name"] for d in fake.disks["shop-prod"]}
        assert next(i for i in fake.instances["shop-prod"] if i["name"] == "batch-1")["status"] == "TERMINATED"
        audit = store.conn.execute("SELECT resource_id, result, dry_run FROM actions WHERE dry_run=0").fetchall()
        assert len(audit) == 5 and {r[1] for r in audit} == {"ok", "skipped"}


def test_snapshot_first_and_a_failed_operation(world: Any) -> None:
    fake, db, config = world
    with Store(db) as store:
        plan = plan_for(store, config, snapshot_volumes=True)
        plan.steps = [s for s in plan.steps if s.action in ("delete_volume", "delete_snapshot")]
        fake.fail_ops.add("snap-orphan")
        results = {r.step.action: r for r in
                   execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="bob")}
    vol = results["delete_volume"]
    assert vol.status == "ok" and vol.message.startswith("snapshot old-data-costdeck-") and vol.step.reversible
    assert "gcloud compute disks create --source-snapshot" in vol.step.undo
    order = [f"{c['method']} {c['path'].rsplit('/', 1)[-1]}" for c in fake.calls(r"/disks/old-data|/operations/")]
    # the disk is deleted only after the snapshot's operation is DONE (2 polls RUNNING, then DONE)
    i = order.index("POST createSnapshot")
    assert order[i:i + 5] == ["POST createSnapshot"] + ["POST wait"] * 3 + ["DELETE old-data"]
    snap = next(s for s in fake.snapshots["shop-prod"] if s["name"].startswith("old-data-costdeck-"))
    assert snap["sourceDisk"].endswith("/disks/old-data")
    failed = results["delete_snapshot"]
    assert failed.status == "failed" and "injected operation failure" in (failed.error or "")
    assert "snap-orphan" in {s["name"] for s in fake.snapshots["shop-prod"]}


def test_expired_token_stops_the_batch(world: Any) -> None:
    fake, db, config = world
    with Store(db) as store:
        plan = plan_for(store, config)
        fake.add_fault(r"GET /compute/v1/projects/shop-prod/zones/us-central1-a/disks/old-data$", 401, times=-1)
        results = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="erin")
        got = [(r.step.resource_id.rsplit("/", 1)[-1], r.status) for r in results]
        k = got.index(("old-data", "failed"))
        assert {g[1] for g in got[:k]} == {"ok"} and {g[1] for g in got[k + 1:]} == {"not-run"} and k < len(got) - 1
        assert "401 Unauthorized" in (results[k].error or "")
        rows = store.conn.execute("SELECT result FROM actions ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["ok"] * k + ["failed"]  # nothing after the expired token was attempted
    assert len(fake.calls(MUTATING)) == k


# -- the gcloud script ---------------------------------------------------------------------------------

BASH = shutil.which("bash")
FAKE_GCLOUD = """#!{python}
import json, os, sys
with open(os.environ["FAKE_GCLOUD_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["projects", "describe"]:
    print(sys.argv[3] if sys.argv[3] in os.environ.get("FAKE_PROJECTS", "").split(",") else "")
"""
EVIL_NAME = "db'\"; $(touch pwned-name) `touch pwned-tick`; rm -rf ~\nexport X=1 # \x1b[31mred"
EVIL_ID = CRN + "zones/us-central1-a/disks/x'; touch pwned-id; echo '"
EVIL_PROJECT = "//compute.googleapis.com/projects/$(touch pwned-proj)/global/images/img"


def run_script(script: str, tmp_path: Path, *args: str, projects: str = "shop-prod") -> tuple[Any, list[list[str]]]:
    bindir, work = tmp_path / "bin", tmp_path / "work"
    bindir.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    fake = bindir / "gcloud"
    fake.write_text(FAKE_GCLOUD.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    log = tmp_path / "gcloud.jsonl"
    path = tmp_path / "cleanup.sh"
    path.write_text(script, encoding="utf-8")
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "FAKE_GCLOUD_LOG": str(log), "HOME": str(work),
           "FAKE_PROJECTS": projects}
    proc = subprocess.run([BASH or "bash", str(path), *args], capture_output=True, text=True, cwd=work, env=env,
                          timeout=30)
    calls = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return proc, calls


@pytest.mark.skipif(BASH is None, reason="bash runs the exported script")
def test_script_from_the_cli_and_hostile_values(world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake, db, config = world
    capsys.readouterr()
    assert main(["report", "recommendations", "--script", "gcp", "--config", str(config.path)]) == 0
    script = capsys.readouterr().out
    assert "gcloud compute disks delete old-data --zone us-central1-a --project shop-prod --quiet" in script
    assert "gcloud compute addresses delete idle-ip --region us-central1 --project shop-prod --quiet" in script
    assert "gcloud compute instances stop batch-1 --zone us-central1-a --project shop-prod" in script
    assert "gcloud compute images delete img-old --project shop-prod --quiet" in script
    assert subprocess.run([BASH or "bash", "-n"], input=script, text=True).returncode == 0
    assert "AWS_PROFILE" not in script and "gcloud auth login" in script
    proc, calls = run_script(script, tmp_path)
    assert proc.returncode == 0 and calls == []  # a dry run calls nothing
    proc, calls = run_script(script, tmp_path, "--execute")
    assert proc.returncode == 0, proc.stderr
    assert ["compute", "snapshots", "delete", "snap-orphan", "--project", "shop-prod", "--quiet"] in calls
    assert not fake.calls(MUTATING)  # the script acts through gcloud, never through costdeck
    other = tmp_path / "other"
    other.mkdir()
    proc, calls = run_script(script, other, "--execute", projects="")  # credentials that cannot see shop-prod
    assert calls == [["projects", "describe", "shop-prod", "--format=value(projectId)"]]
    assert "skipping the steps for account shop-prod" in proc.stderr and "gcloud auth login" in proc.stderr

    # hostile names and ids (a cache can come from anywhere): quoted, never run
    evil = Plan(steps=[
        PlanStep("delete_volume", "Google Cloud", CRN + "zones/us-central1-a/disks/plain", resource_name=EVIL_NAME,
                 sub_account_id="shop-prod", region_id="us-central1;touch pwned-region", snapshot_first=True),
        PlanStep("delete_volume", "Google Cloud", EVIL_ID, resource_name="x", sub_account_id="shop-prod"),
        PlanStep("deregister_image", "Google Cloud", EVIL_PROJECT, sub_account_id="$(touch pwned-acct)"),
    ])
    script = export_script(evil, "gcp", generated_at=datetime(2025, 3, 17, tzinfo=UTC))
    assert subprocess.run([BASH or "bash", "-n"], input=script, text=True).returncode == 0
    for n, args in enumerate(((), ("--execute",))):
        where = tmp_path / f"evil{n}"
        where.mkdir()
        proc, calls = run_script(script, where, *args, projects="shop-prod,$(touch pwned-acct)")
        assert not [p.name for p in (where / "work").iterdir() if p.name.startswith("pwned")]
        assert not [p.name for p in where.iterdir() if p.name.startswith("pwned")]
    # --execute: the first step ran literally, the unparsable id stopped the script before the third
    assert calls[-2][:4] == ["compute", "disks", "snapshot", "plain"] and calls[-1][:4] == [
        "compute", "disks", "delete", "plain"]
    assert proc.returncode != 0 and not any("images" in c for c in calls)
