"""cost_source = "export": FOCUS exports in a storage container, read from Azurite (the real Azure Storage
emulator, started on 127.0.0.1 by tests/azurite_server.py), fixtures uploaded with the official
azure-storage-blob SDK, synced with `costdeck sync` and checked with `costdeck report spend`."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from cache.money import to_nanos
from providers.azure import session as az_session
from tests.azurite_server import azurite  # noqa: F401 - the fixture
from tests.fake_azure import SUB1, SUB2
from tui.cli import main

NOW = "2026-03-15T12:00:00+00:00"
PREFIX = "exports/focus-daily"
HEADER = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingAccountId", "BillingAccountName",
          "BillingCurrency", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "ProviderName",
          "ServiceName", "ServiceCategory", "SubAccountId", "SubAccountName", "RegionId", "RegionName",
          "ResourceId", "ResourceName", "ResourceType", "PricingCategory", "Tags"]
VM = f"/subscriptions/{SUB1}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1"


def focus_rows(month: date, days: int, bump: Decimal = Decimal(0)) -> list[dict[str, Any]]:
    """A month of hourly-ish FOCUS rows (several per day, so DuckDB has something to roll up)."""
    out = []
    for i in range(days):
        d = month + timedelta(days=i)
        for h in range(4):
            for sub, svc, region, amount in ((SUB1, "Virtual Machines", "westeurope", Decimal("1.152") + bump),
                                             (SUB1, "Storage", "westeurope", Decimal("0.157661")),
                                             (SUB2, "Virtual Machines", "eastus", Decimal("0.2496"))):
                out.append({
                    "BilledCost": str(amount), "EffectiveCost": str(amount - Decimal("0.1") if svc ==
                                                                    "Virtual Machines" else amount),
                    "ListCost": str(amount), "ContractedCost": str(amount), "BillingAccountId": "ba-1",
                    "BillingAccountName": "Contoso", "BillingCurrency": "EUR" if sub == SUB2 else "USD",
                    "ChargeCategory": "Usage",
                    "ChargePeriodStart": f"{d.isoformat()}T{h * 6:02d}:00:00Z",
                    "ChargePeriodEnd": f"{d.isoformat()}T{h * 6 + 6 - 1:02d}:59:59Z",
                    "ProviderName": "Microsoft", "ServiceName": svc, "ServiceCategory": "Compute",
                    "SubAccountId": sub, "SubAccountName": "Production" if sub == SUB1 else "Development",
                    "RegionId": region, "RegionName": region, "ResourceId": VM if sub == SUB1 else "",
                    "ResourceName": "vm-web-1" if sub == SUB1 else "", "ResourceType": "Virtual machine",
                    "PricingCategory": "Standard", "Tags": json.dumps({"team": "web"}) if sub == SUB1 else "{}"})
    return out


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def upload_run(container: Any, month: date, run_id: str, submitted: str, rows: list[dict[str, Any]],
               parts: int = 2, lie_size: bool = False) -> None:
    """One export run as Cost Management writes it: gzip CSV parts and the manifest, uploaded with the SDK."""
    end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    folder = f"{PREFIX}/{month:%Y%m%d}-{end:%Y%m%d}/{run_id}"
    blobs = []
    size = (len(rows) + parts - 1) // parts
    for p in range(parts):
        data = gzip.compress(csv_bytes(rows[p * size:(p + 1) * size]))
        name = f"{folder}/part_{p}_0001.csv.gz"
        container.upload_blob(name, data, overwrite=True)
        blobs.append({"blobName": name, "byteCount": len(data) + (7 if lie_size else 0),
                      "dataRowCount": len(rows[p * size:(p + 1) * size])})
    manifest = {
        "manifestVersion": "2024-04-01", "byteCount": sum(b["byteCount"] for b in blobs), "blobCount": len(blobs),
        "dataRowCount": len(rows),
        "exportConfig": {"exportName": "focus-daily", "resourceId": f"/subscriptions/{SUB1}/providers/"
                         "Microsoft.CostManagement/exports/focus-daily", "dataVersion": "1.0",
                         "apiVersion": "2023-07-01-preview", "type": "FocusCost", "timeFrame": "MonthToDate",
                         "granularity": "Daily"},
        "deliveryConfig": {"partitionData": True, "dataOverwriteBehavior": "CreateNewReport", "fileFormat": "Csv",
                           "compressionMode": "Gzip", "containerUri": "/subscriptions/x/storageAccounts/y",
                           "rootFolderPath": "exports"},
        "runInfo": {"executionType": "Scheduled", "submittedTime": submitted, "runId": run_id,
                    "startDate": f"{month.isoformat()}T00:00:00", "endDate": f"{end.isoformat()}T00:00:00"},
        "blobs": blobs,
    }
    container.upload_blob(f"{folder}/manifest.json", json.dumps(manifest).encode(), overwrite=True)


@pytest.fixture(scope="module")
def estate(azurite: tuple[str, str, str]) -> dict[str, Any]:  # noqa: F811
    from azure.storage.blob import BlobServiceClient

    url, account, key = azurite
    svc = BlobServiceClient(account_url=f"{url}/{account}", credential={"account_name": account, "account_key": key})
    container = svc.create_container("costexports")
    feb, mar = date(2026, 2, 1), date(2026, 3, 1)
    old_feb = focus_rows(feb, 28, bump=Decimal("5"))
    new_feb = focus_rows(feb, 28)
    upload_run(container, feb, "run-feb-1", "2026-03-02T04:00:00Z", old_feb)
    upload_run(container, feb, "run-feb-2", "2026-03-05T04:00:00Z", new_feb)  # the newest run of February
    march = focus_rows(mar, 14)
    upload_run(container, mar, "run-mar-1", "2026-03-15T04:00:00Z", march)
    container.upload_blob(f"{PREFIX}/README.txt", b"not an export", overwrite=True)
    return {"url": f"{url}/{account}/costexports", "key": key, "rows": new_feb + march, "container": container}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, estate: dict[str, Any]) -> list[float]:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_AZURE_STORAGE_KEY", estate["key"])
    waits: list[float] = []
    monkeypatch.setattr(az_session, "SLEEP", waits.append)
    return waits


def config(tmp_path: Path, estate: dict[str, Any], **extra: Any) -> Path:
    p = tmp_path / "config.toml"
    lines = ["[sources.azexport]", 'kind = "azure"', f'subscriptions = ["{SUB1}", "{SUB2}"]', 'cost_source = "export"',
             f'export_container_url = "{estate["url"]}"', f'export_path = "{PREFIX}"', 'steps = ["costs"]',
             "backfill_months = 2"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def expected(rows: list[dict[str, Any]], by: str, metric: str = "BilledCost") -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        out[(r[by], r["BillingCurrency"])] += Decimal(r[metric])
    return {k: to_nanos(v) for k, v in out.items()}


def report(capsys: pytest.CaptureFixture[str], by: str, metric: str) -> dict[tuple[str, str], int]:
    capsys.readouterr()
    assert main(["report", "spend", "--by", by, "--metric", metric, "--format", "json"]) == 0
    return {(r[by], r["currency"]): to_nanos(Decimal(str(r["cost"]))) for r in json.loads(capsys.readouterr().out)}


def test_newest_run_of_each_month_reconciles_per_currency(
    env: list[float], estate: dict[str, Any], tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--config", str(config(tmp_path, estate))]) == 0
    out = capsys.readouterr().out
    assert "azexport: ok" in out
    rows = estate["rows"]
    assert report(capsys, "sub_account_id", "billed") == expected(rows, "SubAccountId")
    assert report(capsys, "service_name", "billed") == expected(rows, "ServiceName")
    assert report(capsys, "region_id", "effective") == expected(rows, "RegionId", "EffectiveCost")
    with Store(db_path, readonly=True) as s:
        run = dict(s.conn.execute("SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone())
        days = s.conn.execute("SELECT min(day), max(day), count(DISTINCT day) FROM costs").fetchone()
    detail = json.loads(run["detail"])
    assert detail["export_runs"] == {"2026-02": "run-feb-2", "2026-03": "run-mar-1"}
    assert detail["cost_window"] == ["2026-02-01", "2026-04-01"]
    assert tuple(days) == ("2026-02-01", "2026-03-14", 28 + 14)
    # requests: 1 list + 3 manifests + 4 parts (the superseded February run's parts are never read)
    assert run["api_calls"] == 8


def test_partial_upload_is_refused_and_the_cache_kept(
    env: list[float], estate: dict[str, Any], tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, estate)
    assert main(["sync", "--config", str(cfg)]) == 0
    with Store(db_path, readonly=True) as s:
        before = s.conn.execute("SELECT sum(billed), count(*) FROM costs").fetchone()
    march = focus_rows(date(2026, 3, 1), 15)
    upload_run(estate["container"], date(2026, 3, 1), "run-mar-2", "2026-03-16T04:00:00Z", march, lie_size=True)
    try:
        capsys.readouterr()
        assert main(["sync", "--config", str(cfg)]) == 1
        line = next(x for x in capsys.readouterr().out.splitlines() if "azexport: failed" in x)
        assert "the manifest says" in line and "partial upload" in line
        with Store(db_path, readonly=True) as s:
            assert s.conn.execute("SELECT sum(billed), count(*) FROM costs").fetchone() == before
    finally:
        for b in list(estate["container"].list_blobs(name_starts_with=f"{PREFIX}/20260301-20260331/run-mar-2")):
            estate["container"].delete_blob(b.name)


def test_storage_key_refused_with_a_real_container_url(
    env: list[float], estate: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, {**estate, "url": "https://contoso.blob.core.windows.net/costexports"})
    assert main(["sync", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "COSTDECK_AZURE_STORAGE_KEY" in err and "loopback" in err


def test_wrong_key_is_one_line_naming_the_source(
    env: list[float], estate: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import base64

    monkeypatch.setenv("COSTDECK_AZURE_STORAGE_KEY", base64.b64encode(b"wrong").decode())
    assert main(["sync", "--config", str(config(tmp_path, estate))]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "azexport: failed" in x)
    assert "Azure Blob Storage List Blobs: 403" in line
