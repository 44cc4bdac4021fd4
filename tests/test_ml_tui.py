"""The ML views at 80x24 on the demo: the run detail keeps the executor Hours, Price/h, Cost and
Basis columns and the chart titles, `m` says which metric is shown, the profile chart sits beside
the metric history; the ML runs view shows the cost per outcome; the Commitments view the ML usage;
the new rules in the Recommendations view. Plus an SVG snapshot of the run detail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from tests.helpers import DEMO_NOW, build_demo, settle
from tui.app import CostdeckApp
from tui.screens.mlruns import MLRunsScreen, RunDetailScreen


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("mltui") / "demo.db")


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", DEMO_NOW)


async def open_run(app: Any, pilot: Any, pick: Any) -> RunDetailScreen:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, MLRunsScreen)
    idx = next(i for i, r in enumerate(screen.shown) if pick(r))
    screen.query_one("#ml-runs", DataTable).move_cursor(row=idx)
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, RunDetailScreen)
    return app.screen


def text(screen: Any, sel: str) -> str:
    return str(screen.query_one(sel, Static).render())


async def test_run_detail_at_80x24_keeps_cost_columns_and_names_the_metric(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="mlruns")
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_run(app, pilot, lambda r: r.task == "image-classifier" and r.status == "completed")
        execs = detail.query_one("#run-execs", DataTable)
        titles = [str(c.label) for c in execs.columns.values()]
        assert titles == ["Executor", "Hours", "Price/h", "Cost", "Basis / why"]
        row = [str(c) for c in execs.get_row_at(0)]
        assert row[0] == "ml.p3.2xlarge x2" and row[2].strip() == "$3.8250" and row[4].startswith("billed")
        # every column fits: the table is no wider than the screen
        assert sum(c.get_render_width(execs) for c in execs.columns.values()) <= 80
        assert detail.metric_keys[0] == "val_accuracy" and len(detail.metric_keys) == 3
        assert text(detail, "#run-history-title").startswith("Metric val_accuracy by step\n1 of 3, m: next")
        await pilot.press("m")
        await pilot.pause()
        assert text(detail, "#run-history-title").startswith(f"Metric {detail.metric_keys[1]} by step\n2 of 3")
        prof = text(detail, "#run-profile-title")
        # two hosts (ml.p3.2xlarge x2): averaged first; h shows each host's own series and p95, then back
        assert prof.startswith("Profile 2 hosts averaged, h: per host\np95 %: CPU ") and " GPU " in prof
        assert "per utilized GPU-h" in prof
        assert set(detail.profile) == {"cpu", "memory", "gpu", "gpu_memory"}
        assert list(detail.hosts) == ["algo-1", "algo-2"]
        plot_pts = {}
        for i, host in enumerate(("algo-1", "algo-2"), 1):
            await pilot.press("h")
            await pilot.pause()
            prof = text(detail, "#run-profile-title")
            assert prof.startswith(f"Profile {host} {i} of 2, h: next\np95 %: CPU ")
            series, stats = detail.hosts[host]
            gpu_p95 = stats["gpu"].p95
            assert f" GPU {gpu_p95:.0f} " in prof  # this host's p95, not the averaged one
            plot_pts[host] = series["gpu"]
        assert plot_pts["algo-1"] != plot_pts["algo-2"]  # each host's own series
        await pilot.press("h")
        await pilot.pause()
        assert text(detail, "#run-profile-title").startswith("Profile 2 hosts averaged")
        head = text(detail, "#run-head")
        assert all(len(line) <= 78 for line in head.splitlines()) and "params " in head


async def test_run_detail_without_profile_or_metrics_says_so(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        detail = await open_run(app, pilot, lambda r: r.task == "churn-model")
        assert text(detail, "#run-profile-title").startswith("p95 %: CPU ")
        assert "no GPU series" in text(detail, "#run-profile-title")  # a CPU-only instance: nothing invented
        # the wide layout keeps the provider and resource columns
        titles = [str(c.label) for c in detail.query_one("#run-execs", DataTable).columns.values()]
        assert titles[:3] == ["Executor", "Provider / region", "Resource"]


async def test_ml_runs_view_shows_cost_per_outcome_for_a_task(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MLRunsScreen)
        screen.set_task("llm-finetune")
        await settle(app, pilot)
        line = text(screen, "#ml-outcome")
        assert "to best $" in line and "◆ cheapest good" in line and "(0.801)" in line
        assert "RI/SP 0% of 20 h" in line


async def test_ml_runs_header_lines_at_80_end_with_an_ellipsis_when_cut(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="mlruns")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for sel in ("#ml-controls", "#ml-summary"):  # both longer than 80 on the demo: cut, never silently
            widget = app.screen.query_one(sel, Static)
            shown = [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]
            assert len(shown) == 1 and shown[0].endswith("…"), (sel, shown)


async def test_task_budget_from_the_config_is_shown_against_the_week(demo_db: Path) -> None:
    from providers.config import parse_config

    # $100/month on llm-finetune: $23.00 a week; its last week's runs cost more -> shown over (red)
    cfg = parse_config({"budgets": {"llm": {"amount": 100, "filter": {"task": "llm-finetune"}}}})
    app = CostdeckApp(demo_db, start_mode="mlruns", config=cfg)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MLRunsScreen)
        screen.set_task("llm-finetune")
        await settle(app, pilot)
        line = screen.query_one("#ml-outcome", Static).render()
        plain = str(line)
        assert "week 06-22 $27.23 of $23.00/wk (llm)" in plain
        spans = [s for s in line.spans if "red" in str(s.style)]  # type: ignore[attr-defined]
        assert spans, "an over-budget week is red"


async def test_commitments_view_lists_ml_usage(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="commitments")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#cm-ml", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        fams = {r[0].split()[0]: r for r in rows}
        assert {"ml.m5", "ml.g4dn", "ml.t3", "ml.p3", "g5"} <= set(fams)
        assert fams["ml.m5"][5].strip().endswith("*")  # serving: a steady baseline, assumed rate
        assert fams["g5"][5].strip() == "none"  # six training runs: no steady baseline


async def test_commitments_ml_usage_at_80x24_keeps_family_and_region_whole(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="commitments")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        title = str(app.screen.query_one("#cm-ml-title", Static).render())
        assert len(title) <= 78 and title.startswith("ML usage 30d")
        table = app.screen.query_one("#cm-ml", DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "ml.m5 us-west-2" in names and not any("…" in n for n in names)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80


def test_run_detail_80x24_snapshot(snap_compare: Any, demo_db: Path) -> None:
    async def go(pilot: Any) -> None:
        await open_run(pilot.app, pilot, lambda r: r.task == "llm-finetune" and r.primary_value == 0.801)

    assert snap_compare(CostdeckApp(demo_db, start_mode="mlruns"), terminal_size=(80, 24), run_before=go)
