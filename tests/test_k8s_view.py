"""The Kubernetes view (8) on the demo: the lens on the AWS bill, drill-down, nodes vs the bill."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from analysis import k8s
from cache import Store
from tests.helpers import build_demo
from tui.app import CostdeckApp
from tui.widgets import Card

NOW = "2026-06-30T09:30:00+00:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("k8s") / "demo.db")


def column(table: DataTable, index: int) -> list[str]:  # type: ignore[type-arg]
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_lens_drill_down_and_nodes(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    with Store(demo_db) as s:
        lens = k8s.lens(s.conn, 30)
        assert lens is not None
        (cl,) = lens.clusters
        # node cost = allocated + idle; every node is an AWS instance with a bill, and a gap
        assert cl.total == cl.allocated + cl.idle and 0.3 < cl.idle_share < 0.6
        assert all(n.billed is not None for n in cl.nodes) and cl.billed is not None
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#k8s-table", DataTable)
        assert column(table, 0) == ["eks-prod-use1", "idle (unrequested node capacity)"]
        idle_card = screen.query_one("#k8s-idle", Card)
        assert f"{100 * cl.idle_share:.0f}% of node cost" in str(idle_card.query_one(".card-sub", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        names = column(table, 0)
        assert set(names) == {"idle (unrequested node capacity)", "shop", "ml", "platform", "ml-sandbox",
                              "kube-system"}
        await pilot.press(*["down"] * names.index("shop"), "enter")
        await settle(pilot)
        ctrls = column(table, 0)
        i = ctrls.index("shop/deployment:checkout-api")  # the over-requested deployment
        assert int(column(table, 4)[i].rstrip("%")) < 10  # its CPU efficiency
        assert all(int(e.rstrip("%")) >= 30 for j, e in enumerate(column(table, 4)) if j != i)
        await pilot.press(*["up"] * len(ctrls), *["down"] * i, "enter")
        await settle(pilot)
        assert all(p.startswith("shop/checkout-api-") for p in column(table, 0))
        await pilot.press("escape", "escape", "escape")
        await settle(pilot)
        assert column(table, 0)[0] == "eks-prod-use1"
        await pilot.press("n")
        await settle(pilot)
        assert len(column(table, 0)) == len(cl.nodes)
        assert {"m5.8xlarge", "g4dn.2xlarge"} == set(column(table, 1))
        crumbs = str(screen.query_one("#k8s-crumbs", Static).render())
        assert "nodes vs cloud bill" in crumbs
        bill = screen.query_one("#k8s-bill", Card)
        assert "gap +$" in str(bill.query_one(".card-sub", Static).render())
