"""The deterministic demo snapshot (providers/demo/): shape, determinism, money semantics, safety."""

from __future__ import annotations

import calendar
import json
import sqlite3
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from cache import Store, timeutil
from providers import demo
from providers.errors import InputError
from tui.cli import main

AS_OF = date(2026, 6, 30)
SEED = 7
SNAP = datetime.combine(AS_OF, time(6), tzinfo=UTC)
PINNED_NOW = "2026-07-01T12:00:00+00:00"
INPUT_TABLES = (
    "meta", "sources", "sync_runs", "dims", "tagsets", "tag_index", "costs", "cost_summary", "resources",
    "metrics", "prices", "commitments", "commitment_usage", "ml_runs", "ml_executors", "ml_run_metrics",
    "ml_run_params", "budgets", "exclusions", "actions", "k8s_allocations",
)
DERIVED_TABLES = ("recommendations", "anomalies")
FOCUS_SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
}


def _generate(path: Path, seed: int = SEED, as_of: date = AS_OF) -> demo.DemoSummary:
    with Store(path) as store:
        return demo.generate(store, as_of=as_of, seed=seed)


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        # Tables and the cost views (`costs` reads the facts with their dimension ids).
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' OR (type='view' AND name='costs') ORDER BY name")]
        out = {}
        for t in tables:  # every row, sorted on all columns (by SQLite: fast and total, NULLs first)
            n = len(conn.execute(f'SELECT * FROM "{t}" LIMIT 0').description)
            out[t] = conn.execute(f'SELECT * FROM "{t}" ORDER BY {", ".join(map(str, range(1, n + 1)))}').fetchall()
        return out
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, demo.DemoSummary]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSTDECK_NOW", PINNED_NOW)
        summary = _generate(path)
    return path, summary


@pytest.fixture
def conn(demo_db: tuple[Path, demo.DemoSummary]) -> sqlite3.Connection:
    c = sqlite3.connect(f"file:{demo_db[0]}?mode=ro", uri=True)
    yield c
    c.close()


def _val(conn: sqlite3.Connection, sql: str, *params: Any) -> Any:
    return conn.execute(sql, params).fetchone()[0]


def _daily(conn: sqlite3.Connection, where: str = "1=1", params: tuple[Any, ...] = ()) -> dict[str, int]:
    """Billed nanos per day over costs joined to dimension names (p, sa, sv, rg, rs aliases)."""
    sql = f"""SELECT c.day, sum(c.billed) FROM costs c
              LEFT JOIN dims p ON p.id = c.provider LEFT JOIN dims sa ON sa.id = c.sub_account
              LEFT JOIN dims sv ON sv.id = c.service LEFT JOIN dims rg ON rg.id = c.region
              LEFT JOIN dims rs ON rs.id = c.resource
              WHERE {where} GROUP BY c.day"""
    return {d: int(v) for d, v in conn.execute(sql, params)}


# -- determinism and regeneration --------------------------------------------------------------


def test_same_seed_same_cache_other_seed_differs_regeneration_replaces_all(
    demo_db: tuple[Path, demo.DemoSummary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTDECK_NOW", PINNED_NOW)
    reference = _dump(demo_db[0])
    other = tmp_path / "other.db"
    _generate(other, seed=SEED + 1)
    changed = _dump(other)
    assert changed != reference
    assert changed["costs"] != reference["costs"] and changed["resources"] != reference["resources"]
    assert dict(changed["meta"])["demo_seed"] == str(SEED + 1)

    # the same seed into another file gives the same cache, table by table, row by row; and regenerating
    # over an existing demo leaves nothing of the previous one behind
    _generate(other, seed=SEED)
    again = _dump(other)
    assert again.keys() == reference.keys()
    for table in reference:
        assert again[table] == reference[table], table


# -- shape ---------------------------------------------------------------------------------


def test_120_days_ending_on_as_of(conn: sqlite3.Connection) -> None:
    days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM costs ORDER BY day")]
    assert len(days) == 120
    assert days[0] == (AS_OF - timedelta(days=119)).isoformat()
    assert days[-1] == AS_OF.isoformat()
    assert [r[0] for r in conn.execute("SELECT DISTINCT day FROM cost_summary ORDER BY day")] == days


def test_dimensions_breadth(conn: sqlite3.Connection, demo_db: tuple[Path, demo.DemoSummary]) -> None:
    def distinct(col: str) -> set[str]:
        return {r[0] for r in conn.execute(
            f"SELECT DISTINCT d.value FROM costs c JOIN dims d ON d.id = c.{col}")}

    # the Kubernetes allocation is a lens on the AWS bill: not in costs (its nodes are AWS instances)
    assert distinct("provider") == {"AWS", "Microsoft", "Google Cloud"}
    assert len(distinct("sub_account")) >= 6
    assert len(distinct("service")) >= 25
    assert len(distinct("region")) >= 8
    categories = distinct("service_category")
    assert categories <= FOCUS_SERVICE_CATEGORIES
    assert {"Compute", "Storage", "Databases", "Networking", "AI and Machine Learning"} <= categories
    # sub accounts have names; AWS linked accounts are 12-digit ids, Azure subscriptions GUIDs
    subs = conn.execute(
        """SELECT DISTINCT p.value, sa.value, sa.label FROM costs c JOIN dims p ON p.id = c.provider
           JOIN dims sa ON sa.id = c.sub_account""").fetchall()
    assert all(label for _, _, label in subs)
    assert all(len(v) == 12 and v.isdigit() for p, v, _ in subs if p == "AWS")
    assert all(len(v) == 36 and v.count("-") == 4 for p, v, _ in subs if p == "Microsoft")
    summary = demo_db[1]
    assert (summary.days, summary.providers) == (120, 3) and summary.k8s_rows > 1000
    assert summary.accounts >= 6 and summary.services >= 25 and summary.regions >= 8
    line = str(summary)
    assert "\n" not in line and "120 days" in line and "$" in line


def test_every_input_table_filled_derived_tables_empty(conn: sqlite3.Connection) -> None:
    for table in INPUT_TABLES:
        assert _val(conn, f"SELECT count(*) FROM {table}") > 0, table
    for table in DERIVED_TABLES:
        assert _val(conn, f"SELECT count(*) FROM {table}") == 0, table
    assert _val(conn, "SELECT count(*) FROM sources WHERE kind <> 'demo'") == 0
    assert _val(conn, "SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error IS NOT NULL") >= 1
    assert 200 <= _val(conn, "SELECT count(*) FROM resources") <= 1000


def test_meta(conn: sqlite3.Connection) -> None:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["demo"] == "1"
    assert meta["demo_as_of"] == AS_OF.isoformat()
    assert meta["demo_seed"] == str(SEED)
    assert timeutil.parse_instant(meta["snapshot_time"]) == SNAP
    assert isinstance(json.loads(meta["demo_anomalies"]), list)


# -- rhythm, growth, anomalies --------------------------------------------------------------


def test_aws_weekdays_cost_more_than_weekends(conn: sqlite3.Connection) -> None:
    daily = _daily(conn, "p.value = 'AWS'")
    weekday = [v for d, v in daily.items() if date.fromisoformat(d).weekday() < 5]
    weekend = [v for d, v in daily.items() if date.fromisoformat(d).weekday() >= 5]
    assert statistics.mean(weekday) > statistics.mean(weekend) * 1.1


def test_month_over_month_growth(conn: sqlite3.Connection) -> None:
    per_month: dict[str, list[int]] = defaultdict(list)
    for d, v in _daily(conn).items():
        per_month[d[:7]].append(v)
    full = {m: v for m, v in per_month.items() if len(v) == calendar.monthrange(int(m[:4]), int(m[5:]))[1]}
    assert len(full) >= 3
    means = [statistics.mean(v) for _, v in sorted(full.items())]
    assert all(b > a for a, b in zip(means, means[1:], strict=False)), means  # month over month, per day
    growth = (means[-1] / means[0]) ** (1 / (len(means) - 1)) - 1
    assert 0.04 < growth < 0.14, growth
    totals = [sum(v) / 1e9 for _, v in sorted(full.items())]
    assert all(150_000 <= t <= 250_000 for t in totals[-2:]), totals  # dollars a month


def test_recorded_anomalies_really_spike(conn: sqlite3.Connection) -> None:
    anomalies = json.loads(_val(conn, "SELECT value FROM meta WHERE key = 'demo_anomalies'"))
    spikes = [a for a in anomalies if a["kind"] == "spike"]
    assert len(spikes) >= 2
    for a in spikes:
        daily = _daily(conn, "p.value = ? AND sa.value = ? AND sv.value = ? AND rg.value = ?",
                       (a["provider_name"], a["sub_account_id"], a["service_name"], a["region_id"]))
        first = date.fromisoformat(a["days"][0])
        before = [daily[(first - timedelta(days=k)).isoformat()] for k in range(1, 8)]
        after = date.fromisoformat(a["days"][-1]) + timedelta(days=1)
        baseline = statistics.median(before)
        assert 1 <= len(a["days"]) <= 3 and 4 <= a["factor"] <= 6
        for d in a["days"]:
            assert daily[d] >= 3 * baseline, (a, d)
        if after <= AS_OF:
            assert daily[after.isoformat()] < 2 * baseline
    (new,) = [a for a in anomalies if a["kind"] == "new_resource"]
    daily = _daily(conn, "rs.value = ?", (new["resource_id"],))
    assert min(daily) == new["start_day"]
    assert len(daily) == (AS_OF - date.fromisoformat(new["start_day"])).days + 1
    assert daily[AS_OF.isoformat()] > 200 * 1_000_000_000


# -- money ---------------------------------------------------------------------------------


def test_summary_totals_equal_cost_totals_exactly(conn: sqlite3.Connection) -> None:
    sums = "sum(billed), sum(effective), sum(list), sum(contracted)"
    assert conn.execute(f"SELECT {sums} FROM costs").fetchone() == conn.execute(
        f"SELECT {sums} FROM cost_summary").fetchone()
    per_day_costs = conn.execute(f"SELECT day, {sums} FROM costs GROUP BY day ORDER BY day").fetchall()
    per_day_summary = conn.execute(f"SELECT day, {sums} FROM cost_summary GROUP BY day ORDER BY day").fetchall()
    assert per_day_costs == per_day_summary
    assert all(isinstance(v, int) for v in per_day_costs[0][1:])


def test_focus_cost_semantics(conn: sqlite3.Connection) -> None:
    assert _val(conn, "SELECT count(*) FROM costs WHERE list < billed") == 0

    def by(where: str) -> list[tuple[Any, ...]]:
        return conn.execute(
            f"""SELECT cat.value, pc.value, st.value, cm.value, c.billed, c.effective, c.list FROM costs c
                LEFT JOIN dims cat ON cat.id = c.charge_category LEFT JOIN dims pc ON pc.id = c.pricing_category
                LEFT JOIN dims st ON st.id = c.commitment_status LEFT JOIN dims cm ON cm.id = c.commitment
                WHERE {where}""").fetchall()

    used = by("st.value = 'Used'")
    assert used and all(r[1] == "Committed" and r[4] == 0 and 0 < r[5] < r[6] for r in used)
    unused = by("st.value = 'Unused'")
    assert unused and all(r[4] == 0 and r[5] > 0 for r in unused)
    purchases = by("cat.value = 'Purchase'")
    assert purchases and all(r[3] and r[4] > 0 and r[5] == 0 for r in purchases)
    assert by("cat.value = 'Tax'") and by("pc.value = 'Dynamic'")
    # every commitment in the costs is in the commitments table, with the same type
    in_costs = set(conn.execute(
        "SELECT DISTINCT d.value, d.extra FROM costs c JOIN dims d ON d.id = c.commitment").fetchall())
    table = set(conn.execute("SELECT commitment_id, commitment_type FROM commitments").fetchall())
    assert in_costs == table
    types = {t for _, t in table}
    assert {"Reserved Instance", "Savings Plan", "Reservation", "Committed Use Discount"} <= types
    # a commitment's Used effective cost per day is what commitment_usage says it used
    for cid, day, used_nanos in conn.execute(
            "SELECT commitment_id, day, used_nanos FROM commitment_usage WHERE day IN (?, ?) "
            "AND commitment_id IN (SELECT commitment_id FROM commitments)",
            ((AS_OF - timedelta(days=50)).isoformat(), AS_OF.isoformat())).fetchall():
        got = _val(conn, """SELECT coalesce(sum(c.effective), 0) FROM costs c JOIN dims cm ON cm.id = c.commitment
                            JOIN dims st ON st.id = c.commitment_status
                            WHERE cm.value = ? AND c.day = ? AND st.value = 'Used'""", cid, day)
        assert abs(got - used_nanos) <= 200, (cid, day)
    utils = [r[0] for r in conn.execute("SELECT utilization_pct FROM commitment_usage")]
    assert 60 <= statistics.mean(utils) <= 99 and min(utils) < 95
    # AWS account-wide totals (as the AWS adapter writes them) carry the coverage
    totals = conn.execute("SELECT commitment_id, avg(coverage_pct) FROM commitment_usage "
                          "WHERE commitment_id LIKE 'ri-total:%' OR commitment_id LIKE 'sp-total:%' "
                          "GROUP BY commitment_id").fetchall()
    assert len(totals) == 2 and all(0 < cov <= 100 for _, cov in totals)


def test_commitments_expiring_soon(conn: sqlite3.Connection) -> None:
    ends = [timeutil.parse_instant(r[0]) - SNAP for r in conn.execute("SELECT end_at FROM commitments")]
    assert any(timedelta(0) < e <= timedelta(days=30) for e in ends)
    assert any(timedelta(days=30) < e <= timedelta(days=90) for e in ends)


# -- inventory and its consistency with costs --------------------------------------------------


def _resources(conn: sqlite3.Connection, where: str = "1=1") -> list[dict[str, Any]]:
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in conn.execute(f"SELECT * FROM resources WHERE {where}")]
    finally:
        conn.row_factory = None
    for r in rows:
        r["tags"] = json.loads(r["tags"])
        r["properties"] = json.loads(r["properties"])
    return rows


def test_unattached_volumes_for_more_than_a_week(conn: sqlite3.Connection) -> None:
    loose = _resources(conn, "resource_type = 'volume' AND attached_to IS NULL")
    assert all(r["state"] in ("available", "Unattached", "READY", "released") for r in loose)  # EC2, Azure, GCP, PV
    old = [r for r in loose if SNAP - timeutil.parse_instant(r["properties"]["detached_at"]) > timedelta(days=7)]
    assert len(old) >= 3
    assert {r["provider_name"] for r in old} == {"AWS", "Microsoft", "Google Cloud", "Kubernetes"}
    for r in old:  # each one's cost can be looked up by its id (a PV: OpenCost's price, in its properties)
        if r["provider_name"] == "Kubernetes":
            assert r["properties"]["monthly_cost_nanos"] > 0
            continue
        assert _daily(conn, "rs.value = ?", (r["resource_id"],)).get(AS_OF.isoformat(), 0) > 0


def test_inventory_has_the_waste_the_rules_look_for(conn: sqlite3.Connection) -> None:
    res = _resources(conn)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in res:
        by_type[r["resource_type"]].append(r)
    ids = {(r["provider_name"], r["resource_id"]) for r in res}
    inst = by_type["instance"]
    assert sum(r["lifecycle"] == "spot" for r in inst) >= 2
    stopped = [r for r in inst if r["state"] == "stopped" and r["provider_name"] == "AWS"]
    assert stopped and all(any(v["attached_to"] == s["resource_id"] for v in by_type["volume"]) for s in stopped)
    az_stopped = [r for r in inst if r["provider_name"] == "Microsoft" and r["state"] == "stopped"]
    assert az_stopped and az_stopped[0]["properties"]["power_state"] == "PowerState/stopped"
    assert _daily(conn, "rs.value = ?", (az_stopped[0]["resource_id"],)).get(AS_OF.isoformat(), 0) > 0
    assert any(r["state"] == "unassociated" for r in by_type["elastic_ip"])
    assert any(r["state"] == "unassociated" for r in by_type["ip_address"])
    orphans = [s for s in by_type["snapshot"]
               if ("AWS", s["properties"]["volume_id"]) not in ids and not s["properties"]["images"]]
    assert orphans and all(not s["properties"]["volume_exists"] for s in orphans)
    images = [i for i in by_type["image"] if i["provider_name"] == "AWS"]
    assert images and any(not i["properties"]["in_use"] for i in images)
    assert all(("AWS", sid) in ids for i in images for sid in i["properties"]["snapshot_ids"])
    open22 = [sg for sg in by_type["security_group"] if 22 in sg["properties"]["open_ports"]]
    assert open22 and any(rule["world"] and rule["from_port"] <= 22 <= rule["to_port"]
                          for rule in open22[0]["properties"]["rules"])
    assert open22[0]["properties"]["instances"]
    # tags on most resources, and some untagged spend
    tagged = [r for r in res if {"team", "env"} <= set(r["tags"])]
    assert len(tagged) > 0.7 * len(res)
    assert _val(conn, "SELECT count(*) FROM costs WHERE tagset IS NULL AND resource IS NOT NULL") > 0
    assert _val(conn, "SELECT count(DISTINCT value) FROM tag_index WHERE key = 'project'") >= 5
    # every running instance's cost can be looked up by its resource id
    costed = {v for (v,) in conn.execute(
        "SELECT d.value FROM dims d WHERE d.kind = 'resource' AND EXISTS "
        "(SELECT 1 FROM costs c WHERE c.resource = d.id AND c.day > ?)", ((AS_OF - timedelta(days=7)).isoformat(),))}
    running = [r for r in inst if r["state"] == "running"]
    assert len(running) > 100
    assert [r["resource_name"] for r in running if r["resource_id"] not in costed] == []


def test_metrics_cover_idle_busy_and_oversized(conn: sqlite3.Connection) -> None:
    cpu = conn.execute(
        """SELECT resource_id, avg(average), max(p99), count(*) FROM metrics WHERE metric = 'cpu'
           GROUP BY resource_id""").fetchall()
    assert any(avg <= 3 for _, avg, _, _ in cpu)
    assert any(avg >= 40 for _, avg, _, _ in cpu)
    assert any(3 < avg < 10 and p99 < 20 for _, avg, p99, _ in cpu)
    assert max(n for *_, n in cpu) == 30
    assert {r[0] for r in conn.execute("SELECT DISTINCT metric FROM metrics")} >= {"network_in", "network_out"}


def test_prices_for_every_instance_type_and_generation_pairs(conn: sqlite3.Connection) -> None:
    priced = set(conn.execute(
        "SELECT provider_name, region_id, sku FROM prices WHERE pricing_model = 'on-demand'").fetchall())
    used = conn.execute(
        """SELECT DISTINCT provider_name, region_id, instance_type FROM resources
           WHERE resource_type = 'instance'""").fetchall()
    assert used and set(used) <= priced
    skus = {s for _, _, s in priced}
    assert {"m4.xlarge", "m6i.xlarge", "m5.large", "m5.xlarge"} <= skus
    assert {r[0] for r in conn.execute("SELECT DISTINCT generation FROM prices")} == {"previous", "current"}
    assert _val(conn, "SELECT count(*) FROM prices WHERE vcpu IS NULL OR memory_gib IS NULL OR source <> 'demo'") == 0


def test_ml_runs_executors_metrics_params(conn: sqlite3.Connection) -> None:
    tasks = conn.execute("SELECT task, count(*) FROM ml_runs GROUP BY task").fetchall()
    assert 3 <= len(tasks) <= 5 and all(5 <= n <= 15 for _, n in tasks)
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM ml_runs")}
    assert {"completed", "failed", "running"} <= statuses
    assert _val(conn, "SELECT count(*) FROM ml_runs r WHERE NOT EXISTS "
                      "(SELECT 1 FROM ml_executors e WHERE e.run_id = r.run_id)") == 0
    assert _val(conn, "SELECT count(*) FROM ml_executors WHERE instance_type = 'ml.p3.2xlarge' "
                      "AND instance_count = 2") > 0
    # SageMaker training executors point at resources that have cost rows
    for (rid,) in conn.execute("SELECT DISTINCT resource_id FROM ml_executors WHERE resource_id LIKE "
                               "'arn:aws:sagemaker:%training-job/%'").fetchall():
        assert _daily(conn, "rs.value = ? AND sv.value = 'Amazon SageMaker'", (rid,)), rid
    assert _val(conn, "SELECT count(DISTINCT run_id) FROM ml_run_metrics") == _val(conn, "SELECT count(*) FROM ml_runs")
    assert _val(conn, "SELECT count(DISTINCT run_id) FROM ml_run_params") == _val(conn, "SELECT count(*) FROM ml_runs")
    losses = [v for (v,) in conn.execute(
        """SELECT m.value FROM ml_run_metrics m JOIN ml_runs r ON r.run_id = m.run_id
           WHERE r.status = 'completed' AND r.task = 'image-classifier' AND m.key = 'loss'
             AND r.run_id = (SELECT min(run_id) FROM ml_runs WHERE status = 'completed' AND task = 'image-classifier')
           ORDER BY m.step""")]
    assert len(losses) > 5 and losses[-1] < losses[0] / 3


def test_budgets_exclusions_actions(conn: sqlite3.Connection) -> None:
    month0 = AS_OF.replace(day=1).isoformat()
    exceeded = 0
    for amount, filt in conn.execute("SELECT amount_nanos, filter FROM budgets").fetchall():
        f = json.loads(filt)
        if set(f) == {"sub_account_id"}:
            spent = sum(_daily(conn, "sa.value = ? AND c.day >= ?", (f["sub_account_id"], month0)).values())
            exceeded += spent > amount
    assert exceeded == 1
    # a per-task budget ([budgets.NAME] filtering on a task): the task's last week is over its weekly share
    from analysis.mlprofile import task_budgets, weekly_spend
    from analysis.mlruns import load_runs

    rows = [dict(zip(("name", "amount_nanos", "currency", "period", "filter"), r, strict=True)) for r in
            conn.execute("SELECT name, amount_nanos, currency, period, filter FROM budgets")]
    tb = task_budgets(rows)
    assert list(tb) == ["llm-finetune"]
    weeks = weekly_spend(load_runs(conn, task="llm-finetune"))
    assert list(weeks.values())[-1] > tb["llm-finetune"][0].weekly_nanos
    assert _val(conn, "SELECT count(*) FROM actions WHERE dry_run = 1") >= 1
    assert _val(conn, "SELECT count(*) FROM actions WHERE dry_run = 0") >= 1


def test_hostile_strings_are_present(conn: sqlite3.Connection) -> None:
    assert _val(conn, "SELECT count(*) FROM resources WHERE resource_name = 'web-[blue]'") == 1
    assert _val(conn, "SELECT count(*) FROM dims WHERE kind = 'resource' AND label = 'web-[blue]'") == 1
    assert _val(conn, "SELECT count(*) FROM tag_index WHERE value LIKE '%[%]%'") >= 1


# -- safety ----------------------------------------------------------------------------------


def test_refuses_to_overwrite_real_data(tmp_path: Path) -> None:
    path = tmp_path / "real.db"
    with Store(path) as store:
        store.ensure_source("x", "focus")
        store.set_meta("note", "real")
    before = _dump(path)
    with Store(path) as store, pytest.raises(InputError, match="real data"):
        demo.generate(store, as_of=AS_OF)
    assert _dump(path) == before


# -- command line ----------------------------------------------------------------------------


def test_cli_demo_then_report(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    # generated at 03:15 on the as_of day itself: the snapshot time (and every instant) is capped at now
    early = SNAP - timedelta(hours=2, minutes=45)
    monkeypatch.setenv("COSTDECK_NOW", timeutil.iso(early))
    path = tmp_path / "cli.db"
    assert main(["demo", "--as-of", AS_OF.isoformat(), "--db", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and "120 days" in out[0] and "3 providers" in out[0] and "1 Kubernetes cluster" in out[0]
    assert out[1].startswith("recommendations: ") and " open " in out[1]  # recomputed after the demo
    assert out[2].startswith("anomalies: ") and " open" in out[2]  # and the anomalies
    assert main(["report", "spend", "--by", "provider_name", "--format", "json", "--db", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["provider_name"] for d in data} == {"AWS", "Microsoft", "Google Cloud"}
    assert all(d["cost"] > 0 for d in data)
    with Store(path) as store:
        assert store.is_demo() and store.snapshot_time() == early
        for table, col in (("sync_runs", "finished_at"), ("actions", "at"), ("ml_runs", "start_at"),
                           ("resources", "first_seen"), ("resources", "last_seen")):
            latest = store.conn.execute(f"SELECT max({col}) FROM {table}").fetchone()[0]
            assert timeutil.parse_instant(latest) <= early, (table, col)


def test_kubernetes_cluster_is_a_lens_on_the_aws_bill(conn: sqlite3.Connection) -> None:
    """The cluster's nodes are the AWS EKS fleets' instances; allocation + idle = OpenCost's node cost."""
    nodes = conn.execute("SELECT resource_name, instance_type, json_extract(properties, '$.instance_id') "
                         "FROM resources WHERE resource_type = 'kubernetes_node'").fetchall()
    assert {r[1] for r in nodes} == {"m5.8xlarge", "g4dn.2xlarge"} and len(nodes) == 10
    ids = {r[2] for r in nodes}
    aws = {r[0] for r in conn.execute(
        "SELECT DISTINCT d.value FROM costs c JOIN dims d ON d.id = c.resource JOIN dims n ON n.id = c.resource "
        "WHERE d.value LIKE 'i-%'")}
    assert ids <= aws  # every node is billed under AWS
    per_ns = dict(conn.execute("SELECT namespace, sum(total_cost) FROM k8s_allocations GROUP BY namespace"))
    assert {"shop", "ml", "ml-sandbox", "platform", "kube-system", "__idle__"} == set(per_ns)
    assert per_ns["__idle__"] > 0.2 * sum(per_ns.values())  # idle capacity
    gpu = conn.execute("SELECT sum(gpu_cost) FROM k8s_allocations WHERE namespace = 'ml'").fetchone()[0]
    assert gpu > 0
    released = conn.execute("SELECT state, attached_to FROM resources WHERE provider_name = 'Kubernetes' "
                            "AND resource_type = 'volume' AND state = 'released'").fetchall()
    assert released == [("released", None)]
    # the over-requested deployment: checkout-api requests far above what it uses
    req, use = conn.execute("SELECT avg(cpu_request_avg), avg(cpu_usage_avg) FROM k8s_allocations "
                            "WHERE controller = 'checkout-api'").fetchone()
    assert use < 0.15 * req
