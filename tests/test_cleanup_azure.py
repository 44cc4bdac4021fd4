"""Cleanup on Azure: the AzureExecutor against the loopback fake of Resource Manager (what the fake received,
long-running operations followed to their end), and the `az` script export with hostile names.

The inventory and the cost rows come from a real `costdeck sync`; the recommendations from the real rules.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.cleanup import build_plan, execute_plan, executor_for, export_script
from analysis.recommendations.model import load
from cache import Store
from providers.actions import PlanStep
from providers.azure import session as az_session
from providers.config import load_config
from tests.fake_azure import SUB1, SUB2, TOKEN, FakeAzure, seed
from tests.test_sync_azure_costs import NOW, TODAY
from tui.cli import main

BASH = shutil.which("bash")


def rid(kind: str, rg: str, name: str, sub: str = SUB1) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{kind}/{name}"


VM_STOPPED = rid("Microsoft.Compute/virtualMachines", "rg-batch", "vm-stopped-1")
VM_DEALLOC = rid("Microsoft.Compute/virtualMachines", "rg-old", "vm-dealloc-1")
DISK = rid("Microsoft.Compute/disks", "rg-old", "disk-orphan-1")
PIP = rid("Microsoft.Network/publicIPAddresses", "rg-network", "pip-unused-1")
SNAP = rid("Microsoft.Compute/snapshots", "rg-old", "snap-old-1")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAzure]:
    f = FakeAzure(page_size=50)
    f.start()
    yield f
    f.stop()


@pytest.fixture
def synced(fake: FakeAzure, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[float]]:
    """A fresh estate, synced (costs + inventory) and its recommendations computed. Returns (config, waits)."""
    seed(fake, TODAY)
    fake.clear()
    fake.operations.clear()
    fake.lro_fail.clear()
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_AZURE_TOKEN", TOKEN)
    waits: list[float] = []
    monkeypatch.setattr(az_session, "SLEEP", waits.append)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[sources.azprod]
kind = "azure"
subscriptions = ["{SUB1}", "{SUB2}"]
endpoint = "{fake.url}"
backfill_months = 1
steps = ["costs", "inventory"]

[rules.unattached_volume]
min_days = 0
[rules.unused_ip]
min_days = 0
[rules.stopped_instance]
min_days = 0
""", encoding="utf-8")
    assert main(["sync", "--config", str(cfg)]) == 0
    fake.clear()
    return cfg, waits


def mutations(fake: FakeAzure) -> list[tuple[str, str]]:
    return [(m, p) for m, p, q, b in fake.requests if m in ("POST", "PUT", "DELETE", "PATCH")]


def test_cleanup_deallocates_and_deletes_exactly_the_plan_following_the_operations(
    synced: tuple[Path, list[float]], fake: FakeAzure, db_path: Path
) -> None:
    cfg, waits = synced
    config = load_config(cfg)
    with Store(db_path) as store:
        plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
        assert {(s.action, s.resource_id) for s in plan.steps} == {
            ("deallocate_instance", VM_STOPPED), ("delete_volume", DISK), ("release_address", PIP),
            ("delete_snapshot", SNAP)}
        excluded = {(e.rule, e.resource_id): e.reason for e in plan.excluded}
        assert "snapshot and delete the volumes" in excluded[("stopped_instance", VM_DEALLOC)]
        steps = {s.resource_id: s for s in plan.steps}
        assert steps[DISK].preconditions == {"state": "Unattached", "attached": False}
        assert steps[VM_STOPPED].reversible and not steps[DISK].reversible
        assert plan.needs_typed_confirmation and plan.confirmation_phrase == "delete 4 resources"

        dry = execute_plan(plan, executor_for(store, config), store, dry_run=True, actor="alice")
        assert [r.status for r in dry] == ["dry-run"] * 4 and mutations(fake) == [], [(r.message, r.error) for r in dry]

        results = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="alice")
        assert {r.step.resource_id: (r.status, r.message) for r in results} == {
            VM_STOPPED: ("ok", "deallocated"), DISK: ("ok", "deleted"), PIP: ("ok", "deleted"),
            SNAP: ("ok", "deleted")}
        audit = store.conn.execute("SELECT resource_id, result, dry_run FROM actions ORDER BY id").fetchall()
        assert [tuple(a) for a in audit[4:]] == [(r.step.resource_id, "ok", 0) for r in results]
        applied = store.conn.execute("SELECT count(*) FROM recommendations WHERE status='applied'").fetchone()[0]
        assert applied == 4
        state = store.conn.execute("SELECT state FROM resources WHERE resource_id=?", (VM_STOPPED,)).fetchone()[0]
        assert state == "deallocated"
    # what the fake received: one mutation per step, nothing else; each operation polled to its end
    assert sorted(mutations(fake)) == sorted([("POST", VM_STOPPED + "/deallocate"), ("DELETE", DISK), ("DELETE", PIP),
                                              ("DELETE", SNAP)])
    assert all(op["left"] == 0 and op["done"] is None for op in fake.operations.values())
    polls = [p for m, p, q, b in fake.requests if "/operations" in p.lower() or "/operationresults" in p.lower()]
    assert len(polls) == 4 * 3  # 2 x InProgress then Succeeded
    assert any("/operationResults/" in p for p in polls)  # the public IP answers with Location only
    assert DISK not in fake.resources and PIP not in fake.resources and SNAP not in fake.resources
    assert fake.instance_views[VM_STOPPED]["statuses"][1]["code"] == "PowerState/deallocated"
    assert waits == [1.0] * 12  # Retry-After of each poll, recorded not slept


def test_snapshot_first_waits_for_the_snapshot_before_deleting(
    synced: tuple[Path, list[float]], fake: FakeAzure, db_path: Path
) -> None:
    cfg, _ = synced
    config = load_config(cfg)
    with Store(db_path) as store:
        recs = [r for r in load(store.conn) if r.resource_id == DISK]
        plan = build_plan(store.conn, recs, config, read_only=False, demo=False, snapshot_volumes=True)
        [res] = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="carol")
    assert res.status == "ok" and res.message.startswith("snapshot ") and res.message.endswith("taken, disk deleted")
    sid = res.detail["snapshot_id"]
    order = [(m, p) for m, p, q, b in fake.requests if m != "GET" or "operations/" in p]
    put = order.index(("PUT", sid))
    delete = order.index(("DELETE", DISK))
    assert put < delete and delete - put == 4  # three polls of the snapshot's operation in between
    snap = fake.resources[sid]
    assert snap["properties"]["provisioningState"] == "Succeeded"
    assert snap["properties"]["creationData"] == {"createOption": "Copy", "sourceResourceId": DISK}
    assert snap["tags"] == {"costdeck:created-by": "cleanup", "costdeck:source-volume": DISK}


def test_failed_operation_newly_protected_and_reattached_are_not_done(
    synced: tuple[Path, list[float]], fake: FakeAzure, db_path: Path
) -> None:
    cfg, _ = synced
    config = load_config(cfg)
    with Store(db_path) as store:
        plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
        # between the plan and the run: the disk is tagged protected, the public IP gets attached,
        # and the VM's deallocation will fail
        fake.resources[DISK]["tags"]["costdeck:protect"] = "yes"
        fake.resources[PIP]["properties"]["ipConfiguration"] = {"id": "/x/nic/ipConfigurations/ipconfig1"}
        fake.lro_fail.add("vm-stopped-1")
        results = {r.step.resource_id: r for r in execute_plan(plan, executor_for(store, config), store,
                                                               dry_run=False, actor="dave")}
    assert results[DISK].status == "skipped" and "protected: tagged costdeck:protect" in results[DISK].message
    assert results[PIP].status == "skipped" and "associated with /x/nic/ipConfigurations/ipconfig1" in results[PIP].message
    assert results[VM_STOPPED].status == "failed"
    assert results[VM_STOPPED].error == "deallocate: the operation failed: OperationNotAllowed injected failure"
    assert results[SNAP].status == "ok"
    assert sorted(mutations(fake)) == sorted([("POST", VM_STOPPED + "/deallocate"), ("DELETE", SNAP)])


def test_expired_token_stops_the_batch(synced: tuple[Path, list[float]], fake: FakeAzure, db_path: Path) -> None:
    cfg, _ = synced
    config = load_config(cfg)
    fake.token = "rotated"
    try:
        with Store(db_path) as store:
            plan = build_plan(store.conn, load(store.conn), config, read_only=False, demo=False)
            results = execute_plan(plan, executor_for(store, config), store, dry_run=False, actor="erin")
    finally:
        fake.token = TOKEN
    assert [r.status for r in results] == ["failed"] + ["not-run"] * 3
    assert "401 Unauthorized" in (results[0].error or "") and mutations(fake) == []


# -- the az script ----------------------------------------------------------------------------------------

EVIL = "disk-$(touch pwned-a)`touch pwned-b`'; touch pwned-c; echo '\nx"
FAKE_AZ = """#!{python}
import json, os, sys
with open(os.environ["FAKE_AZ_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["account", "show"]:
    print(sys.argv[3].split("=", 1)[1])
"""


@pytest.mark.skipif(BASH is None, reason="bash is needed to run the exported script")
def test_az_script_is_injection_proof(synced: tuple[Path, list[float]], db_path: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = synced
    evil_disk = rid("Microsoft.Compute/disks", "rg-old", EVIL)
    with Store(db_path) as store:  # a hostile name in the cache (a cache can come from anywhere)
        store.conn.execute("UPDATE resources SET resource_id=?, resource_name=? WHERE resource_id=?",
                           (evil_disk, "-" + EVIL, DISK))
        store.conn.execute("UPDATE recommendations SET resource_id=?, resource_name=? WHERE resource_id=?",
                           (evil_disk, "-" + EVIL, DISK))
        store.conn.commit()
    capsys.readouterr()
    assert main(["report", "recommendations", "--config", str(cfg), "--script", "azure"]) == 0
    script = capsys.readouterr().out
    assert "az vm deallocate" in script and "DRY RUN" in script
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "az").write_text(FAKE_AZ.format(python=sys.executable), encoding="utf-8")
    (bindir / "az").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    log = tmp_path / "az.jsonl"
    path = tmp_path / "cleanup.sh"
    path.write_text(script, encoding="utf-8")
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "FAKE_AZ_LOG": str(log), "HOME": str(work)}
    dry = subprocess.run([BASH, str(path)], capture_output=True, text=True, cwd=work, env=env, timeout=30)
    assert dry.returncode == 0, dry.stderr
    assert not log.exists()  # a dry run calls nothing
    printed = [shlex.split(c) for c in _joined(dry.stdout)]
    assert ["az", "disk", "delete", f"--ids={evil_disk}", "--yes"] in printed
    ex = subprocess.run([BASH, str(path), "--execute"], capture_output=True, text=True, cwd=work, env=env, timeout=30)
    assert ex.returncode == 0, ex.stderr
    calls = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert ["disk", "delete", f"--ids={evil_disk}", "--yes"] in calls
    assert ["vm", "deallocate", f"--ids={VM_STOPPED}"] in calls
    assert ["network", "public-ip", "delete", f"--ids={PIP}"] in calls
    assert ["snapshot", "delete", f"--ids={SNAP}"] in calls
    assert ["account", "show", f"--subscription={SUB1}", "--query", "id", "--output", "tsv"] in calls
    assert sorted(p.name for p in work.iterdir()) == []  # no payload ran


def _joined(out: str) -> list[str]:
    """Commands printed over several lines (a quoted newline inside a value) joined back."""
    lines, cur = [], ""
    for line in out.splitlines():
        cur = f"{cur}\n{line}" if cur else line
        try:
            shlex.split(cur)
        except ValueError:
            continue
        lines.append(cur)
        cur = ""
    return lines


def test_az_commands_for_each_step() -> None:
    from providers.azure.script import AZ_CLI

    def st(action: str, r: str, **kw: Any) -> PlanStep:
        return PlanStep(action=action, provider_name="Microsoft", resource_id=r, **kw)

    assert AZ_CLI.commands(st("delete_volume", DISK, snapshot_first=True)) == [
        ["az", "snapshot", "create", f"--subscription={SUB1}", "--resource-group=rg-old",
         "--name=disk-orphan-1-costdeck-snapshot", f"--source={DISK}", "--tags", "costdeck:created-by=cleanup",
         f"costdeck:source-volume={DISK}"],
        ["az", "disk", "delete", f"--ids={DISK}", "--yes"]]
    assert AZ_CLI.commands(st("deallocate_instance", VM_STOPPED)) == [["az", "vm", "deallocate", f"--ids={VM_STOPPED}"]]
    text = export_script(build_plan_for([st("release_address", PIP, sub_account_id=SUB2)]), "azure")
    assert f"if in_account {SUB2}; then" in text
    assert "az account show --subscription=\"$want\"" in text


def build_plan_for(steps: list[PlanStep]) -> Any:
    from analysis.cleanup import Plan

    return Plan(steps=steps)


def test_demo_executor_deallocates_without_deleting(db_path: Path) -> None:
    from providers.actions import DemoExecutor

    with Store(db_path) as store:
        sid = store.ensure_source("demo", "demo", {})
        store.upsert("resources", [{"source_id": sid, "provider_name": "Microsoft", "resource_id": VM_STOPPED,
                                    "resource_name": "vm-stopped-1", "resource_type": "instance", "state": "stopped",
                                    "first_seen": NOW, "last_seen": NOW, "tags": {}, "properties": {}}],
                     pk=("provider_name", "resource_id"))
        step = PlanStep(action="deallocate_instance", provider_name="Microsoft", resource_id=VM_STOPPED,
                        resource_type="instance", preconditions={"state": "stopped"})
        res = DemoExecutor(store).run(step, dry_run=False)
        assert res.status == "ok" and res.message == "deallocated — simulated (demo)"
        assert store.conn.execute("SELECT state FROM resources WHERE resource_id=?", (VM_STOPPED,)).fetchone()[0] \
            == "deallocated"
