"""The Recommendations view (3) on the demo: sort, filter, mark, dismiss and snooze that survive a
restart, read-only, cleanup through the confirm screen; the Overview card; the JSON report; and an
SVG snapshot at 120x40 (demo as of 2026-06-30, clock pinned, like tests/test_snapshots.py).

Update the snapshot after an intended visual change with:
    pytest tests/test_recommendations_view.py --snapshot-update
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from analysis.recommendations import load
from analysis.recommendations.engine import recompute
from cache import Store
from cache.money import decimal_str
from providers.config import Config
from tests.helpers import build_demo, demo_copy, settle
from tui.app import CostdeckApp
from tui.screens.recommendations import RecommendationsScreen

AS_OF = date(2026, 6, 30)
NOW = "2026-06-30T09:30:00+00:00"


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("recs") / "demo.db")


@pytest.fixture
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)




def col(table: DataTable, key: str) -> list[str]:  # type: ignore[type-arg]
    idx = [c.key.value for c in table.ordered_columns].index(key)
    return [str(table.get_row_at(i)[idx]) for i in range(table.row_count)]


def money(cells: list[str]) -> list[Decimal]:
    return [Decimal(c.replace("$", "").replace(",", "")) for c in cells if c.startswith("$")]


async def open_view(pilot) -> RecommendationsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RecommendationsScreen)
    return screen


async def test_sort_filter_mark(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        table = screen.query_one("#rec-table", DataTable)
        with Store(demo_db) as store:
            n_open = len(load(store.conn, include_duplicates=False))
        # 80 waste/security findings (4 Kubernetes, 9 ML) + 9 commitment purchases
        assert table.row_count == n_open == 89
        savings = money(col(table, "saving"))
        assert savings == sorted(savings, reverse=True) and savings[0] == Decimal("8356.07")
        assert col(table, "resource")[0] == "tmp-llm-finetune"
        detail = str(screen.query_one("#rec-detail", Static).render())
        assert "CPU avg 2.0%" in detail and "$8,356.07/month" in detail and "observed:" in detail

        # S: sort by rule (the second option), then again: reversed
        await pilot.press("S", "down", "enter")
        await settle(pilot)
        rules = col(table, "rule")
        assert rules == sorted(rules)
        await pilot.press("S", "enter")
        await settle(pilot)
        assert col(table, "rule") == sorted(rules, reverse=True)

        # f: filter by rule (4th dimension), value picked from the list with counts
        await pilot.press("S")
        await pilot.pause()
        await pilot.press("up", "enter")  # back to saving, descending
        await settle(pilot)
        assert money(col(table, "saving"))[0] == Decimal("8356.07")
        await pilot.press("f", "down", "down", "down", "enter")
        await pilot.pause()
        await pilot.press("down", "enter")  # the most frequent rule: idle_instance (26)
        await settle(pilot)
        assert set(col(table, "rule")) == {"idle_instance"} and table.row_count == 26
        controls = str(screen.query_one("#rec-controls", Static).render())
        assert "Rule: idle_instance" in controls
        summary = screen.query_one("#rec-summary", DataTable)
        assert "idle_instance" in [str(summary.get_row_at(i)[0]) for i in range(summary.row_count)]

        # category filter: security only
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 89
        await pilot.press("f", "down", "down", "down", "down", "enter")
        await pilot.pause()
        await pilot.press("end", "enter")  # the least frequent value: security (1)
        await settle(pilot)
        assert col(table, "resource") == ["ssh-anywhere"] and col(table, "saving") == ["—"]
        await pilot.press("escape")
        await settle(pilot)

        # / search by name
        await pilot.press("slash")
        await pilot.press(*"staging-app")
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 8 and all(n.startswith("staging-app-") for n in col(table, "resource"))
        await pilot.press("escape")
        await settle(pilot)

        # space marks and moves down; the status line counts marked rows and their saving
        table.move_cursor(row=0)
        await pilot.pause()
        await pilot.press("space", "space")
        await settle(pilot)
        assert col(table, "mark")[:3] == ["✓", "✓", ""]
        status = str(screen.query_one("#rec-status", Static).render())
        assert "2 marked ($9,986.39/mo)" in status  # $8,356.07 idle p3.8xlarge + $1,630.32 idle k8s capacity
        assert "36 skipped" in status


async def test_dismiss_and_snooze_persist_across_restart(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        table = screen.query_one("#rec-table", DataTable)
        first, second = col(table, "resource")[:2]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("enter")  # empty reason: refused, the prompt stays
        await pilot.pause()
        assert "give a reason" in str(app.screen.query_one("#error", Static).render())
        await pilot.press(*"fine-tune next week")
        await pilot.press("enter")
        await settle(pilot)
        assert col(table, "resource")[0] == second  # dismissed: gone from the open list
        await pilot.press("s")
        await pilot.pause()
        prompt = app.screen.query_one(Input)
        assert prompt.value == "14"
        prompt.value = "yesterday"
        await pilot.press("enter")
        await pilot.pause()
        assert "a number of days" in str(app.screen.query_one("#error", Static).render())
        prompt.value = "2026-07-15"
        await pilot.press("enter")
        await settle(pilot)
        assert second not in col(table, "resource")

    with Store(demo_db) as store:  # recomputation keeps both decisions
        recompute(store, Config())
    app2 = CostdeckApp(demo_db)
    async with app2.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        table = screen.query_one("#rec-table", DataTable)
        assert first not in col(table, "resource") and second not in col(table, "resource")
        assert "2 dismissed/snoozed/applied (a shows them)" in str(screen.query_one("#rec-status", Static).render())
        await pilot.press("a")
        await settle(pilot)
        names, statuses = col(table, "resource"), col(table, "status")
        assert statuses[names.index(first)] == "dismissed" and statuses[names.index(second)] == "snoozed"
        table.move_cursor(row=names.index(first))
        await pilot.pause()
        detail = str(screen.query_one("#rec-detail", Static).render())
        assert "dismissed: fine-tune next week" in detail
        table.move_cursor(row=names.index(second))
        await pilot.pause()
        assert "until 2026-07-15" in str(screen.query_one("#rec-detail", Static).render())
        await pilot.press("o")  # reopen
        await settle(pilot)
        assert col(table, "status")[col(table, "resource").index(second)] == "open"


async def test_read_only_hides_cleanup_key(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        assert screen.check_action("cleanup", ()) is False
        assert "c" not in screen.active_bindings  # gone from the footer (and from ? help)
        assert "d" in screen.active_bindings
        await pilot.press("space", "c")
        await settle(pilot)
        assert app.screen is screen  # nothing pushed
        assert screen.check_action("dismiss_rec", ()) is True  # local bookkeeping stays available


async def test_cleanup_from_marked_rows_end_to_end(demo_db: Path) -> None:
    pytest.importorskip("analysis.cleanup")
    cleanup_screens = pytest.importorskip("tui.screens.cleanup")
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        table = screen.query_one("#rec-table", DataTable)
        screen.filters = {"rule": "unattached_volume", "provider_name": "AWS"}
        screen._fill()
        await pilot.pause()
        names = col(table, "resource")
        assert names[:2] == ["dataset-cache", "vol-migration-tmp"]
        marked = {r.resource_id for r in screen.shown[:2]}
        assert "c" in screen.active_bindings
        await pilot.press("space", "space", "c")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, cleanup_screens.CleanupScreen)
        assert {s.resource_id for s in confirm.plan.steps} == marked  # exactly the marked resources
        await pilot.press("t", "enter")  # dry run off, confirm: irreversible -> typed confirmation
        await pilot.pause()
        if confirm.plan.needs_typed_confirmation:
            await pilot.press(*confirm.plan.confirmation_phrase, "enter")
        await settle(pilot)
        await pilot.press("enter")  # close the results
        await settle(pilot)
        assert app.screen is screen
        with Store(demo_db) as store:
            applied = {r.resource_id for r in load(store.conn, statuses=("applied",))}
        assert applied == marked
        assert col(table, "resource") == ["old-jenkins-data", "web-eu-restore", "unnamed-100g"]  # applied: gone
        assert not screen.marked


async def test_overview_card(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        card = app.screen.query_one("#card-recs")
        assert "$18,597.80/mo" in str(card.query_one(".card-value", Static).render())
        assert "89 open · 1 security" in str(card.query_one(".card-sub", Static).render())


def test_report_json_exact(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    assert main(["report", "recommendations", "--db", str(demo_db), "--format", "json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out, parse_float=Decimal)
    assert len(data) == 89
    with Store(demo_db) as store:
        recs = {r.id: r for r in load(store.conn, include_duplicates=False)}
    for obj in data:
        for key in ("rule", "resource_id", "resource_name", "provider_name", "sub_account_id", "region_id",
                    "monthly_saving", "status", "category", "saving_basis", "detail"):
            assert key in obj
        rec = recs[obj["id"]]
        assert obj["monthly_saving"] == Decimal(decimal_str(rec.monthly_saving))  # exact, never a float
        assert obj["status"] == "open"
    assert main(["report", "recommendations", "--db", str(demo_db), "--format", "json", "--rule",
                 "open_security_group"]) == 0
    [sg] = json.loads(capsys.readouterr().out)
    assert (sg["resource_name"], sg["category"], sg["monthly_saving"]) == ("ssh-anywhere", "security", 0.0)
    assert main(["report", "recommendations", "--db", str(demo_db), "--rule", "nope"]) == 2
    assert "unknown rule 'nope'" in capsys.readouterr().err


def test_recommendations_snapshot(snap_compare, demo_master: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTDECK_NOW", NOW)

    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(CostdeckApp(demo_master, read_only=True), terminal_size=(120, 40), run_before=go)


def test_report_script_aws(demo_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import subprocess

    from tui.cli import main

    assert main(["report", "recommendations", "--db", str(demo_db), "--rule", "unused_ip", "--script", "aws"]) == 0
    script = capsys.readouterr().out
    path = tmp_path / "cleanup.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    assert main(["report", "recommendations", "--db", str(demo_db), "--rule", "unused_ip", "--script", "aws",
                 "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    with Store(demo_db) as store:
        aws_ips = {r.resource_id for r in load(store.conn, rule="unused_ip") if r.provider_name == "AWS"}
    assert len(lines) == len(aws_ips) == 3  # Azure/GCP addresses are listed in the script as not supported
    assert all(line.startswith("aws ec2 release-address ") for line in lines)
    assert {line.rsplit(" ", 1)[1] for line in lines} == aws_ips
    assert main(["report", "recommendations", "--db", str(demo_db), "--dry-run"]) == 2


# -- evidence for humans, the chart only with a series, the empty state --------------------------------


def _detail_text(screen: RecommendationsScreen) -> str:
    return str(screen.query_one("#rec-detail", Static).render())


async def test_evidence_is_rendered_for_humans(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        table = screen.query_one("#rec-table", DataTable)
        rules = col(table, "rule")
        resources = col(table, "resource")

        # an idle instance: money from nano-units per hour, percentages, humanized keys, the CPU chart
        table.move_cursor(row=resources.index("tmp-llm-finetune"))
        await settle(pilot)
        text = _detail_text(screen)
        assert "Evidence cost per month now $8,356.07 · CPU avg 2.0% · CPU p99 8.8% · instance type p3.8xlarge" in text
        assert "price now $12.2400/h" in text
        assert "12240000000" not in text and "cpu_avg_pct" not in text and "price_now" not in text
        assert "-nochart" not in screen.classes and screen.query_one("#rec-chart").display

        # a commitment purchase: the terms as lines, no dict printed, no _nanos key, no empty chart box
        table.move_cursor(row=resources.index("Dsv3 in westeurope"))
        await settle(pilot)
        assert rules[resources.index("Dsv3 in westeurope")] == "commitment_purchase"
        text = _detail_text(screen)
        assert "1yr: 36% off, $0.9634/h, saves $395.59/mo, break-even 64%, assumed default" in text
        assert "3yr: 57% off, $0.6473/h, saves $626.36/mo, break-even 43%, assumed default" in text
        assert "baseline hourly $1.5053/h" in text and "instance hourly price $0.4301/h" in text
        assert "window 2026-06-01 → 2026-06-30" in text
        assert "{" not in text and "_nanos" not in text and "1505300000" not in text
        assert "-nochart" in screen.classes and not screen.query_one("#rec-chart").display


async def test_no_findings_says_so_without_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import dataset

    monkeypatch.setenv("COSTDECK_NOW", dataset.NOW)
    db = dataset.build(tmp_path / "known.db")
    with Store(db) as store:
        store.conn.execute("DELETE FROM recommendations")
        store.conn.commit()
    app = CostdeckApp(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        assert screen.query_one("#rec-table", DataTable).row_count == 0
        assert _detail_text(screen) == "No recommendations: the rules found nothing to clean up in this cache."


async def test_filter_with_no_match_says_filters(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        screen.needle = "no-such-resource-anywhere"
        screen._fill()
        await settle(pilot)
        assert screen.query_one("#rec-table", DataTable).row_count == 0
        assert _detail_text(screen) == "Nothing to show with these filters."
