"""Sync machinery and AWS costs against moto on 127.0.0.1 (plus a fault-injecting proxy).

Nothing here leaves loopback: moto is a ThreadedMotoServer on 127.0.0.1, credentials are fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from cache import Store
from cache.money import decimal_str, to_nanos
from providers.aws import adapter as aws_adapter
from providers.aws import costs as aws_costs
from providers.aws.adapter import AwsOptions
from providers.aws.session import AwsSession
from providers.base import CostOptions, SourceProgress, StepError, SyncContext
from providers.config import load_config
from providers.sync import backfill_start, run_sync
from tests import moto_server
from tests.helpers import kill_sync_mid_write
from tests.moto_server import DENIED, EXPIRED, SERVER_ERROR, FaultProxy, reset_moto, seed_cost_and_usage
from tui.cli import main

# the shared fixtures (loopback moto server, fake credentials, fast backoff, fault proxy)
moto_url = moto_server.moto_url
aws_env = moto_server.aws_env
fast_retries = moto_server.fast_retries
fault_proxy = moto_server.fault_proxy

REPO = Path(__file__).resolve().parent.parent
NOW = "2025-03-15T12:00:00+00:00"
TODAY = date(2025, 3, 15)
PAYER = "123456789012"  # moto's account
LINKED = {"123456789012": "Payer", "210987654321": "Data team"}
SERVICES = {
    "Amazon Elastic Compute Cloud - Compute": Decimal("12.3456"),
    "Amazon Simple Storage Service": Decimal("1.01"),
    "Amazon SageMaker": Decimal("3.5"),
    "Tax": Decimal("0.77"),
}


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def aws(moto_url: str, aws_env: None, fast_retries: None, monkeypatch: pytest.MonkeyPatch) -> str:
    reset_moto(moto_url)
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    return moto_url


def write_config(tmp_path: Path, endpoint: str, name: str = "prod", **opts: Any) -> Path:
    opts.setdefault("steps", ["costs"])
    lines = [f"[sources.{name}]", 'kind = "aws"', f'endpoint_url = "{endpoint}"', 'regions = ["us-east-1"]']
    lines += [f"{k} = {json.dumps(v)}" for k, v in opts.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def amount(service: str, account: str, day: date, bump: Decimal = Decimal(0)) -> Decimal:
    base = SERVICES[service] * (2 if account != PAYER else 1)
    return base + Decimal(day.day) / 100 + bump


def ce_page(days: list[date], token: str | None = None, bump: Decimal = Decimal(0)) -> dict[str, Any]:
    """A GetCostAndUsage response (LINKED_ACCOUNT x SERVICE) shaped like the real one."""
    by_time = []
    for d in days:
        groups = []
        for acct in LINKED:
            for svc in SERVICES:
                a = amount(svc, acct, d, bump)
                groups.append({
                    "Keys": [acct, svc],
                    "Metrics": {
                        "UnblendedCost": {"Amount": str(a), "Unit": "USD"},
                        "AmortizedCost": {"Amount": str(a - Decimal("0.5") if svc.startswith("Amazon Elastic") else a), "Unit": "USD"},
                        "PublicOnDemandCost": {"Amount": str(a * 2), "Unit": "USD"},
                    },
                })
        groups.append({"Keys": [PAYER, "AWS Config"], "Metrics": {
            "UnblendedCost": {"Amount": "0", "Unit": "USD"}, "AmortizedCost": {"Amount": "0", "Unit": "USD"},
            "PublicOnDemandCost": {"Amount": "0", "Unit": "USD"}}})  # all-zero groups are dropped
        by_time.append({
            "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
            "Total": {}, "Groups": groups, "Estimated": d >= TODAY - timedelta(days=2),
        })
    page: dict[str, Any] = {
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        "ResultsByTime": by_time,
        "DimensionValueAttributes": [{"Value": k, "Attributes": {"description": v}} for k, v in LINKED.items()],
    }
    if token:
        page["NextPageToken"] = token
    return page


def credit_page(days: list[date]) -> dict[str, Any]:
    return {
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "RECORD_TYPE"}],
        "ResultsByTime": [
            {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
             "Groups": [{"Keys": ["210987654321", "Credit"], "Metrics": {
                 "UnblendedCost": {"Amount": "-1.25", "Unit": "USD"}, "AmortizedCost": {"Amount": "-1.25", "Unit": "USD"},
                 "PublicOnDemandCost": {"Amount": "0", "Unit": "USD"}}}], "Estimated": False}
            for d in days
        ],
        "DimensionValueAttributes": [],
    }


def days_between(lo: date, hi: date) -> list[date]:
    return [lo + timedelta(days=i) for i in range((hi - lo).days)]


def expected_billed(days: list[date], bump: Decimal = Decimal(0)) -> int:
    return sum(to_nanos(amount(s, a, d, bump)) for d in days for a in LINKED for s in SERVICES)


def seed_first_sync(url: str, today: date = TODAY) -> list[date]:
    """Two pages of services (split mid-window), then the credits answer."""
    window = days_between(backfill_start(today, 13), today + timedelta(days=1))
    half = len(window) // 2
    seed_cost_and_usage(url, [ce_page(window[:half], token="page-2"), ce_page(window[half:]), credit_page(window[:3])])
    return window


def totals(db: Path) -> dict[str, int]:
    with Store(db, readonly=True) as s:
        return {r[0]: r[1] for r in s.conn.execute(
            "SELECT charge_category.value, sum(billed) FROM costs JOIN dims charge_category "
            "ON charge_category.id = costs.charge_category GROUP BY 1")}


def billed_by_day(db: Path) -> dict[str, int]:
    with Store(db, readonly=True) as s:
        return dict(s.conn.execute("SELECT day, sum(billed) FROM costs GROUP BY day").fetchall())


def last_run(db: Path) -> dict[str, Any]:
    with Store(db, readonly=True) as s:
        r = s.conn.execute("SELECT * FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()
        return dict(r)


# -- Cost Explorer: first sync, report, incremental ------------------------------------------------------


def test_first_sync_backfills_13_months_and_report_shows_them(
    aws: str, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = seed_first_sync(aws)
    config = load_config(write_config(tmp_path, aws))
    seen: list[SourceProgress] = []
    t0 = time.monotonic()
    [res] = run_sync(db_path, config, progress=seen.append)
    elapsed = time.monotonic() - t0

    assert res.status == "ok", res.error
    assert res.first_sync and res.window == (date(2024, 3, 1), date(2025, 3, 16))
    # 2 pages of services + 1 credits request are billed; STS GetCallerIdentity is not.
    assert (res.billed_api_calls, res.api_calls) == (3, 4)
    n_rows = len(window) * len(LINKED) * len(SERVICES) + 3
    assert res.rows == n_rows
    t = totals(db_path)
    assert t["Usage"] + t["Tax"] == expected_billed(window)
    assert t["Tax"] == sum(to_nanos(amount("Tax", a, d)) for d in window for a in LINKED)
    assert t["Credit"] == -3 * 1_250_000_000

    run = last_run(db_path)
    assert run["status"] == "ok" and run["billed_api_calls"] == 3 and run["rows"] == n_rows
    detail = json.loads(run["detail"])
    assert detail["cost_window"] == ["2024-03-01", "2025-03-16"] and detail["account_id"] == PAYER
    with Store(db_path, readonly=True) as s:
        assert s.snapshot_time() is not None
        assert s.conn.execute("SELECT label FROM dims WHERE kind='sub_account' AND value='210987654321'").fetchone()[0] == "Data team"
        assert s.conn.execute(
            "SELECT extra FROM dims WHERE kind='service' AND value='Amazon SageMaker'").fetchone()[0] == "AI and Machine Learning"
        eff, lst = s.conn.execute("SELECT sum(effective), sum(list) FROM costs WHERE charge_category != "
                                  "(SELECT id FROM dims WHERE kind='charge_category' AND value='Credit')").fetchone()
    assert eff == expected_billed(window) - to_nanos(Decimal("0.5")) * len(window) * len(LINKED)
    assert lst == 2 * expected_billed(window)
    assert seen[0].status == "queued" and seen[-1].status == "ok" and seen[-1].billed_api_calls == 3
    assert any(p.step == "costs" and p.status == "running" for p in seen)

    # the report reads it back, exact to the nano-unit
    assert main(["report", "spend", "--by", "sub_account_id", "--format", "json"]) == 0
    rep = {r["sub_account_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rep["210987654321"]["name"] == "Data team"
    data_team = sum(to_nanos(amount(s_, "210987654321", d)) for d in window for s_ in SERVICES) - 3 * 1_250_000_000
    assert to_nanos(Decimal(str(rep["210987654321"]["cost"]))) == data_team
    assert main(["report", "spend", "--by", "service_name", "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out
    ec2 = sum(to_nanos(amount("Amazon Elastic Compute Cloud - Compute", a, d)) for d in window for a in LINKED)
    assert f"Amazon Elastic Compute Cloud - Compute,{decimal_str(ec2)},USD" in csv_out
    print(f"\nfirst sync: {res.billed_api_calls} Cost Explorer requests, {res.rows} rows, {elapsed:.2f}s")


def test_incremental_sync_refetches_recent_days_only(
    aws: str, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch, fault_proxy: FaultProxy
) -> None:
    seed_first_sync(aws)
    config = load_config(write_config(tmp_path, fault_proxy.url, refetch_days=3))
    [first] = run_sync(db_path, config)
    assert first.status == "ok"
    before = billed_by_day(db_path)
    first_ce = fault_proxy.count("GetCostAndUsage")

    # a day later: late charges changed the last days, and there is one new day
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T06:00:00+00:00")
    new_window = days_between(date(2025, 3, 12), date(2025, 3, 17))
    seed_cost_and_usage(aws, [ce_page(new_window, bump=Decimal("0.10")), credit_page([])])
    [inc] = run_sync(db_path, config)
    assert inc.status == "ok" and not inc.first_sync
    assert inc.window == (date(2025, 3, 12), date(2025, 3, 17))
    assert fault_proxy.count("GetCostAndUsage") - first_ce == inc.billed_api_calls == 2
    after = billed_by_day(db_path)
    # days before the refetch window untouched, refetched days replaced, the new day added
    assert {d: v for d, v in after.items() if d < "2025-03-12"} == {d: v for d, v in before.items() if d < "2025-03-12"}
    for d in new_window:
        assert after[d.isoformat()] == expected_billed([d], Decimal("0.10")), d
    assert "2025-03-16" in after and "2025-03-16" not in before
    print(f"\nCost Explorer requests: first sync {first.billed_api_calls}, daily incremental {inc.billed_api_calls}")


# -- faults ---------------------------------------------------------------------------------------------------


def test_throttling_is_retried_with_backoff_and_counted(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy
) -> None:
    window = seed_first_sync(aws)
    fault_proxy.add_fault("GetCostAndUsage", times=2, status=400, code="ThrottlingException", message="Rate exceeded")
    [res] = run_sync(db_path, load_config(write_config(tmp_path, fault_proxy.url)))
    assert res.status == "ok", res.error
    assert res.retries == 2
    # every HTTP attempt is counted: 3 CE requests + 2 throttled ones
    assert res.billed_api_calls == 5 == fault_proxy.count("GetCostAndUsage")
    assert totals(db_path)["Usage"] + totals(db_path)["Tax"] == expected_billed(window)


def _fake_inventory(ctx: SyncContext, aws: AwsSession) -> int:
    """A stand-in inventory step making a real EC2 call (keeps these tests independent of 3b)."""
    resp = aws.client("ec2", "us-east-1").describe_instances()
    return len(resp.get("Reservations", [])) + 1


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    real = aws_adapter.load_step
    monkeypatch.setattr(aws_adapter, "load_step", lambda n: _fake_inventory if n == "inventory" else real(n))


def test_server_error_on_one_api_keeps_previous_data_and_other_steps(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy, fake_steps: None
) -> None:
    window = seed_first_sync(aws)
    config = load_config(write_config(tmp_path, fault_proxy.url, steps=["costs", "inventory"]))
    assert run_sync(db_path, config)[0].status == "ok"
    before = billed_by_day(db_path)

    fault_proxy.add_fault("GetCostAndUsage", times=-1, **SERVER_ERROR)
    [res] = run_sync(db_path, config)
    assert res.status == "partial"
    assert res.step_errors["costs"].startswith("AWS GetCostAndUsage failed with HTTP 500 after 5 attempts")
    assert res.steps["inventory"]["status"] == "ok"
    assert billed_by_day(db_path) == before and sum(before.values()) == expected_billed(window) - 3 * 1_250_000_000
    run = last_run(db_path)
    assert run["status"] == "partial" and run["error"].startswith("costs: AWS GetCostAndUsage failed with HTTP 500")
    # the failed costs step did not count as synced: the next window is computed from the earlier run
    assert "cost_window" not in json.loads(run["detail"])


def test_access_denied_on_one_api_partial(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy, fake_steps: None
) -> None:
    seed_first_sync(aws)
    fault_proxy.add_fault("DescribeInstances", times=-1, status=403, code="UnauthorizedOperation",
                          message="You are not authorized to perform this operation.")
    config = load_config(write_config(tmp_path, fault_proxy.url, steps=["costs", "inventory"]))
    [res] = run_sync(db_path, config)
    assert res.status == "partial"
    assert res.steps["costs"]["status"] == "ok" and res.rows > 0
    assert res.step_errors == {"inventory": "access denied on DescribeInstances (UnauthorizedOperation): grant it "
                               "to this profile's role, or leave the step out with steps = [...]"}
    assert last_run(db_path)["error"].startswith("inventory: access denied on DescribeInstances")


def test_expired_token_fails_the_source_with_a_clear_message(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy, fake_steps: None
) -> None:
    seed_first_sync(aws)
    config = load_config(write_config(tmp_path, fault_proxy.url, steps=["costs", "inventory"]))
    fault_proxy.add_fault("GetCostAndUsage", times=-1, **EXPIRED)
    [res] = run_sync(db_path, config)
    assert res.status == "failed"
    assert res.error == "credentials expired: run `aws sso login --profile default` or refresh them"
    assert res.steps["inventory"]["status"] == "pending" or res.steps["inventory"]["status"] == "skipped"
    assert fault_proxy.count("DescribeInstances") == 0  # the source stopped: no point calling more APIs
    assert last_run(db_path)["status"] == "failed"
    with Store(db_path, readonly=True) as s:
        assert s.snapshot_time() is None  # a failed sync does not refresh the snapshot time


def test_expired_token_on_sts_names_the_profile(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "aws-config"
    cfg.write_text("[profile dev-sso]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
                   "region = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    fault_proxy.add_fault("GetCallerIdentity", times=-1, status=403, code="ExpiredToken", message="expired")
    config = load_config(write_config(tmp_path, fault_proxy.url, profile="dev-sso"))
    [res] = run_sync(db_path, config)
    assert (res.status, res.error) == (
        "failed", "credentials expired: run `aws sso login --profile dev-sso` or refresh them")


def test_no_credentials_says_which_chain_was_tried(
    aws: str, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    [res] = run_sync(db_path, load_config(write_config(tmp_path, aws)))
    assert res.status == "failed"
    assert res.error is not None and res.error.startswith("no AWS credentials found (tried environment variables")
    assert "instance metadata" in res.error and "default profile" in res.error


def test_one_failing_source_does_not_affect_another(
    aws: str, tmp_path: Path, db_path: Path, fault_proxy: FaultProxy
) -> None:
    window = seed_first_sync(aws)
    fault_proxy.add_fault("GetCallerIdentity", times=-1, **EXPIRED)
    text = write_config(tmp_path, aws, name="good").read_text() + write_config(
        tmp_path, fault_proxy.url, name="bad").read_text()
    (tmp_path / "two.toml").write_text(text)
    results = {r.source: r for r in run_sync(db_path, load_config(tmp_path / "two.toml"))}
    assert results["good"].status == "ok" and results["bad"].status == "failed"
    assert sum(billed_by_day(db_path).values()) == expected_billed(window) - 3 * 1_250_000_000


def test_sync_killed_mid_write_leaves_previous_data_intact(
    aws: str, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_first_sync(aws)
    config_path = write_config(tmp_path, aws)
    config = load_config(config_path)
    assert run_sync(db_path, config)[0].status == "ok"
    before = billed_by_day(db_path)

    # 1) an exception inside the window write (after many rows were inserted)
    monkeypatch.setenv("COSTDECK_NOW", "2025-03-16T06:00:00+00:00")
    seed_cost_and_usage(aws, [ce_page(days_between(date(2025, 3, 12), date(2025, 3, 17)), bump=Decimal(5)), credit_page([])])
    real = Store._cost_tuple
    calls = {"n": 0}

    def boom(self: Store, *a: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk I/O error (simulated)")
        return real(self, *a)

    monkeypatch.setattr(Store, "_cost_tuple", boom)
    [res] = run_sync(db_path, config)
    monkeypatch.setattr(Store, "_cost_tuple", real)
    assert res.status == "failed" and "simulated" in (res.error or "")
    assert billed_by_day(db_path) == before

    # 2) the process is killed (SIGKILL) in the middle of the write transaction
    kill_sync_mid_write(db_path, config_path)
    assert billed_by_day(db_path) == before
    # the next sync marks the dead run and succeeds (the answer for this body is cached by moto)
    [again] = run_sync(db_path, config)
    assert again.status == "ok" and not again.first_sync
    with Store(db_path, readonly=True) as s:
        statuses = [r[0] for r in s.conn.execute("SELECT status FROM sync_runs ORDER BY id")]
        assert statuses == ["ok", "failed", "failed", "ok"]
        assert s.conn.execute("SELECT error FROM sync_runs WHERE id=3").fetchone()[0].startswith("interrupted")
    assert billed_by_day(db_path)["2025-03-16"] == expected_billed([date(2025, 3, 16)], Decimal(5))


def test_cancel_stops_a_source_without_touching_its_data(aws: str, tmp_path: Path, db_path: Path) -> None:
    seed_first_sync(aws)
    cancel = threading.Event()
    cancel.set()
    [res] = run_sync(db_path, load_config(write_config(tmp_path, aws)), cancel=cancel)
    assert (res.status, res.error) == ("failed", "cancelled")
    assert billed_by_day(db_path) == {}


def test_unknown_source_name_is_refused_before_anything_runs(aws: str, tmp_path: Path, db_path: Path) -> None:
    from providers.errors import InputError

    with pytest.raises(InputError, match=r"unknown source 'nope' \(configured: prod\)"):
        run_sync(db_path, load_config(write_config(tmp_path, aws)), ["nope"])
    assert not db_path.exists()


# -- Athena (Stubber: moto answers Athena generically) ----------------------------------------------------------


def _athena_ctx(db_path: Path, options: dict[str, Any]) -> SyncContext:
    store = Store(db_path)
    sid = store.ensure_source("cur", "aws", options)
    return SyncContext(store=store, source_id=sid, source_name="cur", kind="aws", options=AwsOptions(**options),
                       now=__import__("datetime").datetime(2025, 3, 15, 12, tzinfo=__import__("datetime").UTC),
                       cost_window=(date(2025, 3, 1), date(2025, 3, 16)))


def _rows(*values: list[str | None]) -> list[dict[str, Any]]:
    return [{"Data": [({"VarCharValue": v} if v is not None else {}) for v in row]} for row in values]


def test_athena_cur2_query_is_aggregated_in_athena_and_paged(db_path: Path, aws_env: None) -> None:
    opts = {"cost_source": "athena", "athena_schema": "cur2", "athena_database": "cur", "athena_table": "cur2_daily",
            "athena_workgroup": "primary", "athena_output_location": "s3://results/costdeck/"}
    ctx = _athena_ctx(db_path, opts)
    session = AwsSession(AwsOptions(**opts, region="us-east-1"), ctx.counter)
    athena = session.client("athena")
    cols = ["day", "billing_account_id", "sub_account_id", "sub_account_name", "service_name", "product_code",
            "region_id", "resource_id", "line_item_type", "currency", "tags", "billed", "effective", "list", "contracted"]
    meta = {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in cols]}
    r1 = ["2025-03-02", PAYER, "210987654321", "Data team", "Amazon Elastic Compute Cloud", "AmazonEC2", "eu-west-1",
          "i-0abc", "SavingsPlanCoveredUsage", "USD", '{"user_team":"ml"}', "10.0000000000", "6.5000000000",
          "12.0000000000", "10.0000000000"]
    r2 = ["2025-03-02", PAYER, PAYER, None, "Tax", "Tax", None, None, "Tax", "USD", None, "1.2300000000",
          "1.2300000000", "0E-10", "1.2300000000"]
    r3 = ["2025-02-27", PAYER, PAYER, None, "Tax", "Tax", None, None, "Tax", "USD", None, "9", "9", "9", "9"]
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}})
        stub.add_response("get_query_results", {"ResultSet": {"Rows": _rows(cols, r1), "ResultSetMetadata": meta},
                                                "NextToken": "t2"}, {"QueryExecutionId": "q-1", "MaxResults": 1000})
        stub.add_response("get_query_results", {"ResultSet": {"Rows": _rows(r2, r3), "ResultSetMetadata": meta}},
                          {"QueryExecutionId": "q-1", "MaxResults": 1000, "NextToken": "t2"})
        rows = aws_costs.fetch_athena(ctx, session, ctx.cost_window, poll_s=0.0)
        stub.assert_no_pending_responses()
    assert len(rows) == 2  # the row outside the window is dropped
    ec2, tax = rows
    assert (ec2.billed_cost, ec2.effective_cost, ec2.list_cost) == (10_000_000_000, 6_500_000_000, 12_000_000_000)
    assert (ec2.region_id, ec2.resource_id, ec2.charge_category, ec2.service_category) == (
        "eu-west-1", "i-0abc", "Usage", "Compute")
    assert ec2.tags == {"user_team": "ml"} and ec2.sub_account_name == "Data team"
    assert (tax.charge_category, tax.billed_cost, tax.list_cost) == ("Tax", 1_230_000_000, 0)
    assert ctx.write_costs(rows) == 2
    sql = aws_costs.athena_sql("cur2", "cur", "cur2_daily", ctx.cost_window)
    assert "GROUP BY" in sql and "TIMESTAMP '2025-03-01 00:00:00'" in sql and "TIMESTAMP '2025-03-16 00:00:00'" in sql
    assert "SUM(CAST(line_item_unblended_cost AS DECIMAL(38, 10)))" in sql
    ctx.store.close()


def test_athena_failed_query_is_a_step_error(db_path: Path, aws_env: None) -> None:
    opts = {"cost_source": "athena", "athena_schema": "focus", "athena_database": "exports", "athena_table": "focus",
            "athena_output_location": "s3://results/x/"}
    ctx = _athena_ctx(db_path, opts)
    session = AwsSession(AwsOptions(**opts, region="us-east-1"), ctx.counter)
    athena = session.client("athena")
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {
            "State": "FAILED", "StateChangeReason": "COLUMN_NOT_FOUND: line 3:3: Column 'billedcost' cannot be resolved"}}})
        with pytest.raises(StepError, match="Athena query failed: COLUMN_NOT_FOUND"):
            aws_costs.fetch_athena(ctx, session, ctx.cost_window, poll_s=0.0)
    assert "BilledCost" in aws_costs.athena_sql("focus", "exports", "focus", ctx.cost_window)
    ctx.store.close()


# -- the command line, as a user runs it ------------------------------------------------------------------------


def test_costdeck_sync_from_the_command_line(aws: str, tmp_path: Path) -> None:
    seed_first_sync(aws)
    config = write_config(tmp_path, aws)
    db = tmp_path / "cli.db"
    env = {**os.environ, "COSTDECK_DB": str(db)}
    exe = [sys.executable, "-m", "tui.cli"]
    t0 = time.monotonic()
    proc = subprocess.run([*exe, "sync", "--config", str(config)], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "prod: queued" in out and "prod: [0/1] costs" in out
    assert "prod: ok - 3,043 rows, 4 API calls (3 billed)" in out
    assert "Sync summary" in out and "2024-03-01..2025-03-15" in out and "backfill" in out
    src = subprocess.run([*exe, "sources", "--config", str(config)], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=60)
    assert src.returncode == 0 and "prod" in src.stdout and "ok" in src.stdout and "3043" in src.stdout and "4 (3 billed)" in src.stdout
    rep = subprocess.run([*exe, "report", "spend", "--by", "service_category", "--format", "csv"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert "AI and Machine Learning" in rep.stdout and "Compute" in rep.stdout
    print(f"\n$ costdeck sync  ({elapsed:.2f}s against moto)\n{out}")


def test_cli_sync_exit_codes(aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_proxy: FaultProxy) -> None:
    config = write_config(tmp_path, fault_proxy.url)
    assert main(["sync", "nope", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == f"costdeck: error: {config}: unknown source 'nope' (configured: prod)"
    assert main(["sync", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    fault_proxy.add_fault("GetCallerIdentity", times=-1, **DENIED)
    assert main(["sync", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "prod: failed" in out and "access denied on GetCallerIdentity" in out


def test_sources_lists_configured_sources_before_their_first_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["sources", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "prod" in out and "aws" in out and "never" in out


def test_all_aws_steps_run_against_the_emulator(aws: str, tmp_path: Path, db_path: Path) -> None:
    """Every step of the adapter runs; the ones moto cannot answer fail alone, with one line each."""
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="m5.large")
    ec2.create_volume(Size=10, AvailabilityZone="us-east-1a")
    seed_first_sync(aws)
    config = load_config(write_config(tmp_path, aws, steps=list(aws_adapter.STEPS)))
    t0 = time.monotonic()
    [res] = run_sync(db_path, config)
    elapsed = time.monotonic() - t0
    assert list(res.steps) == ["costs", "inventory", "metrics", "commitments", "sagemaker", "prices", "rightsizing"]
    assert all(s["status"] in ("ok", "failed") for s in res.steps.values()), res.steps  # none skipped
    for name in ("costs", "inventory", "metrics", "sagemaker"):
        assert res.steps[name]["status"] == "ok", res.steps[name]
    assert res.steps["inventory"]["rows"] >= 3
    assert res.status in ("ok", "partial")
    for err in res.step_errors.values():  # moto lacks RI/SP and the Price List API
        assert "\n" not in err and len(err) <= 260
    with Store(db_path, readonly=True) as s:
        assert s.conn.execute("SELECT count(*) FROM resources WHERE resource_type='instance'").fetchone()[0] == 2
    print(f"\nall steps against moto: {elapsed:.2f}s, {res.api_calls} requests ({res.billed_api_calls} billed), "
          f"status {res.status}")


def test_cost_window_rules(tmp_path: Path) -> None:
    from providers.sync import cost_window

    with Store(tmp_path / "w.db") as s:
        sid = s.ensure_source("x", "aws")
        opts = CostOptions(backfill_months=13, refetch_days=3)
        assert cost_window(s, sid, opts, TODAY) == ((date(2024, 3, 1), date(2025, 3, 16)), True)

        def ran(lo: str, hi: str, status: str = "ok") -> None:
            run = s.start_sync_run(sid)
            run.detail = {"cost_window": [lo, hi]}
            s.finish_sync_run(run, status)

        ran("2024-03-01", "2025-03-16")
        ran("2025-03-20", "2025-03-21", status="failed")  # failed runs never count
        # next day: the last synced day (03-15) minus 3 days, to tomorrow
        assert cost_window(s, sid, opts, date(2025, 3, 16)) == ((date(2025, 3, 12), date(2025, 3, 17)), False)
        ran("2025-03-12", "2025-03-17", status="partial")
        assert cost_window(s, sid, opts, date(2025, 3, 17))[0] == (date(2025, 3, 13), date(2025, 3, 18))
        # a week without syncing: everything since the last synced day
        assert cost_window(s, sid, opts, date(2025, 3, 24))[0] == (date(2025, 3, 13), date(2025, 3, 25))
        # last sync older than the backfill: the backfill
        assert cost_window(s, sid, opts, date(2026, 6, 1))[0] == (date(2025, 6, 1), date(2026, 6, 2))
        # a longer backfill configured than ever fetched: the whole backfill again
        assert cost_window(s, sid, CostOptions(backfill_months=24, refetch_days=3), date(2025, 3, 17))[0][0] == date(2023, 4, 1)


def test_ctrl_c_cancels_the_cli_sync_and_records_it(aws: str, tmp_path: Path, fault_proxy: FaultProxy) -> None:
    import signal

    fault_proxy.add_fault("GetCostAndUsage", times=-1, status=400, code="ThrottlingException", message="slow down")
    config = write_config(tmp_path, fault_proxy.url, max_attempts=20)
    db = tmp_path / "int.db"
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "sync", "--config", str(config)], cwd=REPO,
                            env={**os.environ, "COSTDECK_DB": str(db)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while fault_proxy.count("GetCostAndUsage") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "cancelling" in err and "prod: failed" in out and "cancelled" in out
    with Store(db, readonly=True) as s:
        assert [tuple(r) for r in s.conn.execute("SELECT status, error FROM sync_runs")] == [("failed", "cancelled")]
        assert s.integrity_ok()
