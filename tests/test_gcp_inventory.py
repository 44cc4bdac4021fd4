"""Google Cloud inventory, utilization, Recommender advice, CUDs and Vertex AI runs through `costdeck sync`
and `costdeck report`, against tests/fake_gcp.py on 127.0.0.1; the existing rules fire on the data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from providers.gcp import client as gcp_client
from tests.fake_gcp import DETAILED, TOKEN, FakeGcp, Line, iter_days, seed_world
from tui.cli import main

NOW = "2025-03-15T12:00:00+00:00"
NOW_DT = datetime(2025, 3, 15, 12, tzinfo=UTC)
TODAY = date(2025, 3, 15)
CRN = "//compute.googleapis.com/projects/shop-prod/"


def world_lines() -> list[Line]:
    """Export rows for the world's resources (so savings are observed), CUD fees and credits, a labelled
    Vertex AI job."""
    out: list[Line] = []
    z = "us-central1-a"
    for d in iter_days(date(2025, 2, 1), TODAY + timedelta(days=1)):
        for name, cost in (("batch-1", "4.800000"), ("web-1", "2.400000")):
            out.append(Line(d, "shop-prod", "Compute Engine", "N2 Instance Core running in Americas", cost, zone=z,
                            resource=(name, f"{CRN}zones/{z}/instances/{abs(hash(name)) % 10**9}"),
                            credits=[("COMMITTED_USAGE_DISCOUNT", "Committed use discount: CPU", "-1.000000")]))
        for name, cost in (("old-data", "0.650000"), ("old-vm", "0.070000"), ("old-vm-data", "1.100000")):
            out.append(Line(d, "shop-prod", "Compute Engine", "Storage PD Capacity", cost, zone=z,
                            resource=(name, f"{CRN}zones/{z}/disks/{name}")))
        out.append(Line(d, "shop-prod", "Compute Engine", "Static Ip Charge", "0.240000",
                        resource=("idle-ip", f"{CRN}regions/us-central1/addresses/idle-ip")))
        out.append(Line(d, "shop-prod", "Compute Engine", "Storage Image", "0.050000", region=None, location="global",
                        resource=("img-old", f"{CRN}global/images/img-old")))
        out.append(Line(d, "shop-prod", "Compute Engine", "Snapshot Storage", "0.300000", region=None, location="us",
                        resource=("snap-orphan", f"{CRN}global/snapshots/snap-orphan")))
        out.append(Line(d, "shop-prod", "Compute Engine", "Commitment v1: Cpu in Americas for 1 Year", "1.000000"))
    for h in range(5):
        out.append(Line(TODAY - timedelta(days=3), "ml-research", "Vertex AI", "Custom training: T4 GPU", "0.700000",
                        region="europe-west4", labels={"costdeck-run": "resnet-1"}, hour=12 + h))
    return out


@pytest.fixture(scope="module")
def fake() -> Any:
    f = FakeGcp()
    f.url = f.start()  # type: ignore[attr-defined]
    seed_world(f, NOW_DT)
    f.add_lines(world_lines())
    yield f
    f.stop()


@pytest.fixture
def gcp(fake: FakeGcp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeGcp:
    fake.clear()
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_GCP_TOKEN", TOKEN)
    monkeypatch.setenv("COSTDECK_DB", str(tmp_path / "gcp.db"))
    monkeypatch.setattr(gcp_client, "SLEEP", lambda s: None)
    return fake


def write_config(tmp_path: Path, url: str, **opts: Any) -> Path:
    opts.setdefault("backfill_months", 2)
    opts.setdefault("ml_regions", ["europe-west4"])
    lines = ["[sources.gprod]", 'kind = "gcp"', f'billing_export_table = "{DETAILED}"',
             'projects = ["shop-prod", "ml-research"]', f'endpoint = "{url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
    path = tmp_path / "gcp.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def resources(db: Path) -> dict[str, dict[str, Any]]:
    with Store(db, readonly=True) as s:
        rows = s.conn.execute("SELECT * FROM resources WHERE provider_name='Google Cloud'").fetchall()
    out = {}
    for r in rows:
        d = dict(r)
        d["properties"] = json.loads(d["properties"] or "{}")
        d["tags"] = json.loads(d["tags"] or "{}")
        out[d["resource_name"]] = d
    return out


def recommendations(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["report", "recommendations", "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def synced(fake: FakeGcp, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One first sync (NOW) and one daily sync two days later, shared by the read-only tests below.

    Returns (db, the requests of the first sync)."""
    tmp = tmp_path_factory.mktemp("gsync")
    mp = pytest.MonkeyPatch()
    mp.setenv("COSTDECK_NOW", NOW)
    mp.setenv("COSTDECK_GCP_TOKEN", TOKEN)
    mp.setenv("COSTDECK_DB", str(tmp / "gcp.db"))
    mp.setattr(gcp_client, "SLEEP", lambda s: None)
    fake.clear()
    try:
        config = write_config(tmp, fake.url)  # type: ignore[attr-defined]
        assert main(["sync", "--config", str(config)]) == 0
        first = list(fake.received)
        # two days later (an address must have been seen unassociated for a day): the daily sync
        mp.setenv("COSTDECK_NOW", "2025-03-17T12:00:00+00:00")
        assert main(["sync", "--config", str(config)]) == 0
        yield tmp / "gcp.db", first
    finally:
        mp.undo()


@pytest.fixture
def db(synced: Any, gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_DB", str(synced[0]))
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-17T12:00:00+00:00")
    return Path(synced[0])


def first_calls(synced: Any, pattern: str) -> list[dict[str, Any]]:
    import re

    rx = re.compile(pattern)
    return [r for r in synced[1] if rx.search(f"{r['method']} {r['path']}")]


def test_inventory_maps_compute_resources(db: Path, synced: Any) -> None:
    res = resources(db)
    assert {n for n, r in res.items() if r["resource_type"] == "instance"} == {
        "web-1", "batch-1", "old-vm", "spot-1", "sleepy", "api-1", "notebook"}
    old_vm = res["old-vm"]
    assert old_vm["state"] == "terminated" and old_vm["instance_type"] == "e2-standard-4"
    assert old_vm["resource_id"] == CRN + "zones/us-central1-a/instances/old-vm" and old_vm["region_id"] == "us-central1"
    assert old_vm["properties"]["disks"] == [CRN + "zones/us-central1-a/disks/old-vm",
                                             CRN + "zones/us-central1-a/disks/old-vm-data"]
    assert old_vm["properties"]["state_changed_at"] == "2025-02-03T12:00:00+00:00"
    assert res["spot-1"]["lifecycle"] == "spot" and res["spot-1"]["properties"]["provisioning_model"] == "SPOT"
    assert res["sleepy"]["state"] == "suspended" and res["web-1"]["tags"] == {"team": "web"}
    assert res["old-data"]["properties"]["users"] == [] and res["old-data"]["attached_to"] is None
    assert res["old-data"]["size"] == "500 GiB" and res["old-data"]["properties"]["type"] == "pd-standard"
    assert res["web-1"]["resource_type"] == "instance" and res["old-vm-data"]["attached_to"] == old_vm["resource_id"]
    assert res["idle-ip"]["state"] == "unassociated" and res["web-ip"]["state"] == "associated"
    assert res["snap-orphan"]["properties"]["volume_exists"] is False
    assert res["web-1-nightly"]["properties"]["volume_exists"] is True
    assert res["img-old"]["properties"]["in_use"] is False and res["img-used"]["properties"]["in_use"] is True
    # every list was paged (3 items a page in the fake)
    pages = first_calls(synced, r"GET /compute/v1/projects/shop-prod/aggregated/disks")
    assert len(pages) == 3 and pages[1]["query"]["pageToken"] == "3"


def test_metrics_one_call_per_project_and_metric(db: Path, synced: Any) -> None:
    calls = first_calls(synced, r"GET /v3/projects/shop-prod/timeSeries")
    first_pages = [c for c in calls if "pageToken" not in c["query"]]
    assert len(first_pages) == 4  # cpu mean, cpu max, received, sent: one filtered call each (plus pages)
    q = first_pages[0]["query"]
    assert q["aggregation.alignmentPeriod"] == "3600s" and 'resource.type="gce_instance"' in q["filter"]
    assert q["interval.startTime"] == "2025-02-13T00:00:00Z" and q["interval.endTime"] == "2025-03-15T00:00:00Z"
    with Store(db, readonly=True) as s:
        rows = s.conn.execute(
            "SELECT metric, count(*), avg(average), max(maximum) FROM metrics WHERE resource_id=? AND ts < ? "
            "GROUP BY metric", (CRN + "zones/us-central1-a/instances/batch-1", "2025-03-15")).fetchall()
    got = {r[0]: r[1:] for r in rows}
    assert got["cpu"][0] == 30 and abs(got["cpu"][1] - 1.0) < 1e-6 and abs(got["cpu"][2] - 1.2) < 1e-6
    assert abs(got["network_in"][1] - 0.01 * 2e8 * 2 / 3600 * 300) < 1e-3


def test_rules_fire_on_gcp_data_and_native_advice_is_deduplicated(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = recommendations(capsys)
    by = {(r["rule"], r["resource_name"]): r for r in recs}
    for key in (("stopped_instance", "old-vm"), ("unattached_volume", "old-data"), ("unused_ip", "idle-ip"),
                ("obsolete_snapshot", "snap-orphan"), ("obsolete_image", "img-old"), ("idle_instance", "batch-1"),
                ("rightsizing", "api-1")):
        assert key in by, (key, sorted(by))
        assert by[key]["provider_name"] == "Google Cloud" and by[key]["sub_account_id"] == "shop-prod"
    # savings observed from the export (30 days x daily cost, scaled to 730 h)
    assert by[("unattached_volume", "old-data")]["saving_basis"].startswith("observed")
    assert by[("stopped_instance", "old-vm")]["detail"]["disks"] == [CRN + "zones/us-central1-a/disks/old-vm",
                                                                     CRN + "zones/us-central1-a/disks/old-vm-data"]
    assert ("idle_instance", "spot-1") not in by and ("idle_instance", "web-1") not in by
    # rightsizing from the Cloud Billing Catalog prices: CPU peak 18 % on 8 vCPUs -> 4 vCPUs keep it under 70 %
    rs = by[("rightsizing", "api-1")]["detail"]
    assert (rs["instance_type"], rs["target_type"]) == ("n2-standard-8", "n2-standard-4")
    # native advice: the machine-type advice stays, the idle VM / idle disk advice is hidden behind our findings
    assert ("gcp_rightsizing", "web-1") in by and by[("gcp_rightsizing", "web-1")]["origin"] == "gcp-recommender"
    assert by[("gcp_rightsizing", "web-1")]["detail"]["target_type"] == "n2-standard-2"
    assert by[("gcp_rightsizing", "web-1")]["monthly_saving"] == 61.340277777  # 60.5 per 30 days -> 730 h
    assert ("gcp_idle_instance", "batch-1") not in by and ("gcp_idle_disk", "old-data") not in by
    with Store(db, readonly=True) as s:
        hidden = dict(s.conn.execute("SELECT rule, json_extract(detail, '$.duplicate_of') FROM recommendations "
                                     "WHERE origin='gcp-recommender'").fetchall())
    assert hidden["gcp_idle_instance"].startswith("idle_instance#") and hidden["gcp_idle_disk"].startswith(
        "unattached_volume#") and hidden["gcp_rightsizing"] is None


def test_prices_from_machine_types_and_the_billing_catalog(db: Path, synced: Any) -> None:
    with Store(db, readonly=True) as s:
        prices = {(r[0], r[1]): r[2:] for r in s.conn.execute(
            "SELECT region_id, sku, price_nanos, vcpu, memory_gib, source FROM prices WHERE provider_name='Google Cloud'")}
    # 4 vCPU x 0.031611 + 16 GiB x 0.004237 per hour, exact
    assert prices[("us-central1", "n2-standard-4")] == (194_236_000, 4.0, 16.0, "Cloud Billing Catalog")
    assert prices[("europe-west4", "n1-standard-8")][0] == 8 * 34_802_000 + 30 * 4_664_000
    assert ("us-central1", "e2-medium") not in prices  # shared-core: not priced per vCPU
    assert ("europe-west4", "n2-standard-4") not in prices  # no N2 SKU in that region in the catalog
    assert len(first_calls(synced, r"GET /v1/services/6F81-5844-456A/skus")) == 4  # 10 SKUs, 3 a page


def test_commitments_from_inventory_and_export_credits(db: Path) -> None:
    cid = CRN + "regions/us-central1/commitments/cud-n2"
    with Store(db, readonly=True) as s:
        c = dict(s.conn.execute("SELECT * FROM commitments WHERE commitment_id=?", (cid,)).fetchone())
        usage = s.conn.execute("SELECT day, committed_nanos, used_nanos, unused_nanos, on_demand_equivalent_nanos, "
                               "utilization_pct FROM commitment_usage WHERE commitment_id=? ORDER BY day",
                               (cid,)).fetchall()
    assert c["commitment_type"] == "Committed Use Discount" and c["term_months"] == 12 and c["state"] == "active"
    assert c["hourly_commitment_nanos"] == 1_000_000_000 // 24
    assert len(usage) == 31 and usage[0][0] == "2025-02-13" and usage[-1][0] == "2025-03-15"
    # fee 1.00/day; credits cover 2.00/day on demand; 2.00 x (1 - 0.37) = 1.26 > fee: fully used
    assert usage[-1][1:] == (1_000_000_000, 1_000_000_000, 0, 2_000_000_000, 100.0)


def test_commitments_report_shows_the_cud(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["report", "commitments", "--format", "json"]) == 0
    rows = {r["commitment_id"]: r for r in json.loads(capsys.readouterr().out)}
    cud = rows[CRN + "regions/us-central1/commitments/cud-n2"]
    assert cud["type"] == "Committed Use Discount" and cud["provider_name"] == "Google Cloud"
    assert cud["utilization_pct"] == 100.0 and cud["term_months"] == 12 and cud["in_inventory"]


def test_vertex_jobs_become_ml_runs_costed_from_the_export(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(db, readonly=True) as s:
        runs = {r["name"]: dict(r) for r in s.conn.execute("SELECT * FROM ml_runs")}
        ex = {r[0]: r[1:] for r in s.conn.execute(
            "SELECT run_id, instance_type, instance_count, resource_id, region_id FROM ml_executors")}
    assert set(runs) == {"resnet-run-1", "resnet-run-2", "bert-1"}
    r1 = runs["resnet-run-1"]
    assert r1["task"] == "resnet" and r1["status"] == "completed" and r1["host"] == "europe-west4"
    assert json.loads(r1["properties"])["accelerators"][0]["type"] == "NVIDIA_TESLA_T4"
    assert ex[r1["run_id"]] == ("n1-standard-8", 1,
                                "//aiplatform.googleapis.com/projects/ml-research/customJobs/label:resnet-1",
                                "europe-west4")
    assert runs["bert-1"]["status"] == "running" and runs["bert-1"]["end_at"] is None
    assert ex[runs["resnet-run-2"]["run_id"]][1:3] == (2, None)
    capsys.readouterr()
    assert main(["report", "ml-runs", "--format", "json"]) == 0
    out = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert out["resnet-run-1"]["cost"] == 3.5 and out["resnet-run-1"]["cost_basis"] == "billed"  # 5 h x 0.70
    # not labelled: the machine type's catalog price x 2 replicas x 1 h: 2 x (8 x 0.034802 + 30 x 0.004664)
    assert out["resnet-run-2"]["cost"] == 0.836672 and out["resnet-run-2"]["cost_basis"] == "price x duration"


def test_403_on_one_api_fails_that_step_only(gcp: FakeGcp, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gcp.add_fault(r"/v3/projects/", 403, times=-1, reason="forbidden",
                  message="Permission monitoring.timeSeries.list denied (or it may not exist).")
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    try:
        assert main(["sync", "--config", str(config)]) == 0
    finally:
        gcp.clear()
    out = capsys.readouterr().out
    assert "gprod: partial" in out and "Permission monitoring.timeSeries.list denied" in out
    db = tmp_path / "gcp.db"
    with Store(db, readonly=True) as s:
        steps = json.loads(s.conn.execute("SELECT detail FROM sync_runs").fetchone()[0])["steps"]
        assert s.conn.execute("SELECT count(*) FROM costs").fetchone()[0] > 0
        assert s.conn.execute("SELECT count(*) FROM resources").fetchone()[0] > 0
    assert {k: v["status"] for k, v in steps.items()} == {
        "costs": "ok", "inventory": "ok", "metrics": "failed", "prices": "ok", "advice": "ok", "commitments": "ok",
        "vertex": "ok"}


def test_projects_all_takes_the_projects_of_the_export(gcp: FakeGcp, tmp_path: Path) -> None:
    config = write_config(tmp_path, gcp.url, steps=["costs", "inventory"])  # type: ignore[attr-defined]
    config.write_text(config.read_text().replace('projects = ["shop-prod", "ml-research"]', 'projects = "all"'))
    assert main(["sync", "--config", str(config)]) == 0
    listed = {c["path"].split("/")[4] for c in gcp.calls(r"/aggregated/instances")}
    assert listed == {"shop-prod", "ml-research"}  # the projects with rows in the export's window


def test_sync_figures_all_steps(gcp: FakeGcp, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    t0 = time.monotonic()
    assert main(["sync", "--config", str(config)]) == 0
    elapsed = time.monotonic() - t0
    with Store(tmp_path / "gcp.db", readonly=True) as s:
        run = dict(s.conn.execute("SELECT * FROM sync_runs").fetchone())
    detail = json.loads(run["detail"])
    assert run["status"] == "ok"
    from analysis.activity import sync_runs

    with Store(tmp_path / "gcp.db", readonly=True) as s:
        [row] = sync_runs(s.conn, "gprod")
    assert row.scanned == detail["scanned"] and "processed" in (row.scanned or "")  # the Activity view shows it
    print(f"\nall steps, first sync: {run['api_calls']} requests {detail['requests']}, "
          f"{detail['scanned']}, {elapsed:.2f}s")


def test_metrics_sync_again_asks_only_for_the_projects_due(gcp: FakeGcp, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Incremental: Cloud Monitoring requests grow with the projects due (new, failed, instances
    changed, or fetched `metrics_refresh_days` ago), not with the projects that exist."""
    cfg = write_config(tmp_path, gcp.url, steps=["inventory", "metrics"])
    assert main(["sync", "--config", str(cfg)]) == 0
    first = len(gcp.calls(r"GET /v3/projects/.*/timeSeries"))
    assert first >= 4  # 4 metrics (plus pages) for each project with instances
    gcp.clear()
    assert main(["sync", "--config", str(cfg)]) == 0  # the same day: nothing due
    assert gcp.calls(r"GET /v3/projects/.*/timeSeries") == [] and gcp.calls(r"/instances") != []
    with Store(Path(str(tmp_path / "gcp.db")), readonly=True) as s:
        assert s.conn.execute("SELECT count(*) FROM metrics WHERE metric='cpu'").fetchone()[0] > 0
        detail = s.conn.execute("SELECT detail FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert '"fetched": 0' in detail
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T06:00:00+00:00")  # the next UTC day: asked again
    gcp.clear()
    assert main(["sync", "--config", str(cfg)]) == 0
    again = gcp.calls(r"GET /v3/projects/.*/timeSeries")
    assert len(again) == first and {c["query"]["interval.endTime"] for c in again} == {"2025-03-16T00:00:00Z"}
