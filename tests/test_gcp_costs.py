"""Google Cloud costs from the BigQuery billing export, through `costdeck sync` and `costdeck report`,
against tests/fake_gcp.py on 127.0.0.1 (the fake really runs the SQL costdeck sends, in DuckDB).
"""

from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from cache.money import to_nanos
from providers.gcp import client as gcp_client
from tests.fake_gcp import DETAILED, STANDARD, TOKEN, FakeGcp, Line, iter_days
from tests.helpers import kill_sync_mid_write
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent
NOW = "2025-03-15T12:00:00+00:00"
TODAY = date(2025, 3, 15)
WINDOW = (date(2025, 1, 1), date(2025, 3, 16))  # backfill_months = 3
SEED_FROM = date(2024, 12, 20)  # rows before the window must not be counted
HOSTILE = "x'; $(touch pwned) `id`\x1b[31m[bold]red[/bold]\n\u202eevil"


def _money(rng: random.Random, lo: float, hi: float) -> str:
    return f"{rng.uniform(lo, hi):.6f}"


def export_lines(lo: date, hi: date, seed: int = 7) -> list[Line]:
    """A small but real detailed export: 3 projects, VMs, disks, an address, storage, BigQuery, Vertex AI,
    credits (sustained use, committed use, promotion), a tax line, rows without a list price."""
    rng = random.Random(seed)
    out: list[Line] = []
    vm = "//compute.googleapis.com/projects/{p}/zones/{z}/instances/{id}"
    disk = "//compute.googleapis.com/projects/{p}/zones/{z}/disks/{n}"
    for d in iter_days(lo, hi):
        for hour in (0, 12):
            out.append(Line(d, "shop-prod", "Compute Engine", "N2 Instance Core running in Americas",
                            _money(rng, 0.5, 1.5), zone="us-central1-a",
                            resource=("web-1", vm.format(p="shop-prod", z="us-central1-a", id="4417712345")),
                            labels={"team": "web", "env": "prod"}, hour=hour,
                            credits=[("SUSTAINED_USAGE_DISCOUNT", "Sustained Usage Discount", f"-{_money(rng, 0.01, 0.1)}")],
                            cost_at_list=_money(rng, 1.6, 2.0)))
            out.append(Line(d, "shop-prod", "Compute Engine", "N2 Instance Core running in Americas",
                            _money(rng, 0.2, 0.4), zone="us-central1-a",
                            resource=("batch-1", vm.format(p="shop-prod", z="us-central1-a", id="4417799999")),
                            labels={"team": "data"}, hour=hour,
                            credits=[("COMMITTED_USAGE_DISCOUNT", "Committed use discount: CPU", f"-{_money(rng, 0.05, 0.15)}")]))
        out.append(Line(d, "shop-prod", "Compute Engine", "Balanced PD Capacity", _money(rng, 0.1, 0.2),
                        zone="us-central1-a", resource=("old-data", disk.format(p="shop-prod", z="us-central1-a", n="old-data")),
                        labels={"team": "web"}, cost_at_list=None))
        out.append(Line(d, "shop-prod", "Compute Engine", "Static Ip Charge", "0.240000", region="us-central1",
                        resource=("idle-ip", "//compute.googleapis.com/projects/shop-prod/regions/us-central1/addresses/idle-ip")))
        out.append(Line(d, "ml-research", "Vertex AI", "Custom training: N1 Predefined Instance Core",
                        _money(rng, 2, 6), region="europe-west4", labels={"team": "ml", "env": "dev"},
                        credits=[("PROMOTION", "Free trial credit", f"-{_money(rng, 0.5, 1)}")]))
        out.append(Line(d, "ml-research", "Cloud Storage", "Standard Storage US Multi-region", _money(rng, 0.3, 0.6),
                        region=None, location="us", resource=("ml-data", "//storage.googleapis.com/projects/_/buckets/ml-data")))
        out.append(Line(d, "data-lake", "BigQuery", "Analysis", _money(rng, 1, 3), region="us-east1",
                        labels={"team": "data"}))
        if d.day == 1:
            out.append(Line(d, "shop-prod", "Compute Engine", "Tax", "3.141592", region=None, cost_type="tax"))
            out.append(Line(d, "data-lake", "BigQuery", "Streaming Insert", "0.010000", region="us-east1",
                            labels={"owner": HOSTILE}))
    return out


@pytest.fixture(scope="module")
def fake() -> Any:
    f = FakeGcp()
    url = f.start()
    f.url = url  # type: ignore[attr-defined]
    f.add_lines(export_lines(SEED_FROM, TODAY + timedelta(days=1)))
    yield f
    f.stop()


@pytest.fixture
def gcp(fake: FakeGcp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeGcp:
    fake.clear()
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_GCP_TOKEN", TOKEN)
    monkeypatch.setenv("COSTDECK_DB", str(tmp_path / "gcp.db"))
    waits: list[float] = []
    monkeypatch.setattr(gcp_client, "SLEEP", waits.append)
    fake.waits = waits  # type: ignore[attr-defined]
    return fake


def write_config(tmp_path: Path, url: str, name: str = "gprod", table: str = DETAILED, **opts: Any) -> Path:
    opts.setdefault("steps", ["costs"])
    opts.setdefault("backfill_months", 3)
    lines = [f"[sources.{name}]", 'kind = "gcp"', f'billing_export_table = "{table}"',
             'projects = ["shop-prod", "ml-research"]', f'endpoint = "{url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report(capsys: pytest.CaptureFixture[str], by: str, metric: str) -> dict[str | None, int]:
    capsys.readouterr()
    assert main(["report", "spend", "--by", by, "--metric", metric, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return {r[by]: to_nanos(Decimal(str(r["cost"]))) for r in rows}


def expected(fake: FakeGcp, by: str, metric: str, window: tuple[date, date] = WINDOW) -> dict[str | None, int]:
    return {k: to_nanos(v) for k, v in fake.expected(by, metric, *window).items()}


def last_run(db: Path) -> dict[str, Any]:
    with Store(db, readonly=True) as s:
        return dict(s.conn.execute("SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone())


def billed_by_day(db: Path) -> dict[str, int]:
    with Store(db, readonly=True) as s:
        return dict(s.conn.execute("SELECT day, sum(billed) FROM costs GROUP BY day").fetchall())


# -- first sync, incremental, reconciliation ---------------------------------------------------------------


def test_first_sync_reconciles_to_the_cent_by_project_service_and_region(
    gcp: FakeGcp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    t0 = time.monotonic()
    assert main(["sync", "--config", str(config)]) == 0
    elapsed = time.monotonic() - t0
    out = capsys.readouterr().out
    assert "gprod: ok" in out and "backfill" in out and "2025-01-01..2025-03-15" in out
    assert "processed" in out and "billed" in out and "dry run estimate" in out

    for by in ("sub_account_id", "service_name", "region_id"):
        for metric in ("billed", "effective"):
            assert report(capsys, by, metric) == expected(gcp, by, metric), (by, metric)
    # credits lower effective below billed; the tax line and the list prices came through
    bill, eff = report(capsys, "sub_account_id", "billed"), report(capsys, "sub_account_id", "effective")
    assert eff["shop-prod"] < bill["shop-prod"] and eff["data-lake"] == bill["data-lake"]

    # a dry run first (the backfill's size), then the query; the window prunes partitions
    posts = gcp.calls(r"POST /bigquery/v2/projects/billing-admin/queries$")
    assert [bool(p["body"].get("dryRun")) for p in posts] == [True, False]
    sql = posts[1]["body"]["query"]
    assert "_PARTITIONTIME >= TIMESTAMP('2024-12-31')" in sql and posts[1]["body"]["useLegacySql"] is False
    run = last_run(tmp_path / "gcp.db")
    detail = json.loads(run["detail"])
    bq = detail["bigquery"]
    total_rows = len(gcp.lines)
    assert 0 < bq["bytes_processed"] < total_rows * 1500  # pruned: December's partitions were not read
    assert bq["bytes_billed"] >= 10 * (1 << 20) and bq["backfill_estimate_bytes"] == bq["bytes_processed"]
    assert run["api_calls"] == 2 and detail["requests"] == {"jobs.query": 1, "jobs.query (dry run)": 1}

    with Store(tmp_path / "gcp.db", readonly=True) as s:
        # names, categories, resources and labels as the views use them
        assert s.conn.execute("SELECT label FROM dims WHERE kind='sub_account' AND value='ml-research'").fetchone()[0] == "ML Research"
        assert s.conn.execute("SELECT extra FROM dims WHERE kind='service' AND value='Vertex AI'").fetchone()[0] == "AI and Machine Learning"
        assert s.conn.execute("SELECT count(*) FROM dims WHERE kind='resource' AND value="
                              "'//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/web-1'").fetchone()[0] == 1
        assert s.conn.execute("SELECT count(*) FROM dims WHERE kind='provider' AND value='Google Cloud'").fetchone()[0] == 1
    assert report(capsys, "tag:team", "billed")["web"] > 0
    assert report(capsys, "tag:owner", "billed")[HOSTILE] == 3 * 10_000_000  # a hostile label value, verbatim
    # list = cost_at_list where present, else cost: the sum is not the billed sum
    lst = report(capsys, "sub_account_id", "list")
    assert lst["shop-prod"] > bill["shop-prod"] and lst["data-lake"] == bill["data-lake"]

    capsys.readouterr()
    assert main(["sources", "--config", str(config)]) == 0
    src = capsys.readouterr().out
    assert "2 (0 billed), " in src and "processed" in src
    print(f"\nfirst sync: {run['api_calls']} requests, {bq['bytes_processed']:,} bytes processed, "
          f"{bq['bytes_billed']:,} billed, {run['rows']} rows, {elapsed:.2f}s")


def test_incremental_sync_refetches_late_rows_and_scans_less(
    gcp: FakeGcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    db = tmp_path / "gcp.db"
    assert main(["sync", "--config", str(config)]) == 0
    first = json.loads(last_run(db)["detail"])["bigquery"]
    # a day later: the new day's rows, plus late rows for two days ago landing in today's partition
    late = [Line(TODAY - timedelta(days=2), "shop-prod", "Compute Engine", "Late charge", "7.000001",
                 export_lag_days=3, labels={"team": "web"})]
    new = [Line(TODAY + timedelta(days=1), "data-lake", "BigQuery", "Analysis", "1.5", region="us-east1")]
    gcp.add_lines(late + new)
    try:
        gcp.clear()
        monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T12:00:00+00:00")
        t0 = time.monotonic()
        assert main(["sync", "--config", str(config)]) == 0
        elapsed = time.monotonic() - t0
        out = capsys.readouterr().out
        assert "incremental" in out
        run = last_run(db)
        detail = json.loads(run["detail"])
        assert detail["cost_window"] == ["2025-03-12", "2025-03-17"] and "backfill_estimate_bytes" not in detail["bigquery"]
        assert [bool(p["body"].get("dryRun")) for p in gcp.calls("POST /bigquery")] == [False]  # no dry run
        inc = detail["bigquery"]
        assert inc["bytes_processed"] < first["bytes_processed"] / 5
        window = (WINDOW[0], date(2025, 3, 17))
        for by in ("sub_account_id", "service_name"):
            assert report(capsys, by, "effective") == expected(gcp, by, "effective", window)
        assert billed_by_day(db)["2025-03-13"] == sum(
            to_nanos(Decimal(ln.cost)) for ln in gcp.lines if ln.day == date(2025, 3, 13))
        print(f"\ndaily incremental sync: {run['api_calls']} requests, {inc['bytes_processed']:,} bytes processed, "
              f"{inc['bytes_billed']:,} billed, {run['rows']} rows, {elapsed:.2f}s")
    finally:
        _drop(gcp, late + new)


def _drop(fake: FakeGcp, lines: list[Line]) -> None:
    for ln in lines:
        fake.db.execute("DELETE FROM export_detailed WHERE sku.description = ? AND CAST(usage_start_time AS DATE) = ?",
                        [ln.sku, ln.day])
        fake.lines.remove(ln)


def test_standard_export_has_no_resources_and_the_same_totals(
    gcp: FakeGcp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, gcp.url, table=STANDARD)  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 0
    assert report(capsys, "service_name", "effective") == expected(gcp, "service_name", "effective")
    with Store(tmp_path / "gcp.db", readonly=True) as s:
        assert s.conn.execute("SELECT count(*) FROM dims WHERE kind='resource' AND value LIKE '//compute%'").fetchone()[0] == 0
    assert "resource.global_name" not in gcp.calls("POST /bigquery")[-1]["body"]["query"]


def test_slow_job_is_polled_and_results_are_paged(gcp: FakeGcp, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    gcp.pending_polls = 3
    gcp.page_cap = 100
    try:
        config = write_config(tmp_path, gcp.url, page_rows=5000)  # type: ignore[attr-defined]
        assert main(["sync", "--config", str(config)]) == 0
    finally:
        gcp.pending_polls, gcp.page_cap = 0, 10_000
    gets = gcp.calls(r"GET /bigquery/v2/projects/billing-admin/queries/job_")
    polls = [g for g in gets if "pageToken" not in g["query"]]
    pages = [g for g in gets if "pageToken" in g["query"]]
    assert len(polls) == 4 and len(pages) >= 5  # 3 x jobComplete:false, then page 1; then the next pages
    assert all(g["query"]["maxResults"] == "5000" for g in gets)
    assert gcp.waits[:3] == [0.5, 1.0, 2.0]  # type: ignore[attr-defined]
    assert report(capsys, "sub_account_id", "effective") == expected(gcp, "sub_account_id", "effective")
    detail = json.loads(last_run(tmp_path / "gcp.db")["detail"])
    assert detail["requests"]["jobs.getQueryResults"] == len(gets)
    assert detail["requests"]["jobs.get"] == 1 and detail["bigquery"]["bytes_billed"] >= 10 << 20  # billed bytes from the job


# -- faults ------------------------------------------------------------------------------------------------


def test_rate_limit_then_success_waits_and_counts(gcp: FakeGcp, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    gcp.add_fault(r"POST /bigquery/v2/projects/billing-admin/queries", 403, reason="rateLimitExceeded", times=1,
                  message="Exceeded rate limits: too many api requests per user per method")
    gcp.add_fault(r"POST /bigquery/v2/projects/billing-admin/queries", 429, times=1, retry_after="7")
    gcp.add_fault(r"POST /bigquery/v2/projects/billing-admin/queries", 503, times=1)
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 0
    run = last_run(tmp_path / "gcp.db")
    assert json.loads(run["detail"])["retries"] == 3 and run["api_calls"] == 5
    assert gcp.waits == [0.5, 7.0, 2.0]  # backoff, Retry-After, backoff doubled  # type: ignore[attr-defined]
    assert report(capsys, "region_id", "billed") == expected(gcp, "region_id", "billed")


def test_server_errors_exhaust_retries_and_keep_previous_data(gcp: FakeGcp, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, gcp.url, max_attempts=3)  # type: ignore[attr-defined]
    db = tmp_path / "gcp.db"
    assert main(["sync", "--config", str(config)]) == 0
    before = billed_by_day(db)
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T06:00:00+00:00")
    gcp.add_fault(r"POST /bigquery", 500, times=-1, message="Backend error")
    try:
        assert main(["sync", "--config", str(config)]) == 1
    finally:
        gcp.clear()
    out = capsys.readouterr().out
    assert "gprod: failed" in out and "BigQuery jobs.query: 500" in out and "after 3 attempts" in out
    assert billed_by_day(db) == before


def test_expired_token_is_fatal_with_one_line(gcp: FakeGcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COSTDECK_GCP_TOKEN", "expired")
    config = write_config(tmp_path, gcp.url, steps=["costs", "inventory"])  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("gprod: failed"))
    assert "401 Unauthorized" in line and "source 'gprod'" in line
    assert not gcp.calls("/compute/")  # the source stopped: no other API was called


def test_emulator_token_refused_without_a_loopback_endpoint(gcp: FakeGcp, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "https://bigquery.example.com")
    assert main(["sync", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "COSTDECK_GCP_TOKEN is set" in err and "loopback" in err
    assert not gcp.received


def test_unknown_table_is_one_line(gcp: FakeGcp, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, gcp.url, table="billing-admin.billing_export.gcp_billing_export_v1_NOPE")  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "Not found: Table billing-admin.billing_export.gcp_billing_export_v1_NOPE" in out


def test_max_bytes_billed_refuses_a_large_backfill(gcp: FakeGcp, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, gcp.url, max_bytes_billed=10_485_760)  # type: ignore[attr-defined]
    gcp.row_bytes = 100_000  # a wide export: 521 rows x 100 kB
    try:
        assert main(["sync", "--config", str(config)]) == 1
    finally:
        gcp.row_bytes = 1500
    out = capsys.readouterr().out
    assert "more than max_bytes_billed" in out
    assert len(gcp.calls("POST /bigquery")) == 1  # only the dry run


def test_sync_killed_mid_write_leaves_previous_data_intact(gcp: FakeGcp, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    db = tmp_path / "gcp.db"
    assert main(["sync", "--config", str(config)]) == 0
    before = billed_by_day(db)
    kill_sync_mid_write(db, config, {"COSTDECK_NOW": "2025-03-16T06:00:00+00:00"})
    assert billed_by_day(db) == before
    # the next sync closes the dead run and succeeds
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T06:00:00+00:00")
    assert main(["sync", "--config", str(config)]) == 0
    with Store(db, readonly=True) as s:
        assert [r[0] for r in s.conn.execute("SELECT status FROM sync_runs ORDER BY id")] == ["ok", "failed", "ok"]
    assert billed_by_day(db)["2025-03-10"] == before["2025-03-10"]


def test_query_project_runs_the_jobs(gcp: FakeGcp, tmp_path: Path) -> None:
    config = write_config(tmp_path, gcp.url, query_project="finops-jobs", location="US")  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 0
    posts = gcp.calls(r"POST /bigquery/v2/projects/[^/]+/queries$")
    assert {p["path"] for p in posts} == {"/bigquery/v2/projects/finops-jobs/queries"}
    assert all(p["body"]["location"] == "US" for p in posts)
    assert f"FROM `{DETAILED}`" in posts[-1]["body"]["query"]  # the table stays in its own project


def test_missing_application_default_credentials_is_fatal_with_one_line(
    gcp: FakeGcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COSTDECK_GCP_TOKEN")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # never probe a metadata server
    config = write_config(tmp_path, gcp.url)  # type: ignore[attr-defined]
    assert main(["sync", "--config", str(config)]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("gprod: failed"))
    assert "no Google credentials: Application Default Credentials not found" in line and "missing-key.json" in line
    assert not gcp.received
