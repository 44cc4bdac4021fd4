"""Recommendation rules at the edges of their thresholds, savings and their basis, and the engine
(status kept across recomputation, snooze expiry, exclusions, protection, native duplicates)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.recommendations import RuleConfigError, load, rule_params
from analysis.recommendations.engine import last_run, open_summary, recompute, set_status
from cache import CostRow, Store, timeutil
from cache.money import to_nanos
from providers.config import Config, ProtectionConfig

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "rules.db")
    s.ensure_source("t", "test")
    return s


def add(store: Store, rid: str, rtype: str, *, provider: str = "AWS", state: str | None = None,
        attached_to: str | None = None, itype: str | None = None, lifecycle: str | None = None,
        created: datetime | None = None, first_seen: datetime | None = None, tags: dict[str, str] | None = None,
        region: str = "us-east-1", name: str | None = None, **props: Any) -> None:
    store.upsert("resources", [{
        "source_id": 1, "provider_name": provider, "resource_id": rid, "resource_name": name or rid,
        "resource_type": rtype, "billing_account_id": "999", "sub_account_id": "111", "region_id": region,
        "state": state, "attached_to": attached_to, "size": None, "instance_type": itype, "lifecycle": lifecycle,
        "created_at": timeutil.iso(created or NOW - 400 * DAY), "first_seen": timeutil.iso(first_seen or NOW - 400 * DAY),
        "last_seen": timeutil.iso(NOW), "tags": tags or {}, "properties": props,
    }], pk=("provider_name", "resource_id"))


def cpu(store: Store, rid: str, days: int, avg: float, p99: float | None = None, net: float | None = 1000.0,
        provider: str = "AWS") -> None:
    rows = []
    for i in range(days):
        ts = timeutil.iso(datetime(2026, 6, 29, tzinfo=UTC) - i * DAY)
        rows.append({"provider_name": provider, "resource_id": rid, "metric": "cpu", "ts": ts, "period_s": 86400,
                     "average": avg, "maximum": (p99 or avg) + 1, "p99": p99})
        if net is not None:
            for m in ("network_in", "network_out"):
                rows.append({"provider_name": provider, "resource_id": rid, "metric": m, "ts": ts,
                             "period_s": 86400, "average": net / 2, "maximum": net, "p99": None})
    store.upsert("metrics", rows, pk=("provider_name", "resource_id", "metric", "ts"))


def price(store: Store, sku: str, usd: str, vcpu: float, mem: float, gen: str = "current",
          provider: str = "AWS", region: str = "us-east-1") -> None:
    store.upsert("prices", [{"provider_name": provider, "region_id": region, "sku": sku, "pricing_model": "on-demand",
                             "unit": "Hrs", "price_nanos": to_nanos(usd), "currency": "USD", "vcpu": vcpu,
                             "memory_gib": mem, "family": None, "generation": gen, "source": "test",
                             "fetched_at": timeutil.iso(NOW)}],
                 pk=("provider_name", "region_id", "sku", "pricing_model"))


def costs(store: Store, rid: str, per_day: str, days: int = 30, provider: str = "AWS") -> None:
    rows = [CostRow(day=date(2026, 6, 29) - i * DAY, provider_name=provider, sub_account_id="111",
                    service_name="Amazon EC2", region_id="us-east-1", resource_id=rid,
                    billed_cost=to_nanos(per_day), effective_cost=to_nanos(per_day), list_cost=to_nanos(per_day))
            for i in range(days)]
    store.replace_costs(1, rows, window=(date(2026, 5, 1), date(2026, 7, 1)))


def run(store: Store, config: Config | None = None, now: datetime = NOW) -> Any:
    return recompute(store, config or Config(), now)


def found(store: Store, rule: str) -> dict[str, Any]:
    return {r.resource_id: r for r in load(store.conn, statuses=None, rule=rule)}


def skipped(result: Any, rule: str) -> dict[str, str]:
    return {s.resource_id: s.reason for s in result.skipped if s.rule == rule}


# -- unattached_volume ----------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(6.9, False), (7, True), (7.1, True)])
def test_unattached_volume_min_days_edge(store: Store, days: float, expected: bool) -> None:
    add(store, "vol-1", "volume", state="available", detached_at=timeutil.iso(NOW - timedelta(days=days)),
        size_gib=100, volume_type="gp3")
    add(store, "vol-att", "volume", state="in-use", attached_to="i-1")
    run(store)
    recs = found(store, "unattached_volume")
    assert ("vol-1" in recs) is expected
    assert "vol-att" not in recs
    if expected:
        assert recs["vol-1"].detail["days_unattached"] == int(days)
        assert recs["vol-1"].detail["age_basis"] == "detached_at"


def test_unattached_volume_without_detach_time_counts_from_first_seen(store: Store) -> None:
    add(store, "vol-old", "volume", state="available", created=NOW - 300 * DAY, first_seen=NOW - 5 * DAY)
    add(store, "vol-seen", "volume", state="available", created=NOW - 300 * DAY, first_seen=NOW - 9 * DAY)
    run(store)
    recs = found(store, "unattached_volume")
    assert set(recs) == {"vol-seen"}
    assert recs["vol-seen"].detail["days_unattached"] == 9


def test_saving_basis_observed_then_price_then_unknown(store: Store) -> None:
    add(store, "vol-cost", "volume", state="available", detached_at=timeutil.iso(NOW - 30 * DAY))
    costs(store, "vol-cost", "0.24", days=30)  # $7.20 over 30 days -> 7.20 * 730 / 720 = $7.30
    add(store, "vol-none", "volume", state="available", detached_at=timeutil.iso(NOW - 30 * DAY))
    add(store, "i-idle", "instance", state="running", itype="t3.large", lifecycle="on-demand")
    cpu(store, "i-idle", 10, avg=1.0)
    price(store, "t3.large", "0.0832", 2, 8)  # no cost rows: 0.0832 x 730 = $60.736
    run(store)
    vol = found(store, "unattached_volume")
    assert vol["vol-cost"].monthly_saving == to_nanos("7.30")
    assert vol["vol-cost"].saving_basis.startswith("observed: $7.20 billed over 30 days")
    assert vol["vol-none"].monthly_saving == 0
    assert vol["vol-none"].saving_basis.startswith("unknown: ")
    idle = found(store, "idle_instance")["i-idle"]
    assert idle.monthly_saving == to_nanos("60.736")
    assert idle.saving_basis.startswith("price: $0.0832/h x 730 h")


# -- obsolete_snapshot ----------------------------------------------------------------------


@pytest.mark.parametrize(("age", "expected"), [(29.9, False), (30, True), (31, True)])
def test_obsolete_snapshot_min_days_edge(store: Store, age: float, expected: bool) -> None:
    add(store, "snap-1", "snapshot", state="completed", created=NOW - timedelta(days=age), volume_id="vol-gone",
        volume_exists=False, images=[])
    add(store, "snap-live", "snapshot", created=NOW - 400 * DAY, volume_id="vol-x", volume_exists=True, images=[])
    add(store, "snap-ami", "snapshot", created=NOW - 400 * DAY, volume_id="vol-ffffffff", volume_exists=False,
        images=["ami-1"])
    run(store)
    recs = found(store, "obsolete_snapshot")
    assert ("snap-1" in recs) is expected
    assert "snap-live" not in recs and "snap-ami" not in recs


# -- obsolete_image -------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "expected"), [(29, False), (30, True), (45, True)])
def test_obsolete_image_min_days_edge(store: Store, age: int, expected: bool) -> None:
    add(store, "ami-1", "image", state="available", created=NOW - age * DAY, in_use=False, instances=[],
        snapshot_ids=["snap-a"])
    add(store, "ami-used", "image", state="available", created=NOW - 400 * DAY, in_use=True, instances=["i-1"])
    add(store, "img-gcp", "image", provider="Google Cloud", created=NOW - 400 * DAY, family="x")
    costs(store, "snap-a", "0.10")
    result = run(store)
    recs = found(store, "obsolete_image")
    assert ("ami-1" in recs) is expected
    assert "ami-used" not in recs
    if expected:
        assert recs["ami-1"].monthly_saving == to_nanos("3") * 730 // 720  # its snapshot's cost
    assert "not known" in skipped(result, "obsolete_image")["img-gcp"]


# -- unused_ip --------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(0.5, False), (1, True), (3, True)])
def test_unused_ip_min_days_edge(store: Store, days: float, expected: bool) -> None:
    add(store, "eipalloc-1", "elastic_ip", state="unassociated", created=NOW - timedelta(days=days),
        first_seen=NOW - timedelta(days=days), public_ip="203.0.113.1")
    add(store, "eipalloc-2", "elastic_ip", state="associated", attached_to="i-1", association_id="a-1")
    run(store)
    recs = found(store, "unused_ip")
    assert ("eipalloc-1" in recs) is expected
    assert "eipalloc-2" not in recs


# -- stopped_instance -------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(6.9, False), (7, True), (8, True)])
def test_stopped_instance_min_days_edge(store: Store, days: float, expected: bool) -> None:
    at = NOW - timedelta(days=days)
    add(store, "i-stop", "instance", state="stopped", itype="m5.large", lifecycle="on-demand",
        state_reason=f"User initiated ({at:%Y-%m-%d %H:%M:%S} GMT)", volumes=[{"volume_id": "vol-root"}])
    add(store, "vol-root", "volume", state="in-use", attached_to="i-stop", size_gib=100)
    costs(store, "vol-root", "0.24")
    run(store)
    recs = found(store, "stopped_instance")
    assert ("i-stop" in recs) is expected
    if expected:
        assert recs["i-stop"].monthly_saving == to_nanos("7.30")  # the attached volume keeps billing
        assert recs["i-stop"].detail["disks"] == ["vol-root"]


def test_azure_stopped_not_deallocated_bills_compute_and_spot_skipped(store: Store) -> None:
    add(store, "vm-1", "instance", provider="Microsoft", state="stopped", itype="Standard_D4s_v3",
        lifecycle="on-demand", power_state="PowerState/stopped", state_changed_at=timeutil.iso(NOW - 20 * DAY),
        region="westeurope")
    add(store, "vm-2", "instance", provider="Microsoft", state="deallocated", itype="Standard_D4s_v3",
        lifecycle="on-demand", power_state="PowerState/deallocated", state_changed_at=timeutil.iso(NOW - 20 * DAY),
        region="westeurope")
    add(store, "i-spot", "instance", state="stopped", lifecycle="spot")
    costs(store, "vm-1", "4.80", provider="Microsoft")
    result = run(store)
    recs = found(store, "stopped_instance")
    assert recs["vm-1"].detail["compute_billed"] is True
    assert recs["vm-1"].monthly_saving == to_nanos("146")  # 4.80 x 30 x 730/720
    assert recs["vm-2"].detail["compute_billed"] is False
    assert "spot instance" in skipped(result, "stopped_instance")["i-spot"]


# -- idle_instance ----------------------------------------------------------------------------


@pytest.mark.parametrize(("avg", "expected"), [(4.99, True), (5.0, False), (5.01, False)])
def test_idle_instance_cpu_edge(store: Store, avg: float, expected: bool) -> None:
    add(store, "i-1", "instance", state="running", itype="m5.large", lifecycle="on-demand")
    cpu(store, "i-1", 30, avg=avg)
    run(store)
    assert ("i-1" in found(store, "idle_instance")) is expected


@pytest.mark.parametrize(("net", "expected"), [(999_999.0, True), (1_000_000.0, False)])
def test_idle_instance_network_edge(store: Store, net: float, expected: bool) -> None:
    add(store, "i-1", "instance", state="running", itype="m5.large", lifecycle="on-demand")
    cpu(store, "i-1", 30, avg=1.0, net=net)
    run(store)
    assert ("i-1" in found(store, "idle_instance")) is expected


@pytest.mark.parametrize(("days", "expected"), [(6, False), (7, True), (8, True)])
def test_idle_instance_history_edge_and_spot(store: Store, days: int, expected: bool) -> None:
    add(store, "i-1", "instance", state="running", itype="m5.large", lifecycle="on-demand")
    add(store, "i-spot", "instance", state="running", itype="m5.large", lifecycle="spot")
    cpu(store, "i-1", days, avg=1.0)
    cpu(store, "i-spot", 30, avg=1.0)
    result = run(store)
    assert ("i-1" in found(store, "idle_instance")) is expected
    reasons = skipped(result, "idle_instance")
    if not expected:
        assert reasons["i-1"] == f"too little metric history: {days} day(s) of CPU data in the last 30 days, needs 7"
    assert "spot instance" in reasons["i-spot"]
    assert "i-spot" not in found(store, "idle_instance")
    stored = last_run(store.conn)
    assert stored is not None and any(s["resource_id"] == "i-spot" for s in stored["skipped"])


# -- rightsizing ------------------------------------------------------------------------------


@pytest.mark.parametrize(("p99", "expected"), [(39.9, True), (40.0, True), (40.1, False)])
def test_rightsizing_p99_edge_and_target(store: Store, p99: float, expected: bool) -> None:
    add(store, "i-big", "instance", state="running", itype="m5.2xlarge", lifecycle="on-demand")
    cpu(store, "i-big", 30, avg=20.0, p99=p99)
    for sku, usd, v in (("m5.large", "0.096", 2), ("m5.xlarge", "0.192", 4), ("m5.2xlarge", "0.384", 8)):
        price(store, sku, usd, v, v * 4)
    run(store, Config(rules={"rightsizing": {"target_cpu_p99": 80}}))
    recs = found(store, "rightsizing")
    assert ("i-big" in recs) is expected
    if expected:  # 8 vCPU x 40 % / 80 % = 4 vCPU needed: m5.xlarge, not m5.large
        assert recs["i-big"].detail["target_type"] == "m5.xlarge"


def test_rightsizing_picks_concrete_smaller_size_and_saving(store: Store) -> None:
    add(store, "i-big", "instance", state="running", itype="m5.4xlarge", lifecycle="on-demand")
    cpu(store, "i-big", 30, avg=5.0, p99=20.0)  # 16 x 20 / 70 = 4.6 vCPU -> m5.2xlarge (8)
    for sku, usd, v in (("m5.xlarge", "0.192", 4), ("m5.2xlarge", "0.384", 8), ("m5.4xlarge", "0.768", 16)):
        price(store, sku, usd, v, v * 4)
    run(store)
    r = found(store, "rightsizing")["i-big"]
    assert (r.detail["instance_type"], r.detail["target_type"]) == ("m5.4xlarge", "m5.2xlarge")
    assert r.detail["cpu_p99_pct"] == 20.0
    assert r.monthly_saving == to_nanos("0.384") * 730  # (0.768 - 0.384) x 730
    assert r.detail["price_now"] == "$0.7680/h" and r.detail["price_after"] == "$0.3840/h"


@pytest.mark.parametrize(("days", "expected"), [(13, False), (14, True)])
def test_rightsizing_history_edge(store: Store, days: int, expected: bool) -> None:
    add(store, "i-big", "instance", state="running", itype="m5.2xlarge", lifecycle="on-demand")
    add(store, "i-small", "instance", state="running", itype="m5.large", lifecycle="on-demand")
    cpu(store, "i-big", days, avg=8.0, p99=15.0)
    cpu(store, "i-small", 30, avg=8.0, p99=15.0)
    for sku, usd, v in (("m5.large", "0.096", 2), ("m5.xlarge", "0.192", 4), ("m5.2xlarge", "0.384", 8)):
        price(store, sku, usd, v, v * 4)
    result = run(store)
    assert ("i-big" in found(store, "rightsizing")) is expected
    reasons = skipped(result, "rightsizing")
    if not expected:
        assert reasons["i-big"].startswith("too little metric history: 13 day(s)")
    assert "no smaller m5 size" in reasons["i-small"]


# -- previous_generation ------------------------------------------------------------------------


@pytest.mark.parametrize(("m5_price", "expected"), [("0.0991", False), ("0.0990", True), ("0.0960", True)])
def test_previous_generation_min_saving_edge(store: Store, m5_price: str, expected: bool) -> None:
    add(store, "i-old", "instance", state="running", itype="m4.large", lifecycle="on-demand")
    cpu(store, "i-old", 30, avg=30.0, p99=80.0)  # busy: neither idle nor oversized
    price(store, "m4.large", "0.10", 2, 8, gen="previous")
    price(store, "m5.large", m5_price, 2, 8)
    price(store, "c5.large", "0.05", 2, 4)  # other class, less memory: never the equivalent
    run(store)
    recs = found(store, "previous_generation")
    assert ("i-old" in recs) is expected
    if expected:
        assert recs["i-old"].detail["target_type"] == "m5.large"


# -- open_security_group ------------------------------------------------------------------------


def _rule(proto: str, lo: int | None, hi: int | None, cidrs: list[str]) -> dict[str, Any]:
    return {"protocol": proto, "from_port": lo, "to_port": hi, "cidrs": cidrs, "ipv6_cidrs": [],
            "world": any(c in ("0.0.0.0/0", "::/0") for c in cidrs)}


def test_open_security_group(store: Store) -> None:
    add(store, "sg-ssh", "security_group", rules=[_rule("tcp", 22, 22, ["0.0.0.0/0"])], instances=["i-1"])
    add(store, "sg-range", "security_group", rules=[_rule("tcp", 0, 65535, ["0.0.0.0/0"])])
    add(store, "sg-all", "security_group", rules=[_rule("-1", None, None, ["0.0.0.0/0"])])
    add(store, "sg-private", "security_group", rules=[_rule("tcp", 22, 22, ["10.0.0.0/8"])])
    add(store, "sg-web", "security_group", rules=[_rule("tcp", 443, 443, ["0.0.0.0/0"])])
    run(store)
    recs = found(store, "open_security_group")
    assert set(recs) == {"sg-ssh", "sg-range", "sg-all"}
    assert recs["sg-ssh"].category == "security" and recs["sg-ssh"].monthly_saving == 0
    assert recs["sg-range"].detail["open_ports"] == [22, 3389]
    run(store, Config(rules={"open_security_group": {"ports": [443]}}))
    assert set(found(store, "open_security_group")) == {"sg-range", "sg-all", "sg-web"}


# -- config ------------------------------------------------------------------------------------


def test_thresholds_from_config_and_one_line_errors(store: Store) -> None:
    add(store, "vol-1", "volume", state="available", detached_at=timeutil.iso(NOW - 3 * DAY))
    run(store, Config(rules={"unattached_volume": {"min_days": 2}}))
    assert "vol-1" in found(store, "unattached_volume")
    bad = [
        ({"unattached_volume": {"min_days": "7"}}, 'key rules.unattached_volume.min_days: expected a whole number '
                                                    'from 0 to 3650, got "7"'),
        ({"unattached_volume": {"min_days": -1}}, "expected a whole number from 0 to 3650, got -1"),
        ({"idle_instance": {"max_cpu_avg": True}}, "expected a number from 0 to 100, got true"),
        ({"idle_instance": {"min_age": 3}}, "key rules.idle_instance.min_age: unknown threshold (known: max_cpu_avg"),
        ({"idle_instances": {}}, "key rules.idle_instances: unknown rule (known: unattached_volume"),
        ({"open_security_group": {"ports": [22, "ssh"]}}, "expected a list of port numbers"),
    ]
    for rules, message in bad:
        with pytest.raises(RuleConfigError) as exc:
            rule_params(rules, "cfg.toml")
        text = str(exc.value)
        assert message in text and "\n" not in text and text.startswith("cfg.toml: key rules.")
        with pytest.raises(RuleConfigError):
            recompute(store, Config(rules=rules), NOW)
    assert rule_params({"cleanup": {"batch_limit": 3}})["unattached_volume"].as_dict() == {"min_days": 7}


# -- engine --------------------------------------------------------------------------------------


def test_status_survives_recompute_and_snooze_expires(store: Store) -> None:
    for n in range(3):
        add(store, f"vol-{n}", "volume", state="available", detached_at=timeutil.iso(NOW - 30 * DAY))
    run(store)
    recs = found(store, "unattached_volume")
    first_seen = recs["vol-0"].first_seen
    set_status(store.conn, [recs["vol-0"].id], "dismissed", reason="kept for DR")  # type: ignore[list-item]
    set_status(store.conn, [recs["vol-1"].id], "snoozed", until=NOW + 5 * DAY)  # type: ignore[list-item]
    run(store, now=NOW + 2 * DAY)
    again = found(store, "unattached_volume")
    assert again["vol-0"].status == "dismissed" and again["vol-0"].status_reason == "kept for DR"
    assert again["vol-0"].first_seen == first_seen and again["vol-0"].id == recs["vol-0"].id
    assert again["vol-1"].status == "snoozed"
    result = run(store, now=NOW + 6 * DAY)
    assert result.reopened == 1
    assert found(store, "unattached_volume")["vol-1"].status == "open"
    # resolved: the open one is removed, the dismissed one is kept as history
    store.conn.execute("UPDATE resources SET attached_to='i-9', state='in-use' WHERE resource_id IN ('vol-0','vol-2')")
    result = run(store, now=NOW + 7 * DAY)
    left = found(store, "unattached_volume")
    assert set(left) == {"vol-0", "vol-1"} and result.removed == 1
    assert open_summary(store.conn).count == 1


def test_exclusions_and_protection(store: Store) -> None:
    for rid in ("vol-ex", "vol-prot", "vol-id", "vol-ok"):
        add(store, rid, "volume", state="available", detached_at=timeutil.iso(NOW - 30 * DAY),
            tags={"costdeck:protect": "yes"} if rid == "vol-prot" else {})
    store.conn.execute("INSERT INTO exclusions(provider_name, resource_id, rule, reason, created_at) "
                       "VALUES ('AWS', 'vol-ex', NULL, 'legal hold', ?)", (timeutil.iso(NOW),))
    config = Config(protection=ProtectionConfig(tags=["costdeck:protect"], resource_ids=["vol-id"]))
    result = run(store, config)
    recs = found(store, "unattached_volume")
    assert set(recs) == {"vol-prot", "vol-id", "vol-ok"}
    assert recs["vol-prot"].detail["protected_by"] == "tag costdeck:protect"
    assert recs["vol-id"].detail["protected_by"] == "config protection.resource_ids"
    assert "protected" not in recs["vol-ok"].detail
    assert skipped(result, "unattached_volume")["vol-ex"] == "excluded: legal hold"


def test_native_advice_hidden_while_our_rule_finds_the_resource(store: Store) -> None:
    add(store, "i-1", "instance", state="running", itype="m5.large", lifecycle="on-demand")
    store.conn.execute(
        "INSERT INTO recommendations(rule, origin, provider_name, resource_id, detail, monthly_saving_nanos, "
        "first_seen, last_seen) VALUES ('aws_idle_instance', 'aws-rightsizing', 'AWS', 'i-1', '{}', ?, ?, ?)",
        (to_nanos("50"), timeutil.iso(NOW), timeutil.iso(NOW)))
    run(store)  # no metrics: our idle rule does not find it, the native advice shows
    assert [r.rule for r in load(store.conn, include_duplicates=False)] == ["aws_idle_instance"]
    cpu(store, "i-1", 30, avg=1.0)
    result = run(store)
    shown = load(store.conn, include_duplicates=False)
    assert [r.rule for r in shown] == ["idle_instance"] and result.duplicates_hidden == 1
    native = found(store, "aws_idle_instance")["i-1"]
    assert native.detail["duplicate_of"].startswith("idle_instance#")
    store.conn.execute("DELETE FROM metrics")
    run(store)
    assert [r.rule for r in load(store.conn, include_duplicates=False)] == ["aws_idle_instance"]


def test_failing_rule_keeps_its_rows_and_others_still_run(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.recommendations import unused_ip

    add(store, "vol-1", "volume", state="available", detached_at=timeutil.iso(NOW - 30 * DAY))
    add(store, "eip-1", "elastic_ip", state="unassociated")
    run(store)
    assert "eip-1" in found(store, "unused_ip")

    def boom(ctx: Any, params: Any) -> Any:
        raise RuntimeError("bad data\nsecond line")

    monkeypatch.setattr(unused_ip, "find", boom)
    store.conn.execute("DELETE FROM resources WHERE resource_id='vol-1'")
    result = run(store)
    assert result.errors == {"unused_ip": "RuntimeError: bad data second line"}
    assert "eip-1" in found(store, "unused_ip") and found(store, "unattached_volume") == {}
    assert json.loads(store.get_meta("recommendations.last_run") or "{}")["errors"] == result.errors


def test_a_window_rule_needing_more_days_than_its_window_is_refused() -> None:
    from analysis.recommendations.common import RuleConfigError, validate_params
    from analysis.recommendations.idle_instance import Params

    with pytest.raises(RuleConfigError, match=r"rules.idle_instance.min_days: expected at most window_days \(30\)"):
        validate_params("idle_instance", Params, {"min_days": 40})
    assert validate_params("idle_instance", Params, {"min_days": 40, "window_days": 60}).min_days == 40
