"""Azure inventory, Monitor metrics, Advisor advice and the rules on them, through `costdeck sync` and
`costdeck report recommendations`, against the loopback fake (tests/fake_azure.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from providers.azure import session as az_session
from tests.fake_azure import (
    RESERVATION,
    SAVINGS_PLAN,
    SUB1,
    SUB2,
    TOKEN,
    FakeAzure,
    instance_view,
    seed,
    vm_json,
)
from tests.test_sync_azure_costs import NOW, TODAY
from tui.cli import main

RULES = """
[rules.unattached_volume]
min_days = 0
[rules.obsolete_snapshot]
min_days = 30
[rules.unused_ip]
min_days = 0
[rules.stopped_instance]
min_days = 0
[rules.idle_instance]
min_days = 3
[rules.rightsizing]
min_days = 3
"""


def vm(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAzure]:
    f = FakeAzure(page_size=3, query_page_size=500)  # every list pages
    f.start()
    seed(f, TODAY)
    yield f
    f.stop()


@pytest.fixture
def az(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    fake.clear()
    fake.token = TOKEN
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    monkeypatch.setenv("COSTDECK_AZURE_TOKEN", TOKEN)
    waits: list[float] = []
    monkeypatch.setattr(az_session, "SLEEP", waits.append)
    return waits


def config(tmp_path: Path, url: str, steps: list[str], extra: str = RULES) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f"""
[sources.azprod]
kind = "azure"
subscriptions = ["{SUB1}", "{SUB2}"]
endpoint = "{url}"
prices_endpoint = "{url}"
backfill_months = 2
steps = {json.dumps(steps)}
{extra}""", encoding="utf-8")
    return p


def batches(fake: FakeAzure) -> list[tuple[dict[str, list[str]], Any]]:
    """(query, body) of every metrics:getBatch request the fake received."""
    return [(q, b) for m, p, q, b in fake.requests if m == "POST" and p.endswith("/metrics:getBatch")]


def resources(db: Path) -> dict[str, dict[str, Any]]:
    with Store(db, readonly=True) as s:
        return {r["resource_name"]: dict(r) for r in s.conn.execute(
            "SELECT * FROM resources WHERE provider_name='Microsoft'")}


def test_inventory_metrics_advice_and_the_rules_that_fire(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, fake.url, ["costs", "inventory", "metrics", "prices", "advice", "commitments"])
    assert main(["sync", "--config", str(cfg)]) == 0
    assert "azprod: ok" in capsys.readouterr().out
    res = resources(db_path)
    assert {n: r["resource_type"] for n, r in res.items()} == {
        "vm-web-1": "instance", "vm-stopped-1": "instance", "vm-idle-1": "instance", "vm-dealloc-1": "instance",
        "vm-dev-1": "instance", "vm-web-1-os": "volume", "vm-stopped-1-os": "volume", "vm-idle-1-os": "volume",
        "vm-dealloc-1-os": "volume", "vm-dev-1-os": "volume", "disk-orphan-1": "volume", "pip-web-1": "ip_address",
        "pip-unused-1": "ip_address", "snap-old-1": "snapshot", "snap-img-1": "snapshot", "img-old-1": "image"}
    assert {n: res[n]["state"] for n in ("vm-web-1", "vm-stopped-1", "vm-dealloc-1")} == {
        "vm-web-1": "running", "vm-stopped-1": "stopped", "vm-dealloc-1": "deallocated"}
    web = json.loads(res["vm-web-1"]["properties"])
    assert res["vm-web-1"]["instance_type"] == "Standard_D4s_v5" and res["vm-web-1"]["region_id"] == "westeurope"
    assert web["os_disk"].endswith("/disks/vm-web-1-os") and web["power_state"] == "PowerState/running"
    assert json.loads(res["vm-web-1"]["tags"]) == {"team": "web", "env": "prod"}
    orphan = json.loads(res["disk-orphan-1"]["properties"])
    assert res["disk-orphan-1"]["state"] == "Unattached" and orphan == {
        "sku": "Premium_LRS", "size_gib": 512, "disk_state": "Unattached", "detached_at": "2026-01-05T10:00:00+00:00"}
    assert res["disk-orphan-1"]["created_at"].startswith("2025-01-10")
    assert res["vm-web-1-os"]["attached_to"] == vm(SUB1, "rg-web", "vm-web-1")
    assert res["pip-web-1"]["state"] == "associated" and res["pip-unused-1"]["state"] == "unassociated"
    snap = json.loads(res["snap-old-1"]["properties"])
    assert snap["volume_exists"] is False and snap["images"] == []
    assert json.loads(res["snap-img-1"]["properties"])["images"] == [fake_image_id()]
    assert json.loads(res["img-old-1"]["properties"])["in_use"] is False
    # every list paged (page size 3), both the models and the instance views of the VMs
    assert any("$skiptoken" in q for m, p, q, b in fake.requests if p.endswith("/virtualMachines"))
    assert fake.count("/instanceView") == 0  # power states come from the statusOnly=true list
    # Monitor: one metrics:getBatch request per subscription and region of the running VMs (SUB1 eastus,
    # SUB1 westeurope, SUB2 eastus), hourly, 30 whole days; no per-VM request
    mon = batches(fake)
    assert fake.count("/providers/microsoft.insights/metrics") == 0
    assert sorted(sorted(b["resourceids"]) for q, b in mon) == [
        [vm(SUB1, "rg-batch", "vm-idle-1")], [vm(SUB1, "rg-web", "vm-web-1")], [vm(SUB2, "rg-dev", "vm-dev-1")]]
    assert all(q["interval"] == ["PT1H"] and q["metricnamespace"] == ["Microsoft.Compute/virtualMachines"]
               for q, b in mon)
    assert {(q["starttime"][0], q["endtime"][0]) for q, b in mon} == {("2026-02-13T00:00:00Z", "2026-03-15T00:00:00Z")}
    with Store(db_path, readonly=True) as s:
        cpu = s.conn.execute("SELECT count(*), avg(average), max(maximum) FROM metrics WHERE metric='cpu' "
                             "AND resource_id=?", (vm(SUB1, "rg-batch", "vm-idle-1"),)).fetchone()
    assert cpu[0] == 30 and cpu[1] == pytest.approx(1.2 + 0.375) and cpu[2] == pytest.approx(2.4 + 2)

    # the rules, through the command line
    capsys.readouterr()
    assert main(["report", "recommendations", "--config", str(cfg), "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    got = {(r["rule"], r["resource_name"]) for r in recs if r["rule"] != "commitment_purchase"}
    assert {r["resource_name"] for r in recs if r["rule"] == "commitment_purchase"} == {
        "standardDSv5Family in westeurope", "standardESv5Family in westeurope", "standardDSv5Family in eastus",
        "standardBSFamily in eastus"}  # the cost rows joined to the inventory's sizes and their families
    assert got == {
        ("stopped_instance", "vm-stopped-1"), ("stopped_instance", "vm-dealloc-1"),
        ("unattached_volume", "disk-orphan-1"), ("unused_ip", "pip-unused-1"), ("obsolete_snapshot", "snap-old-1"),
        ("idle_instance", "vm-idle-1"), ("rightsizing", "vm-web-1"), ("azure_advisor", "vm-dev-1"),
    }
    by = {(r["rule"], r["resource_name"]): r for r in recs}
    stopped = by[("stopped_instance", "vm-stopped-1")]
    assert stopped["detail"]["compute_billed"] is True and stopped["detail"]["action"] == "deallocate_instance"
    assert stopped["provider_name"] == "Microsoft" and stopped["sub_account_id"] == SUB1
    # saving from the billed cost of the VM and its disk: (12.096 + 0.630645) a day, scaled to 730 h
    assert Decimal(str(stopped["monthly_saving"])) == Decimal((12_096_000_000 + 630_645_000) * 730 // 24) / 10**9
    assert by[("stopped_instance", "vm-dealloc-1")]["detail"]["compute_billed"] is False
    assert by[("unattached_volume", "disk-orphan-1")]["detail"]["days_unattached"] == 69
    assert by[("idle_instance", "vm-idle-1")]["region_id"] == "eastus"
    right = by[("rightsizing", "vm-web-1")]
    assert right["detail"]["instance_type"] == "Standard_D4s_v5" and right["detail"]["target_type"] == "Standard_D2s_v5"
    # saving: the VM's observed billed cost x (1 - 0.1056 / 0.2112), the westeurope prices of the two sizes
    assert right["saving_basis"].startswith("observed") and "x 50%" in right["saving_basis"]
    advice = by[("azure_advisor", "vm-dev-1")]
    assert advice["origin"] == "azure-advisor" and Decimal(str(advice["monthly_saving"])) == Decimal("9.50")
    assert advice["resource_id"] == vm(SUB2, "rg-dev", "vm-dev-1")  # the inventory's spelling, not Advisor's
    # Advisor's advice on vm-idle-1 and vm-web-1 is hidden behind costdeck's own findings (one line each)
    with Store(db_path, readonly=True) as s:
        hidden = {r[0]: json.loads(r[1]) for r in s.conn.execute(
            "SELECT resource_id, detail FROM recommendations WHERE rule='azure_advisor'")}
        prices = {(r[0], r[1]): r[2:] for r in s.conn.execute(
            "SELECT region_id, sku, price_nanos, vcpu, memory_gib FROM prices WHERE provider_name='Microsoft'")}
    assert hidden[vm(SUB1, "rg-batch", "vm-idle-1")]["duplicate_of"].startswith("idle_instance#")
    web = hidden[vm(SUB1, "rg-web", "vm-web-1")]
    assert web["duplicate_of"].startswith("rightsizing#") and web["target_sku"] == "Standard_D2s_v5"
    assert web["also"] == ["Azure Advisor: Consider virtual machine reserved instance to save over your on-demand costs"]
    # Linux pay-as-you-go only (the Windows and Spot meters of the same sizes are left out), sizes from Resource SKUs
    assert prices[("westeurope", "Standard_D4s_v5")] == (211_200_000, 4.0, 16.0)
    assert prices[("eastus", "Standard_B2s")] == (41_600_000, 2.0, 4.0)
    assert len(prices) == 14 and fake.prices_auth and set(fake.prices_auth) == {None}  # no token sent there


def test_reservations_into_commitments_with_the_aws_math(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, fake.url, ["inventory", "prices", "commitments"])
    assert main(["sync", "--config", str(cfg)]) == 0
    assert "azprod: ok" in capsys.readouterr().out
    qs = [b for m, p, q_, b in fake.requests if p.endswith("/query")
          and b["dataset"]["filter"]["dimensions"]["values"] == ["Reservation"]]
    assert len(qs) == 2  # one per subscription
    q = qs[0]
    assert q["dataset"]["filter"] == {"dimensions": {"name": "PricingModel", "operator": "In", "values": ["Reservation"]}}
    assert q["type"] == "AmortizedCost" and [g["name"] for g in q["dataset"]["grouping"]] == ["ReservationId", "ChargeType"]
    firsts = [p for m, p, q_, b in fake.requests if p.endswith("/reservationSummaries") and "$skiptoken" not in q_]
    assert len(firsts) == 1  # one order applies to us (the other is another subscription's); 30 days, 10 pages
    assert main(["report", "commitments", "--config", str(cfg), "--format", "json"]) == 0
    by_type = {c["type"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(by_type) == {"Reservation", "Savings Plan"}
    c = by_type["Reservation"]
    # 30 days: 5 with 12 of 24 hours used (1.555555 used + 1.555555 unused), 25 unused (3.11111)
    used, committed = Decimal("1.555555") * 5, Decimal("3.11111") * 30
    od = 12 * Decimal("0.192") * Decimal("1.1") * 5  # usedHours x the D4s_v5 westeurope on-demand price
    assert c["commitment_id"] == RESERVATION and c["type"] == "Reservation" and c["provider_name"] == "Microsoft"
    assert (c["units"], c["term_months"], c["payment_option"], c["scope"]) == ("1 x Standard_D4s_v5", 12, "Monthly", "Shared")
    assert Decimal(str(c["committed_cost"])) == committed and Decimal(str(c["used_cost"])) == used
    assert Decimal(str(c["unused_cost"])) == committed - used
    assert Decimal(str(c["on_demand_equivalent"])) == od
    assert Decimal(str(c["savings"])) == od - used and Decimal(str(c["net_savings"])) == od - committed
    assert c["utilization_pct"] == round(float(used * 100 / committed), 2)
    assert c["end"].startswith("2026-09-01") and c["days_to_expiry"] > 150
    # the savings plan: $0.25/h committed; 7 days of the window had 12 h of vm-idle-1 (D8s_v5, eastus) covered
    sp = by_type["Savings Plan"]
    assert sp["commitment_id"] == SAVINGS_PLAN and (sp["term_months"], sp["payment_option"]) == (12, "Monthly")
    assert Decimal(str(sp["hourly_commitment"])) == Decimal("0.25")
    assert Decimal(str(sp["committed_cost"])) == Decimal("0.25") * 24 * 30
    assert abs(Decimal(str(sp["used_cost"])) - Decimal("2.5") * 7) < Decimal("0.000001")
    assert Decimal(str(sp["on_demand_equivalent"])) == 12 * Decimal("0.384") * 7
    assert sp["utilization_pct"] == round(17.5 * 100 / 180, 2)
    sp_queries = [b for m, p, q_, b in fake.requests if p.endswith("/query")
                  and b["dataset"]["filter"]["dimensions"]["values"] == ["SavingsPlan"]]
    assert len(sp_queries) == 2 and sp_queries[0]["dataset"]["aggregation"]["hours"]["name"] == "UsageQuantity"


def test_commitments_price_their_size_without_the_prices_step(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, fake.url, ["commitments"])
    assert main(["sync", "--config", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["report", "commitments", "--config", str(cfg), "--format", "json"]) == 0
    [c] = [x for x in json.loads(capsys.readouterr().out) if x["type"] == "Reservation"]
    assert Decimal(str(c["on_demand_equivalent"])) == 12 * Decimal("0.192") * Decimal("1.1") * 5
    assert len(fake.prices_auth) >= 1 and set(fake.prices_auth) == {None}


def fake_image_id() -> str:
    return f"/subscriptions/{SUB1}/resourceGroups/rg-old/providers/Microsoft.Compute/images/img-old-1"


def test_forbidden_monitor_fails_that_step_only(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, fake.url, ["inventory", "metrics", "advice"])
    fake.add_fault("/metrics:getbatch", 403, times=-1, code="AuthorizationFailed",
                   message="no Microsoft.Insights/metrics/read")
    try:
        assert main(["sync", "--config", str(cfg)]) == 0
    finally:
        fake.faults.clear()
    out = capsys.readouterr().out
    assert "azprod: partial" in out and "metrics failed for 3 VM(s)" in out
    with Store(db_path, readonly=True) as s:
        steps = json.loads(s.conn.execute("SELECT detail FROM sync_runs").fetchone()[0])["steps"]
        assert s.conn.execute("SELECT count(*) FROM recommendations WHERE origin='azure-advisor'").fetchone()[0] == 3
    assert {k: v["status"] for k, v in steps.items()} == {"inventory": "ok", "metrics": "failed", "advice": "ok"}


def test_server_error_on_one_subscription_keeps_its_previous_inventory(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, fake.url, ["inventory"])
    assert main(["sync", "--config", str(cfg)]) == 0
    before = resources(db_path)
    fake.add_fault(f"/subscriptions/{SUB2}/providers/microsoft.compute/disks", 500, times=-1)
    try:
        assert main(["sync", "--config", str(cfg)]) == 1  # its only step failed
    finally:
        fake.faults.clear()
    out = capsys.readouterr().out
    assert "azprod: failed" in out and f"inventory failed in 1 subscription(s) (previous data kept there): {SUB2}" in out
    assert set(resources(db_path)) == set(before)
    assert len(az) == 4  # 5 attempts, 4 backoff waits recorded (not slept)


def test_metrics_sync_again_asks_only_for_the_vms_due(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Incremental: Monitor requests grow with the VMs due (never fetched, failed last time, or
    fetched `metrics_refresh_days` days ago), not with the VMs that exist."""
    cfg = config(tmp_path, fake.url, ["inventory", "metrics"])
    fake.add_fault(f"/subscriptions/{SUB2}/metrics:getbatch", 403, times=1, code="AuthorizationFailed")
    assert main(["sync", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "azprod: partial" in out and "metrics failed for 1 VM(s) (previous data kept): vm-dev-1: " in out
    assert len(batches(fake)) == 3
    with Store(db_path, readonly=True) as s:
        rows = s.conn.execute("SELECT count(*) FROM metrics WHERE provider_name='Microsoft'").fetchone()[0]
    assert rows == 2 * 3 * 30  # two VMs x 3 metrics x 30 days
    fake.clear()
    fake.token = TOKEN
    assert main(["sync", "--config", str(cfg)]) == 0  # the same day: only the VM that failed
    assert [b["resourceids"] for q, b in batches(fake)] == [[vm(SUB2, "rg-dev", "vm-dev-1")]]
    fake.clear()
    fake.token = TOKEN
    assert main(["sync", "--config", str(cfg)]) == 0  # nothing due
    assert fake.count("/metrics") == 0 and fake.count("/virtualMachines") > 0
    with Store(db_path, readonly=True) as s:
        assert s.conn.execute("SELECT count(*) FROM metrics WHERE provider_name='Microsoft'").fetchone()[0] == 3 * 90
        run = s.conn.execute("SELECT detail FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert '"metrics_vms": {"running": 3, "fetched": 0, "batches": 0}' in run
    monkeypatch.setenv("COSTDECK_NOW", "2026-03-16T06:00:00+00:00")  # the next UTC day: every VM again
    fake.clear()
    fake.token = TOKEN
    assert main(["sync", "--config", str(cfg)]) == 0
    mon = batches(fake)
    assert sum(len(b["resourceids"]) for q, b in mon) == 3 and len(mon) == 3
    assert {(q["starttime"][0], q["endtime"][0]) for q, b in mon} == {("2026-02-14T00:00:00Z", "2026-03-16T00:00:00Z")}
    capsys.readouterr()


def test_metrics_batches_hold_50_vms_of_one_subscription_and_region(
    az: list[float], tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """111 running VMs in SUB1 eastus -> ceil(111/50) = 3 batch requests (50, 50, 11), plus one each for
    SUB1 westeurope and SUB2 eastus; every VM's metrics land in the cache."""
    big = FakeAzure(page_size=500)
    big.start()
    try:
        seed(big, TODAY)
        for i in range(110):
            v = vm_json(SUB1, "rg-fleet", f"vm-fleet-{i:03d}", "eastus", "Standard_D2s_v5", f"vm-fleet-{i:03d}-os", {})
            big.resources[v["id"]] = v
            big.instance_views[v["id"]] = instance_view("running", "2026-01-01T00:00:00+00:00")
            big.cpu_profile[v["id"]] = (float(i % 7), 1e6)
        cfg = config(tmp_path, big.url, ["inventory", "metrics"], extra="metrics_days = 3\n")
        assert main(["sync", "--config", str(cfg)]) == 0
        mon = batches(big)
    finally:
        big.stop()
    assert "azprod: ok" in capsys.readouterr().out
    assert big.count("/providers/microsoft.insights/metrics") == 0
    sizes = sorted(len(b["resourceids"]) for q, b in mon)
    assert sizes == [1, 1, 11, 50, 50]  # ceil(111 / 50) = 3 in SUB1 eastus
    asked = [r for q, b in mon for r in b["resourceids"]]
    assert len(asked) == len(set(asked)) == 113
    with Store(db_path, readonly=True) as s:
        per_vm = dict(s.conn.execute("SELECT resource_id, count(*) FROM metrics WHERE provider_name='Microsoft' "
                                     "GROUP BY resource_id").fetchall())
        cpu = s.conn.execute("SELECT avg(average) FROM metrics WHERE metric='cpu' AND resource_id=?",
                             (vm(SUB1, "rg-fleet", "vm-fleet-005"),)).fetchone()[0]
    assert len(per_vm) == 113 and set(per_vm.values()) == {3 * 3}  # 3 metrics x 3 days
    assert cpu == pytest.approx(5 + 0.375)  # the fake's hourly CPU: profile + (hour % 4) * 0.25


def test_advisor_asked_at_most_daily_per_subscription(
    az: list[float], fake: FakeAzure, tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Incremental: a second sync the same day makes no Advisor request (the stored advice stays);
    a subscription whose request failed is asked again at once; every subscription the next UTC day."""
    cfg = config(tmp_path, fake.url, ["advice"])
    fake.add_fault(f"/subscriptions/{SUB2}/providers/microsoft.advisor", 500, times=-1)
    try:
        assert main(["sync", "--config", str(cfg)]) == 1
    finally:
        fake.faults.clear()
    assert "Advisor failed (previous advice kept)" in capsys.readouterr().out
    assert fake.count(f"/subscriptions/{SUB1}/providers/Microsoft.Advisor") == 1

    def advised() -> set[str]:
        with Store(db_path, readonly=True) as s:
            return {r[0] for r in s.conn.execute(
                "SELECT sub_account_id FROM recommendations WHERE origin='azure-advisor'")}

    assert advised() == {SUB1}
    fake.clear()
    assert main(["sync", "--config", str(cfg)]) == 0  # the same day: only SUB2, which failed
    assert fake.count("/providers/Microsoft.Advisor") == 1 and fake.count(f"/subscriptions/{SUB2}/") == 1
    assert advised() == {SUB1, SUB2}
    fake.clear()
    assert main(["sync", "--config", str(cfg)]) == 0  # nothing due: no request, the advice stays
    assert fake.requests == []
    assert advised() == {SUB1, SUB2}
    with Store(db_path, readonly=True) as s:
        run = s.conn.execute("SELECT detail FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert '"advice_subscriptions": {"configured": 2, "fetched": 0}' in run
    monkeypatch.setenv("COSTDECK_NOW", "2026-03-16T06:00:00+00:00")  # the next UTC day: both again
    fake.clear()
    assert main(["sync", "--config", str(cfg)]) == 0
    assert fake.count("/providers/Microsoft.Advisor") == 2
    capsys.readouterr()


def test_request_counts_of_a_first_and_a_daily_incremental_sync(
    az: list[float], tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every step, lists in one page: the counts benchmarks/README.md quotes. Monitor and Advisor are
    asked once a UTC day (a same-day second sync makes none), in one batch per subscription and region;
    commitment utilization only when the commitments changed or `commitment_refresh_days` (7) passed."""
    one_page = FakeAzure(page_size=1000)
    one_page.start()
    try:
        seed(one_page, TODAY)
        cfg = config(tmp_path, one_page.url, ["costs", "inventory", "metrics", "prices", "advice", "commitments"])
        got, stored = [], []
        for now in (NOW, "2026-03-15T18:00:00+00:00", "2026-03-16T06:00:00+00:00", "2026-03-16T07:00:00+00:00",
                    "2026-03-23T06:00:00+00:00"):
            monkeypatch.setenv("COSTDECK_NOW", now)
            if now == "2026-03-16T07:00:00+00:00":  # a reservation's quantity changes: utilization again
                one_page.reservations[0]["properties"]["quantity"] = 2
            one_page.clear()
            assert main(["sync", "--config", str(cfg)]) == 0
            with Store(db_path, readonly=True) as s:
                run = json.loads(s.conn.execute("SELECT detail FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0])
                stored.append(s.conn.execute("SELECT count(*), max(day) FROM commitment_usage WHERE "
                                             "provider_name='Microsoft'").fetchone())
            assert sum(run["requests"].values()) == len(one_page.requests)  # the counter counts every request
            got.append({k: v["api_calls"] for k, v in run["steps"].items()})
    finally:
        one_page.stop()
    capsys.readouterr()
    first, same_day, next_day, changed, week_later = got
    assert first == {"costs": 28, "inventory": 12, "metrics": 3, "prices": 4, "advice": 2,
                     "commitments": 8}
    assert same_day == {"costs": 16, "inventory": 12, "metrics": 0, "prices": 0, "advice": 0,
                        "commitments": 2}  # the reservations and savings plans lists only
    assert next_day == {**same_day, "metrics": 3, "advice": 2}
    assert [sum(g.values()) for g in got[:3]] == [57, 30, 35]  # benchmarks/README.md
    assert changed == {**same_day, "commitments": 8}
    assert week_later["commitments"] == 8
    # the usage a skipping sync leaves in place; a fetch moves the window to the day before today
    assert stored[0] == stored[1] == stored[2] and stored[0][1] == "2026-03-14"
    assert stored[3][1] == "2026-03-15" and stored[4][1] == "2026-03-22"


def test_metrics_batch_host_and_token_scope_per_region() -> None:
    """Without an emulator endpoint the batch requests go to the region's metrics host with a token of
    the metrics scope (no request made: only the client is built and its headers asked for)."""
    import msgspec

    from providers.azure.adapter import AzureOptions

    sess = az_session.AzureSession(msgspec.convert({"subscriptions": [SUB1]}, AzureOptions), "azprod")
    scopes: list[str] = []

    def token(scope: str = az_session.SCOPE) -> str:
        scopes.append(scope)
        return "tok"

    sess.token = token  # type: ignore[method-assign]
    west = sess.metrics_client("westeurope")
    assert west.base_url == "https://westeurope.metrics.monitor.azure.com"
    assert sess.metrics_client("westeurope") is west and sess.metrics_client("eastus") is not west
    assert west._headers() == {"Authorization": "Bearer tok"} and scopes == ["https://metrics.monitor.azure.com/.default"]
    sess.close()
