"""Commitment math on a small hand-computed dataset, FOCUS vs provider API reconciliation, the FOCUS
sample's Savings Plans, and purchase recommendations on synthetic steady + spiky usage.

The hand dataset (AWS account 111, days 2026-03-01..03, clock pinned to 2026-03-03 12:00 UTC):

RI ri-1: 1 x m5.large us-east-1, amortized $0.06/h = $1.44/day; on demand $0.096/h (ContractedCost;
  ListCost is 10 % higher and must not be used). Used hours 24, 20, 12:
    used   1.44 + 1.20 + 0.72 = 3.36      unused 0 + 0.24 + 0.72 = 0.96     committed 4.32
    on-demand equivalent 2.304 + 1.92 + 1.152 = 5.376
    utilization 3.36 / 4.32 = 77.78 %; savings 5.376 - 3.36 = 2.016; net 5.376 - 4.32 = 1.056
SP sp-1 (Compute Savings Plan, $0.10/h = $2.40/day, effective = 75 % of on demand). Used 2.40, 1.80, 2.40:
    used 6.60  unused 0.60  committed 7.20  on-demand eq. 3.20 + 2.40 + 3.20 = 8.80
    utilization 91.67 %; savings 8.80 - 6.60 = 2.20; net 8.80 - 7.20 = 1.60
Uncovered on-demand usage per day: i-od1 m5.xlarge us-east-1 $1.00 (eligible for both), i-od2 c5.large
us-west-2 $0.50 (SP only: other region and family), and not eligible: an EBS volume billed under EC2
(category Storage) $0.30, a spot instance (Dynamic) $0.20, an S3 bucket $0.70.
Coverage (both): covered 5.376 + 8.80 = 14.176; eligible 14.176 + 3 x 1.50 = 18.676 -> 75.905 %.
Coverage (RI alone, no SP rows): 5.376 / (5.376 + 3 x 1.00) = 64.183 %.
Totals: utilization 9.96 / 11.52 = 86.46 %; unused 1.56; savings 4.216; net 2.656.
An older day (2026-01-20, outside 30 days) has the RI entirely unused ($1.44).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from analysis import commitments as cm
from analysis import purchase
from cache import CostRow, Store
from cache.money import to_nanos
from tui.cli import main

NOW = "2026-03-03T12:00:00+00:00"
D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
OLD = date(2026, 1, 20)
RI, SP = "arn:aws:ec2:us-east-1:111:reserved-instances/ri-1", "arn:aws:savingsplans::111:savingsplan/sp-1"
EVIL = "[bold red]sp[/] \x1b[31mplan"
SINCE, UNTIL = D1, D3 + timedelta(days=1)


def m(v: str | Decimal) -> int:
    return to_nanos(str(v))


def _row(day: date, **kw: object) -> CostRow:
    base: dict[str, object] = dict(provider_name="AWS", billing_account_id="111", sub_account_id="111",
                                   service_name="Amazon Elastic Compute Cloud", service_category="Compute",
                                   region_id="us-east-1", charge_category="Usage")
    base.update(kw)
    return CostRow(day=day, **base)  # type: ignore[arg-type]


RI_HOURS = {D1: 24, D2: 20, D3: 12}
SP_USED = {D1: Decimal("2.40"), D2: Decimal("1.80"), D3: Decimal("2.40")}


def build(path: Path, *, with_sp: bool = True, api: bool = True, focus: bool = True) -> Path:
    with Store(path) as store:
        sid = store.ensure_source("hand", "focus")
        rows: list[CostRow] = []
        usage: list[tuple[object, ...]] = []
        for d in (D1, D2, D3):
            h = RI_HOURS[d]
            used, unused = Decimal("0.06") * h, Decimal("0.06") * (24 - h)
            od = Decimal("0.096") * h
            rows.append(_row(d, resource_id="i-ri", resource_type="instance", pricing_category="Committed",
                             commitment_discount_id=RI, commitment_discount_name="ri one",
                             commitment_discount_type="Reserved Instance", commitment_discount_status="Used",
                             effective_cost=m(used), list_cost=m(od * Decimal("1.1")), contracted_cost=m(od)))
            if unused:
                rows.append(_row(d, pricing_category="Committed", commitment_discount_id=RI,
                                 commitment_discount_type="Reserved Instance", commitment_discount_status="Unused",
                                 effective_cost=m(unused)))
            usage.append(("AWS", RI, d.isoformat(), m("1.44"), m(used), m(unused), m(od), None))
            sp_od = Decimal("0")
            if with_sp:
                sp_used = SP_USED[d]
                sp_od = sp_used / Decimal("0.75")
                rows.append(_row(d, resource_id="i-spc", resource_type="instance", pricing_category="Committed",
                                 commitment_discount_id=SP, commitment_discount_type="Savings Plan",
                                 commitment_discount_status="Used", effective_cost=m(sp_used), list_cost=m(sp_od),
                                 contracted_cost=m(sp_od)))
                if sp_used < Decimal("2.40"):
                    rows.append(_row(d, region_id=None, pricing_category="Committed", commitment_discount_id=SP,
                                     commitment_discount_type="Savings Plan", commitment_discount_status="Unused",
                                     effective_cost=m(Decimal("2.40") - sp_used)))
                # the fee itself: a Purchase row, never counted as usage
                rows.append(_row(d, region_id=None, charge_category="Purchase", pricing_category="Committed",
                                 commitment_discount_id=SP, commitment_discount_type="Savings Plan",
                                 billed_cost=m("2.40"), list_cost=m("2.40"), contracted_cost=m("2.40")))
                usage.append(("AWS", SP, d.isoformat(), m("2.40"), m(sp_used), m(Decimal("2.40") - sp_used),
                              m(sp_od), None))
                sp_cov = float(sp_od / (sp_od + Decimal("1.50"))) * 100.0
                usage.append(("AWS", "sp-total:111", d.isoformat(), m("2.40"), m(sp_used),
                              m(Decimal("2.40") - sp_used), m(sp_od), sp_cov))
                usage.append(("AWS", "ri-total:111", d.isoformat(), m("1.44"), m(used), m(unused), m(od), 40.0))
            else:
                ri_cov = float(od / (od + Decimal("1.00"))) * 100.0
                usage.append(("AWS", "ri-total:111", d.isoformat(), m("1.44"), m(used), m(unused), m(od), ri_cov))
            for rid, amount, extra in (
                ("i-od1", "1.00", {}),
                ("i-od2", "0.50", {"region_id": "us-west-2"}),
                ("vol-1", "0.30", {"service_category": "Storage", "resource_type": "volume"}),
                ("i-spot", "0.20", {"pricing_category": "Dynamic"}),
                ("bucket-1", "0.70", {"service_name": "Amazon S3", "service_category": "Storage",
                                      "resource_type": "bucket"}),
            ):
                kw: dict[str, object] = {"resource_id": rid, "resource_type": "instance",
                                         "pricing_category": "Standard", **extra}
                rows.append(_row(d, billed_cost=m(amount), effective_cost=m(amount), list_cost=m(amount),
                                 contracted_cost=m(amount), **kw))
        # an older day, outside the last 30 days: the RI entirely unused
        rows.append(_row(OLD, pricing_category="Committed", commitment_discount_id=RI,
                         commitment_discount_type="Reserved Instance", commitment_discount_status="Unused",
                         effective_cost=m("1.44")))
        usage.append(("AWS", RI, OLD.isoformat(), m("1.44"), 0, m("1.44"), 0, None))
        if focus:
            store.replace_costs(sid, rows)
        with store.transaction():
            store.upsert("commitments", [
                {"provider_name": "AWS", "commitment_id": RI, "commitment_type": "Reserved Instance",
                 "name": "ri one", "region_id": "us-east-1", "scope": "Region", "instance_type": "m5.large",
                 "instance_count": 1, "hourly_commitment_nanos": m("0.06"), "upfront_nanos": 0,
                 "payment_option": "No Upfront", "term_months": 12, "start_at": "2025-03-23T12:00:00+00:00",
                 "end_at": "2026-03-23T12:00:00+00:00", "state": "active", "properties": {}},
                {"provider_name": "AWS", "commitment_id": SP, "commitment_type": "Savings Plan", "name": EVIL,
                 "scope": "Shared", "hourly_commitment_nanos": m("0.10"), "upfront_nanos": 0,
                 "payment_option": "No Upfront", "term_months": 36, "start_at": "2023-04-22T12:00:00+00:00",
                 "end_at": "2026-04-22T12:00:00+00:00", "state": "active", "properties": {}},
            ], pk=("provider_name", "commitment_id"))
            res = [("i-ri", "m5.large"), ("i-spc", "c5.xlarge"), ("i-od1", "m5.xlarge"), ("i-od2", "c5.large"),
                   ("i-spot", "m5.large")]
            store.upsert("resources", [
                {"source_id": sid, "provider_name": "AWS", "resource_id": rid, "resource_type": "instance",
                 "instance_type": it, "region_id": "us-west-2" if rid == "i-od2" else "us-east-1",
                 "state": "running", "first_seen": NOW, "last_seen": NOW}
                for rid, it in res
            ], pk=("provider_name", "resource_id"))
            if api:
                store.conn.executemany(
                    "INSERT INTO commitment_usage(provider_name, commitment_id, day, committed_nanos, used_nanos, "
                    "unused_nanos, on_demand_equivalent_nanos, coverage_pct) VALUES (?,?,?,?,?,?,?,?)",
                    [u for u in usage if with_sp or not str(u[1]).startswith("sp")],
                )
        store.set_meta("snapshot_time", NOW)
    return path


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)


def _by_id(rep: cm.CommitmentReport) -> dict[str, cm.CommitmentFigures]:
    return {c.commitment_id: c for c in rep.commitments}


def test_focus_figures_match_the_hand_computation(tmp_path: Path) -> None:
    db = build(tmp_path / "c.db", api=False)
    with Store(db) as store:
        rep = cm.build_report(store.conn, SINCE, UNTIL)
    c = _by_id(rep)
    ri, sp = c[RI], c[SP]
    assert ri.basis == sp.basis == "focus" and ri.other is None
    assert ri.figures is not None and sp.figures is not None
    assert (ri.figures.used, ri.figures.unused, ri.figures.committed) == (m("3.36"), m("0.96"), m("4.32"))
    assert ri.figures.on_demand_equivalent == m("5.376")  # ContractedCost, not the 10 % higher ListCost
    assert ri.utilization_pct == pytest.approx(3.36 / 4.32 * 100)
    assert (ri.savings, ri.net_savings) == (m("2.016"), m("1.056"))
    assert (sp.figures.used, sp.figures.unused, sp.figures.on_demand_equivalent) == (m("6.60"), m("0.60"), m("8.80"))
    assert sp.utilization_pct == pytest.approx(6.60 / 7.20 * 100)
    assert (sp.savings, sp.net_savings) == (m("2.20"), m("1.60"))
    assert (rep.committed, rep.used, rep.unused) == (m("11.52"), m("9.96"), m("1.56"))
    assert (rep.savings, rep.net_savings) == (m("4.216"), m("2.656"))
    assert rep.utilization_pct == pytest.approx(9.96 / 11.52 * 100)
    # eligible: i-od1 and i-od2 only (not the EBS volume, the spot instance or S3)
    assert rep.coverage_basis == {"AWS": "focus"}
    assert rep.coverage_pct == pytest.approx(14.176 / 18.676 * 100)
    assert rep.utilization_series == pytest.approx([
        (1.44 + 2.40) / 3.84 * 100, (1.20 + 1.80) / 3.84 * 100, (0.72 + 2.40) / 3.84 * 100])
    d1_cov = (2.304 + 3.20) / (2.304 + 3.20 + 1.50) * 100
    assert rep.coverage_series[0] == pytest.approx(d1_cov)
    # expiry from the pinned clock: the RI ends in 20 days (flag 30), the SP in 50 (flag 60)
    assert (ri.days_to_expiry, ri.expiry_flag, sp.days_to_expiry, sp.expiry_flag) == (20, 30, 50, 60)


def test_coverage_eligibility_is_bound_to_region_and_family(tmp_path: Path) -> None:
    """With the RI alone, i-od2 (c5 in us-west-2) is not eligible: 5.376 / (5.376 + 3 x 1.00)."""
    db = build(tmp_path / "c.db", with_sp=False, api=False)
    with Store(db) as store:
        rep = cm.build_report(store.conn, SINCE, UNTIL)
    assert [c.commitment_id for c in rep.commitments if c.figures] == [RI]
    assert rep.coverage_pct == pytest.approx(5.376 / 8.376 * 100)


def test_api_and_focus_reconcile_on_the_same_data(tmp_path: Path) -> None:
    db = build(tmp_path / "c.db")
    with Store(db) as store:
        api = cm.build_report(store.conn, SINCE, UNTIL, prefer="api")
        foc = cm.build_report(store.conn, SINCE, UNTIL, prefer="focus")
    a, f = _by_id(api), _by_id(foc)
    assert set(a) == set(f) == {RI, SP}  # account totals are not commitments
    for cid in (RI, SP):
        assert a[cid].basis == "api" and f[cid].basis == "focus"
        assert a[cid].other is not None and a[cid].other.basis == "focus"
        fa, ff = a[cid].figures, f[cid].figures
        assert fa is not None and ff is not None
        assert (fa.committed, fa.used, fa.unused, fa.on_demand_equivalent) == \
               (ff.committed, ff.used, ff.unused, ff.on_demand_equivalent)
        assert [d.utilization_pct for d in a[cid].daily] == [d.utilization_pct for d in f[cid].daily]
    assert (api.committed, api.used, api.unused, api.net_savings) == (foc.committed, foc.used, foc.unused,
                                                                      foc.net_savings)
    assert api.coverage_basis == {"AWS": "api"} and foc.coverage_basis == {"AWS": "focus"}
    assert api.coverage_pct == pytest.approx(foc.coverage_pct, abs=1e-9)
    assert api.coverage_series == pytest.approx(foc.coverage_series, abs=1e-9)
    assert api.coverage_pct == pytest.approx(14.176 / 18.676 * 100)


def test_api_only_and_ri_only_coverage(tmp_path: Path) -> None:
    db = build(tmp_path / "c.db", with_sp=False, focus=False)
    with Store(db) as store:
        rep = cm.build_report(store.conn, SINCE, UNTIL)
    assert _by_id(rep)[RI].basis == "api" and _by_id(rep)[SP].figures is None  # SP listed, no data
    assert rep.coverage_pct == pytest.approx(5.376 / 8.376 * 100)  # from ri-total's coverage %


def test_period_and_expiring(tmp_path: Path) -> None:
    db = build(tmp_path / "c.db")
    with Store(db) as store:
        assert cm.data_anchor(store.conn) == D3
        since, until = cm.period_range("90d", D3)
        rep = cm.build_report(store.conn, since, until)
        ri = _by_id(rep)[RI]
        assert ri.figures is not None and ri.figures.unused == m("2.40")  # the old unused day counts in 90 days
        soon = cm.expiring(store.conn, 90)
    assert [(e.commitment_id, e.days_to_expiry, e.flag) for e in soon] == [(RI, 20, 30), (SP, 50, 60)]
    assert cm.expiry_flag(0) == 30 and cm.expiry_flag(91) is None and cm.expiry_flag(-1) is None


def test_report_commitments_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = build(tmp_path / "c.db")
    assert main(["report", "commitments", "--db", str(db), "--format", "json"]) == 0
    data = {r["commitment_id"]: r for r in json.loads(capsys.readouterr().out)}
    ri = data[RI]
    assert (ri["type"], ri["provider_name"], ri["basis"], ri["days_to_expiry"]) == ("Reserved Instance", "AWS",
                                                                                     "api", 20)
    assert (ri["utilization_pct"], ri["unused_cost"], ri["savings"], ri["net_savings"]) == (77.78, 0.96, 2.016, 1.056)
    assert data[SP]["name"] == EVIL  # JSON carries the name as it is
    assert main(["report", "commitments", "--db", str(db), "--format", "csv", "--since", "2026-03-02",
                 "--until", "2026-03-03"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("commitment_id,name,type")
    ri_line = next(x for x in lines if x.startswith(RI))
    assert ",1.20,0.24," in ri_line  # 2026-03-02 only: used 1.20, unused 0.24
    assert main(["report", "commitments", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "ri one" in out and "\x1b" not in out  # the escape in the SP's name is not sent to the terminal
    assert main(["report", "commitments", "--db", str(db), "--since", "2026-03-03", "--until", "2026-03-01"]) == 2
    assert "must be after" in capsys.readouterr().err


def test_focus_sample_savings_plans_appear_as_commitments(
    tmp_path: Path, focus_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "f.db"
    assert main(["import", str(focus_sample), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["report", "commitments", "--db", str(db), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["commitment_id"]: r for r in rows}
    a = "arn:aws:savingsplans::961082193871:savingsplan/493f5705-db1c-4867-8e5c-ee9a66fa6d3f"
    b = "arn:aws:savingsplans::365499461711:savingsplan/37985e61-4fcb-4023-9dd7-e524c80342a2"
    assert set(by_id) == {a, b}
    for r in rows:
        assert (r["type"], r["provider_name"], r["basis"], r["in_inventory"]) == ("Savings Plan", "AWS", "focus",
                                                                                 False)
        assert r["utilization_pct"] is None  # the sample has no Unused rows and zero effective cost
    # savings = ListCost (ContractedCost is 0 in the sample) - EffectiveCost (0) of the Used rows
    assert by_id[a]["savings"] == 0.0464
    assert by_id[b]["savings"] == 0.096279022  # 0.0112 + 0.085 + 0.0000790222, in whole nano-units


# -- purchase recommendations ----------------------------------------------------------------------

P_NOW = "2026-05-30T12:00:00+00:00"
P_LAST = date(2026, 5, 30)


def build_usage(path: Path) -> Path:
    """30 days of m5 on-demand usage in us-east-1: $24/day steady, 3 dips to $12, 5 spikes to $96;
    i-a (m5.large) is $12 every day, i-b (m5.xlarge) carries the rest. Reserved prices: 37.5 % (1 yr
    no upfront) and 60 % (3 yr) below on demand; an all-upfront 1-yr price must not be used. eu-west-1
    c5 has no reserved price (assumed default rate). A spot day and a committed day of i-a are ignored."""
    days = [P_LAST - timedelta(days=29 - i) for i in range(30)]
    dips, spikes = {3, 11, 19}, {5, 6, 7, 20, 27}
    with Store(path) as store:
        sid = store.ensure_source("synthetic", "focus")
        rows = []
        for i, d in enumerate(days):
            b = "0" if i in dips else "84" if i in spikes else "12"
            for rid, amount, extra in (("i-a", "12", {}), ("i-b", b, {}), ("i-c", "4.80", {"region_id": "eu-west-1"}),
                                       ("i-a", "50", {"pricing_category": "Dynamic"}),
                                       ("i-a", "30", {"pricing_category": "Committed",
                                                      "commitment_discount_id": "ri-x",
                                                      "commitment_discount_status": "Used"})):
                if amount == "0":
                    continue
                kw: dict[str, object] = {"resource_id": rid, "resource_type": "instance",
                                         "pricing_category": "Standard", **extra}
                rows.append(_row(d, billed_cost=m(amount), effective_cost=m(amount), list_cost=m(amount), **kw))
        store.replace_costs(sid, rows)
        with store.transaction():
            store.upsert("resources", [
                {"source_id": sid, "provider_name": "AWS", "resource_id": rid, "resource_type": "instance",
                 "instance_type": it, "region_id": rg, "state": "running", "first_seen": P_NOW, "last_seen": P_NOW}
                for rid, it, rg in (("i-a", "m5.large", "us-east-1"), ("i-b", "m5.xlarge", "us-east-1"),
                                    ("i-c", "c5.large", "eu-west-1"))
            ], pk=("provider_name", "resource_id"))
            prices = []
            for sku, od, r1, r3 in (("m5.large", "0.096", "0.060", "0.0384"), ("m5.xlarge", "0.192", "0.12", "0.0768")):
                for model, p in (("on-demand", od), ("reserved-1yr-no-upfront", r1), ("reserved-3yr-no-upfront", r3),
                                 ("reserved-1yr-all-upfront", "0.01"), ("spot", "0.03")):
                    prices.append({"provider_name": "AWS", "region_id": "us-east-1", "sku": sku, "pricing_model": model,
                                   "price_nanos": m(p), "family": "m5", "source": "test", "fetched_at": P_NOW})
            prices.append({"provider_name": "AWS", "region_id": "eu-west-1", "sku": "c5.large",
                           "pricing_model": "on-demand", "price_nanos": m("0.10"), "family": "c5", "source": "test",
                           "fetched_at": P_NOW})
            store.upsert("prices", prices, pk=("provider_name", "region_id", "sku", "pricing_model"))
    return path


def test_percentile_and_term_parsing() -> None:
    assert purchase.percentile([24] * 22 + [12] * 3 + [96] * 5, 10) == pytest.approx(22.8)
    assert purchase.percentile([5], 10) == 5 and purchase.percentile([], 10) == 0.0
    assert [purchase.term_of(x) for x in ("on-demand", "spot", "reserved-1yr-no-upfront", "reserved-3yr",
                                          "savings-plan-1yr", "cud-3yr", "reserved")] == [None, None, 1, 3, 1, 3, None]


def test_purchase_picks_the_low_percentile_and_the_break_even(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", P_NOW)
    db = build_usage(tmp_path / "p.db")
    now = datetime(2026, 5, 30, 12, tzinfo=UTC)
    with Store(db) as store:
        opts = {o.key: o for o in purchase.purchase_options(store.conn, now)}
        recs = purchase.purchase_recommendations(store.conn, now)
    o = opts["us-east-1/m5"]
    # p10 of 30 days (22 x $24, 3 x $12, 5 x $96) = $22.80/day -> $0.95/h; the mean would be $1.45/h
    assert o.baseline_hourly == m("0.95") and o.mean_hourly == m("1.45") and o.max_hourly == m("4")
    assert o.daily_usage.count(m("24")) == 22 and len(o.daily_usage) == 30  # spot and committed rows ignored
    one, three = o.terms[1], o.terms[3]
    assert (one.rate_basis, one.discount) == ("prices table", pytest.approx(0.375))  # no-upfront, not all-upfront
    assert one.hourly_commitment == m("0.59375") and one.monthly_saving == m("260.0625")
    assert one.break_even_utilization_pct == pytest.approx(62.5)
    assert three.discount == pytest.approx(0.6) and three.break_even_utilization_pct == pytest.approx(40.0)
    assert three.monthly_saving == m("416.1")
    assert o.instance_type == "m5.xlarge" and o.instance_equivalents == pytest.approx(0.95 / 0.192)
    c = opts["eu-west-1/c5"]
    assert c.baseline_hourly == m("0.20") and c.terms[1].rate_basis == "assumed default"
    assert c.terms[1].discount == purchase.DEFAULT_DISCOUNTS["AWS"][1]
    rec = next(r for r in recs if r.resource_id == "us-east-1/m5")
    assert (rec.rule, rec.category, rec.provider_name, rec.region_id) == ("commitment_purchase", "cost", "AWS",
                                                                         "us-east-1")
    assert rec.monthly_saving == m("260.0625")
    assert rec.detail["terms"]["3yr"]["break_even_utilization_pct"] == 40.0
    assert rec.detail["baseline_hourly_nanos"] == m("0.95") and rec.detail["baseline_percentile"] == 10
    assert "p10" in (rec.saving_basis or "") and "prices table" in (rec.saving_basis or "")
    assert [r.resource_id for r in recs] == ["us-east-1/m5", "eu-west-1/c5"]  # largest saving first
