"""Azure costs through the command line, against the loopback fake of Resource Manager (tests/fake_azure.py).

Nothing here leaves 127.0.0.1: the token is COSTDECK_AZURE_TOKEN (honoured with a loopback endpoint only).
"""

from __future__ import annotations

import json
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
from tests.helpers import kill_sync_mid_write
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


def test_daily_incremental_sync_refetches_recent_days_only(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), refetch_days=3)
    t0 = time.monotonic()
    assert main(["sync", "--config", str(cfg)]) == 0
    first_s = time.monotonic() - t0
    first_calls = runs(db_path)[-1]["api_calls"]
    before = billed_by_day(db_path)
    fake.clear()
    # a day later: a late charge on a refetched day
    late = fake.usage[-1].__class__(TODAY - timedelta(days=2), SUB1, "", "Azure Support", "global", "OnDemand",
                                   Decimal("1.11"), Decimal("1.11"))
    fake.usage.append(late)
    try:
        monkeypatch.setenv("COSTDECK_NOW", "2026-03-16T06:00:00+00:00")
        t0 = time.monotonic()
        assert main(["sync", "--config", str(cfg)]) == 0
        inc_s = time.monotonic() - t0
    finally:
        fake.usage.remove(late)
    run = runs(db_path)[-1]
    bodies = [b for m, p, q, b in fake.requests if p.endswith("/query") and "$skiptoken" not in q]
    assert len(bodies) == 6 and {b["timePeriod"]["from"][:10] for b in bodies} == {"2026-03-12"}
    assert {b["timePeriod"]["to"][:10] for b in bodies} == {"2026-03-16"}
    after = billed_by_day(db_path)
    assert {d: v for d, v in after.items() if d < "2026-03-12"} == {d: v for d, v in before.items() if d < "2026-03-12"}
    assert after["2026-03-13"] == before["2026-03-13"] + to_nanos(Decimal("1.11"))
    print(f"\none subscription: first sync {first_calls} requests ({first_s:.2f}s), daily incremental "
          f"{run['api_calls']} requests ({len(bodies)} Cost Management queries + "
          f"{run['api_calls'] - fake.count('/query')} ARM, {fake.count('/query')} with pages; {inc_s:.2f}s)")


# -- faults ---------------------------------------------------------------------------------------------------


def test_throttling_429_waits_retry_after_and_counts(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    fake.add_fault("/query", 429, times=2, code="TooManyRequests", message="Too many requests. Please retry.",
                   headers={"Retry-After": "3", "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "5",
                            "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "QueryUsage=0"})
    from providers.config import load_config
    from providers.sync import run_sync

    [res] = run_sync(db_path, load_config(cfg))
    run = runs(db_path)[-1]
    assert az == [5.0, 5.0]  # the larger of the two headers, waited twice
    assert run["status"] == "ok" and res.retries == 2
    assert run["api_calls"] == len(fake.requests)  # the throttled attempts are counted too
    got = report(capsys, "sub_account_id", "billed")
    lo = TODAY.replace(day=1)
    assert got == {SUB1: nanos(fake.total("sub", "ActualCost", lo, TODAY + timedelta(days=1)))[SUB1]}


def test_queries_are_spread_when_the_query_units_run_out(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    fake.qpu_empty_every = 3
    fake.queries_answered = 0
    try:
        assert main(["sync", "--config", str(cfg)]) == 0
    finally:
        fake.qpu_empty_every = 0
    n = fake.count("/query")
    assert n >= 6 and az == [4.0] * (n // 3)  # waited before the next query, never throttled
    assert runs(db_path)[-1]["status"] == "ok"


def test_server_error_keeps_previous_data_and_says_so(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1, max_attempts=3)
    assert main(["sync", "--config", str(cfg)]) == 0
    before = billed_by_day(db_path)
    fake.add_fault("/query", 503, times=-1, code="ServiceUnavailable", message="Try later")
    capsys.readouterr()
    assert main(["sync", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "azprod: failed" in x)
    assert "503" in line and "after 3 attempts" in line and "ServiceUnavailable Try later" in line
    assert billed_by_day(db_path) == before
    assert len(az) == 2  # backoff between the 3 attempts, recorded not slept


def test_forbidden_on_the_cost_api_fails_that_step_only(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1, steps=["costs", "inventory"])
    fake.add_fault("/query", 403, times=-1, code="AuthorizationFailed",
                   message="The client does not have authorization to perform action "
                           "'Microsoft.CostManagement/query/action'")
    assert main(["sync", "--config", str(cfg)]) == 0  # partial: the rest of the source synced
    out = capsys.readouterr().out
    assert "azprod: partial" in out and "AuthorizationFailed" in out
    run = runs(db_path)[-1]
    steps = json.loads(run["detail"])["steps"]
    assert steps["costs"]["status"] == "failed" and steps["inventory"]["status"] == "ok"
    with Store(db_path, readonly=True) as s:
        assert s.conn.execute("SELECT count(*) FROM resources WHERE provider_name='Microsoft'").fetchone()[0] > 5


def test_expired_token_fails_the_source_with_one_line(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    fake.token = "a-newer-token"
    assert main(["sync", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if "azprod: failed" in x]
    assert "401 Unauthorized" in line and "source 'azprod'" in line and "ExpiredAuthenticationToken" in line
    assert TOKEN not in out
    assert len(fake.requests) == 1  # stopped at the first 401, no retries


def test_missing_credentials_name_the_source(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import azure.identity
    from azure.core.exceptions import ClientAuthenticationError

    class NoCredential:  # what DefaultAzureCredential raises on a machine with no login (no network here)
        def __init__(self, **kw: Any) -> None:
            pass

        def get_token(self, *scopes: str, **kw: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included "
                                            "credentials.\nAttempted credentials:\n\tEnvironmentCredential: "
                                            "EnvironmentCredential authentication unavailable.")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    monkeypatch.delenv("COSTDECK_AZURE_TOKEN")
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    assert main(["sync", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if "azprod: failed" in x]
    assert "source 'azprod': no Azure credentials" in line and "az login" in line
    assert "EnvironmentCredential authentication unavailable" in line
    assert fake.requests == []


def test_emulator_token_refused_with_a_real_endpoint(
    az: list[float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, "https://management.azure.com", subs=(SUB1,))
    assert main(["sync", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "COSTDECK_AZURE_TOKEN" in err and "loopback" in err


def test_sync_killed_mid_write_leaves_previous_data_intact(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    assert main(["sync", "--config", str(cfg)]) == 0
    before = billed_by_day(db_path)
    monkeypatch.setenv("COSTDECK_NOW", "2026-03-16T06:00:00+00:00")
    kill_sync_mid_write(db_path, cfg)
    assert billed_by_day(db_path) == before
    assert main(["sync", "--config", str(cfg)]) == 0
    assert [r["status"] for r in runs(db_path)] == ["ok", "failed", "ok"]


@pytest.mark.parametrize(("body", "expected"), [
    ('subscriptions = ["not-a-guid"]', 'expected a list of subscription GUIDs like ["00000000-0000-0000-0000-0000'),
    ("subscriptions = []", "subscriptions"),
    (f'subscriptions = ["{SUB1}"]\ncost_source = "export"', 'export_container_url: required when cost_source = "export"'),
    (f'subscriptions = ["{SUB1}"]\nendpoint = "http://user:pw@127.0.0.1:1"', "endpoint"),
    (f'subscriptions = ["{SUB1}"]\nsteps = ["sagemaker"]', "steps"),
    (f'subscriptions = ["{SUB1}"]\ntenant_id = "x"', "tenant_id: expected a GUID like 00000000-0000-0000-0000-000000000000"),
])
def test_bad_azure_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                                             expected: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[sources.az]\nkind = "azure"\n{body}\n', encoding="utf-8")
    assert main(["sources", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sources.az" in err and expected in err, err


def test_split_keeps_both_totals_exact() -> None:
    from providers.azure.costs import split_table

    rows = {"Virtual Machines": 1_000_000_001, "Bandwidth": 333_333_333}
    parts = {"westeurope": 700_000_000, "global": 633_333_334}
    cells = split_table(rows, parts)
    for k, a in rows.items():
        assert sum(v for (r, _), v in cells.items() if r == k) == a
    for p, a in parts.items():
        assert sum(v for (_, q), v in cells.items() if q == p) == a
    assert split_table({"x": 5}, {"only": 5}) == {("x", "only"): 5}
    mixed = split_table({"a": 10, "refund": -4}, {"p": 3, "q": 3})  # a refund: each row split on its own
    assert sum(v for (r, _), v in mixed.items() if r == "refund") == -4 and sum(mixed.values()) == 6


def test_an_answer_without_usage_dates_is_one_line(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = fake.query

    def no_dates(*a: Any) -> dict[str, Any]:
        out = real(*a)
        props = out["properties"]
        keep = [i for i, c in enumerate(props["columns"]) if c["name"] != "UsageDate"]
        props["columns"] = [props["columns"][i] for i in keep]
        props["rows"] = [[r[i] for i in keep] for r in props["rows"]]
        return out

    monkeypatch.setattr(fake, "query", no_dates)
    cfg = write_config(tmp_path, fake.url, subs=(SUB1,), backfill_months=1)
    assert main(["sync", "--config", str(cfg)]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "azprod: failed" in x)
    assert "the answer has no UsageDate column (columns: PreTaxCost, ResourceId, ServiceName, Currency)" in line


def test_the_fake_answers_in_the_documented_shape(fake: FakeAzure) -> None:
    """The fake's query answer has the shape of the azure-rest-api-specs examples (tests/data/azure)."""
    import httpx

    fake.token = TOKEN
    data = Path(__file__).parent / "data" / "azure"
    example = json.loads((data / "azure_costmanagement_query_example_MCABillingProfileQueryGrouping_2023-11-01.json")
                         .read_text(encoding="utf-8"))
    want = example["responses"]["200"]["body"]
    body = dict(example["parameters"]["parameters"], type="ActualCost", timeframe="Custom",
                timePeriod={"from": "2026-02-01T00:00:00+00:00", "to": "2026-02-28T23:59:59+00:00"})
    resp = httpx.post(f"{fake.url}/subscriptions/{SUB1}/providers/Microsoft.CostManagement/query",
                      params={"api-version": "2023-11-01"}, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    got = resp.json()
    assert set(got) == set(want) and set(got["properties"]) == set(want["properties"])
    assert [c["name"] for c in got["properties"]["columns"]] == [c["name"] for c in want["properties"]["columns"]]
    assert {type(v).__name__ for row in got["properties"]["rows"] for v in row[:1]} == {"float"}
    rg = {row[1]: Decimal(str(row[0])) for row in got["properties"]["rows"]}
    seeded = sum((u.actual for u in fake.usage if u.sub == SUB1 and u.day.month == 2 and "rg-web" in u.rid),
                 Decimal(0))
    assert rg["rg-web"] == seeded
