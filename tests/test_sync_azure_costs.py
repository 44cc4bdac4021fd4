"""Azure costs through the command line, against the loopback fake of Resource Manager (tests/fake_azure.py).

Nothing here leaves 127.0.0.1: the token is COSTDECK_AZURE_TOKEN (honoured with a loopback endpoint only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from cache.money import to_nanos
from providers.azure import session as az_session
from tests.fake_azure import SUB1, SUB2, TOKEN, FakeAzure, seed
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-03-15T12:00:00+00:00"
TODAY = date(2026, 3, 15)
FIRST = TODAY - timedelta(days=45)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAzure]:
    f = FakeAzure(page_size=40)
    f.start()
    seed(f, TODAY)
    yield f
    f.stop()


@pytest.fixture
def az(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The fake, reset; the clock pinned; the emulator token set; waits recorded (returned), not slept."""
    fake.clear()
    fake.token = TOKEN
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_AZURE_TOKEN", TOKEN)
    waits: list[float] = []
    monkeypatch.setattr(az_session, "SLEEP", waits.append)
    return waits


def write_config(tmp_path: Path, endpoint: str, name: str = "azprod", subs: tuple[str, ...] = (SUB1, SUB2),
                 **opts: Any) -> Path:
    opts.setdefault("steps", ["costs"])
    lines = [f"[sources.{name}]", 'kind = "azure"', f"subscriptions = {json.dumps(list(subs))}",
             f'endpoint = "{endpoint}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report(capsys: pytest.CaptureFixture[str], by: str, metric: str) -> dict[str, int]:
    capsys.readouterr()
    assert main(["report", "spend", "--by", by, "--metric", metric, "--format", "json"]) == 0
    got = {r[by]: to_nanos(Decimal(str(r["cost"]))) for r in json.loads(capsys.readouterr().out)}
    return {k: v for k, v in got.items() if v}


def nanos(d: dict[str, Decimal]) -> dict[str, int]:
    return {k: to_nanos(v) for k, v in d.items() if v}


def runs(db: Path) -> list[dict[str, Any]]:
    with Store(db, readonly=True) as s:
        return [dict(r) for r in s.conn.execute("SELECT * FROM sync_runs ORDER BY id")]


def billed_by_day(db: Path) -> dict[str, int]:
    with Store(db, readonly=True) as s:
        return dict(s.conn.execute("SELECT day, sum(billed) FROM costs GROUP BY day").fetchall())


# -- first sync, reports, incremental ---------------------------------------------------------------------


def test_first_sync_reconciles_to_the_cent_by_subscription_service_and_region(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, fake.url)
    t0 = time.monotonic()
    assert main(["sync", "--config", str(cfg)]) == 0
    elapsed = time.monotonic() - t0
    out = capsys.readouterr().out
    assert "azprod: ok" in out
    [run] = runs(db_path)
    assert run["status"] == "ok"
    # 13 months x 2 types x 3 groupings per subscription, plus the nextLink pages; + 2 ARM calls per subscription
    queries = fake.count("/Microsoft.CostManagement/query")
    first_pages = [b for m, p, q, b in fake.requests if p.endswith("/query") and "$skiptoken" not in q]
    assert len(first_pages) == 2 * 13 * 6
    assert queries > len(first_pages)  # pages followed
    assert run["api_calls"] == len(fake.requests) == queries + 4 + fake.count("/resources") - 2
    bodies = [b for b in first_pages if b["timePeriod"]["from"].startswith("2026-03-01")]
    assert {(b["type"], b["dataset"]["grouping"][1]["name"]) for b in bodies} == {
        (t, g) for t in ("ActualCost", "AmortizedCost") for g in ("ServiceName", "PricingModel", "ResourceLocation")}
    assert all(len(b["dataset"]["grouping"]) <= 2 for b in first_pages)

    hi = TODAY + timedelta(days=1)
    for metric, ctype in (("billed", "ActualCost"), ("effective", "AmortizedCost")):
        assert report(capsys, "sub_account_id", metric) == nanos(fake.total("sub", ctype, FIRST, hi)), metric
        assert report(capsys, "service_name", metric) == nanos(fake.total("service", ctype, FIRST, hi)), metric
        want = {k or "": v for k, v in nanos(fake.total("location", ctype, FIRST, hi)).items()}
        got = report(capsys, "region_id", metric)
        assert {k or "": v for k, v in got.items()} == want, metric
    with Store(db_path, readonly=True) as s:
        names = dict(s.conn.execute("SELECT value, label FROM dims WHERE kind='sub_account'").fetchall())
        assert names[SUB1] == "Production" and names[SUB2] == "Development"
        cur = {r[0] for r in s.conn.execute("SELECT DISTINCT c.value FROM costs JOIN dims c ON c.id = costs.currency")}
    assert cur == {"USD"}
    print(f"\nfirst sync (2 subscriptions, 13 months): {run['api_calls']} requests "
          f"({queries} Cost Management), {elapsed:.2f}s against the fake")
