"""Kubernetes (8): the OpenCost lens on the cloud bill: cost vs efficiency per workload, idle share
per cluster, drill-down cluster -> namespace -> controller -> pod, and each node's OpenCost cost
against its cloud bill (node_source)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker

from analysis import k8s
from cache.money import fmt

from ..base import ViewScreen, post_result
from ..widgets import Card, StackedChart, Table, TopBar, money_text, safe, share_bar

TITLES = {"cluster": "Cluster", "namespace": "Namespace", "controller": "Controller", "pod": "Pod", "node": "Node"}


def _eff(x: float | None) -> Text:
    if x is None:
        return Text("—", style="dim", justify="right")
    style = "red" if x < 0.3 else "yellow" if x < 0.6 else "green"
    return Text(f"{100 * x:.0f}%", style=style, justify="right")


class KubernetesScreen(ViewScreen):
    VIEW_TITLE = "Kubernetes"
    HELP = """
Kubernetes cost allocation from OpenCost: a LENS on the cloud bill, never added to it (the nodes are
billed by the cloud; the Overview and Spend totals stay the bill). Node cost = allocated + idle.
Cost: OpenCost's total (CPU, GPU, RAM, volumes, network, load balancers). CPU: average cores
requested -> used. Efficiency: usage / request, CPU and RAM weighted by their cost (OpenCost's
totalEfficiency). Idle: node capacity no pod requested.
enter drills down cluster -> namespace -> controller -> pod; esc goes back up.
n shows the nodes: OpenCost's cost against their cost in the cloud bill (the source's node_source,
matched on provider id; effective cost) and the gap. t: 7 / 30 / 90 days.
"""
    BINDINGS = [
        Binding("enter", "drill", "Drill down", id="k8s.drill"),
        Binding("escape", "back", "Back", id="k8s.back"),
        Binding("n", "toggle_nodes", "Nodes", id="k8s.nodes"),
        Binding("t", "cycle_days", "7/30/90 days", id="k8s.days"),
    ]

    class Loaded(Message, bubble=False):
        def __init__(self, data: k8s.Lens | None) -> None:
            super().__init__()
            self.data = data

    def __init__(self) -> None:
        super().__init__()
        self.days = 30
        self.path: list[tuple[str, str]] = []
        self.nodes = False
        self.data: k8s.Lens | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Kubernetes")
        with Horizontal(id="cards"):
            yield Card("Allocated", id="k8s-total")
            yield Card("Idle", id="k8s-idle")
            yield Card("Efficiency", id="k8s-eff")
            yield Card("vs cloud bill", id="k8s-bill")
        yield Static("", id="k8s-crumbs")
        yield StackedChart(id="k8s-chart")
        yield Table(id="k8s-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="k8s", exit_on_error=False, description="Loading the Kubernetes view")
    def load(self) -> None:
        days, path, nodes = self.days, list(self.path), self.nodes
        top = 5 if self.size.width >= 110 else 3  # a narrow chart names its colours in one line
        data = self.cd_app.read(lambda conn: k8s.lens(conn, days, path, nodes, top=top))
        post_result(self, self.Loaded(data))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.show(message.data)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        self.query_one("#k8s-crumbs", Static).update(
            Text("Could not read the cache (see the notification); r reloads.", style="bold red"))

    # -- rendering -------------------------------------------------------------------------------
    def show(self, data: k8s.Lens | None) -> None:
        self.data = data
        crumbs = self.query_one("#k8s-crumbs", Static)
        table = self.query_one("#k8s-table", DataTable)
        if data is None or not data.clusters:
            crumbs.update(Text("No Kubernetes allocation in this cache: add an OpenCost source "
                               '(kind = "opencost") and run costdeck sync.', style="bold"))
            for cid in ("#k8s-total", "#k8s-idle", "#k8s-eff", "#k8s-bill"):
                self.query_one(cid, Card).set(Text("—", style="bold"), Text("no allocation", style="dim"))
            table.clear(columns=True)
            self.query_one("#k8s-chart", StackedChart).show([], {}, "")
            return
        cur = data.currency
        narrow = self.size.width < 110
        n_days = (data.until - data.since).days
        total, idle = data.total, data.idle
        names = ", ".join(c.cluster for c in data.clusters)
        self.query_one("#k8s-total", Card).set(
            Text(fmt(total, cur, compact=narrow), style="bold"),
            Text(f"{n_days} days" if narrow else f"{n_days}d · {safe(names, 30).plain}", style="dim"))
        share = idle / total if total else 0.0
        self.query_one("#k8s-idle", Card).set(
            Text(fmt(idle, cur, compact=narrow), style="bold"),
            Text(f"{100 * share:.0f}% of node cost", style="red" if share > 0.3 else "dim"))
        cpu = [c.cpu_efficiency for c in data.clusters if c.cpu_efficiency is not None]
        ram = [c.ram_efficiency for c in data.clusters if c.ram_efficiency is not None]
        eff = Text()
        eff.append_text(Text(f"CPU {100 * cpu[0]:.0f}%" if cpu else "CPU —", style="bold"))
        eff.append("  ")
        eff.append_text(Text(f"RAM {100 * ram[0]:.0f}%" if ram else "RAM —", style="bold"))
        self.query_one("#k8s-eff", Card).set(eff, Text("usage / request", style="dim"))
        node_cost = sum(c.node_cost for c in data.clusters)
        billed = [c.billed for c in data.clusters if c.billed is not None]
        bill_card = self.query_one("#k8s-bill", Card)
        if billed:
            b = sum(billed)
            gap = node_cost - b
            sign = "+" if gap >= 0 else "−"
            bill_card.set(Text(fmt(b, cur, compact=narrow), style="bold"),
                          Text(f"gap {sign}{fmt(abs(gap), cur, compact=True)}" if self.size.width < 150 else
                               f"nodes billed · OpenCost {sign}{fmt(abs(gap), cur, compact=True)}", style="dim"))
        else:
            bill_card.set(Text(fmt(node_cost, cur, compact=narrow), style="bold"),
                          Text("node cost (no node_source)", style="dim"))
        crumbs.update(self._crumbs(data))
        what = "nodes" if self.nodes else TITLES[data.by].lower()
        self.query_one("#k8s-chart", StackedChart).show(
            data.days, data.chart, f"Daily allocation by {TITLES['node' if self.nodes else data.by].lower()} "
            f"({cur}), idle apart · t {self.days}d", cur)
        if self.nodes:
            self._fill_nodes(table, data, cur)
        else:
            self._fill(table, data, cur)
        table.border_title = what

    def _crumbs(self, data: k8s.Lens) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("All clusters", style="bold" if not data.path else "dim")
        for dim, value in data.path:
            t.append(" › ", style="dim")
            t.append(f"{dim} ", style="dim")
            t.append_text(safe(value, 50, "bold"))
        if self.nodes:
            t.append(" › nodes vs cloud bill", style="bold")
        nxt = k8s.next_level(data.by)
        t.append(f"   enter: {nxt}s" if nxt and not self.nodes else "", style="dim")
        return t

    def _fill(self, table: DataTable[Any], data: k8s.Lens, cur: str) -> None:
        table.clear(columns=True)
        width = table.size.width or self.size.width or 80
        fixed = 11 + 8 + 13 + 6 + 6 + 12
        table.add_column(TITLES[data.by], key="name", width=max(12, width - fixed - 8))
        table.add_column(Text("Cost", justify="right"), key="cost", width=11)
        table.add_column(Text("Share", justify="right"), key="share", width=6)
        table.add_column(Text("CPU req→use", justify="right"), key="cpu", width=13)
        table.add_column(Text("CPU", justify="right"), key="cpue", width=5)
        table.add_column(Text("RAM", justify="right"), key="rame", width=5)
        table.add_column("Efficiency", key="eff", width=12)
        tot = sum(r.cost for r in data.rows) or 1
        for r in data.rows:
            idle = r.value == "__idle__"
            name = safe(("idle" if self.size.width < 110 else "idle (unrequested node capacity)") if idle
                        else (r.value or "(none)"), 80,
                        "italic red" if idle else "")
            cpu = Text("", justify="right") if idle or r.cpu_request is None else Text(
                f"{r.cpu_request:.1f}→{r.cpu_usage or 0:.1f}", justify="right")
            e = r.efficiency
            bar = Text("") if e is None else Text(share_bar(min(1.0, e), 10), style="green" if e >= 0.6 else
                                                   "yellow" if e >= 0.3 else "red")
            table.add_row(name, money_text(r.cost, cur), Text(f"{100 * r.cost / tot:.0f}%", justify="right"), cpu,
                          _eff(None if idle else r.cpu_efficiency), _eff(None if idle else r.ram_efficiency), bar,
                          key=r.value or "")

    def _fill_nodes(self, table: DataTable[Any], data: k8s.Lens, cur: str) -> None:
        table.clear(columns=True)
        width = table.size.width or self.size.width or 80
        narrow = width < 110
        money_w, type_w = (10, 11) if narrow else (11, 13)
        fixed = type_w + 4 * money_w + (0 if narrow else 7)
        table.add_column("Node", key="name", width=max(12, width - fixed - (16 if narrow else 16)))
        table.add_column("Type", key="type", width=type_w)
        table.add_column(Text("OpenCost", justify="right"), key="oc", width=money_w)
        table.add_column(Text("Idle", justify="right"), key="idle", width=money_w)
        table.add_column(Text("Billed", justify="right"), key="billed", width=money_w)
        table.add_column(Text("Gap", justify="right"), key="gap", width=money_w)
        if not narrow:
            table.add_column(Text("Idle %", justify="right"), key="idlep", width=7)
        for n in sorted(data.nodes, key=lambda x: -x.opencost):
            gap = n.gap
            cells: list[Any] = [
                safe(n.node, 60), safe(n.instance_type or "?", 20), money_text(n.opencost, cur, compact=narrow),
                money_text(n.idle, cur, compact=narrow),
                money_text(n.billed, cur, compact=narrow) if n.billed is not None else Text("—", justify="right"),
                money_text(gap, cur, compact=narrow) if gap is not None else Text("—", justify="right")]
            if not narrow:
                cells.append(Text(f"{100 * n.idle / n.opencost:.0f}%" if n.opencost else "—", justify="right"))
            table.add_row(*cells, key=n.node)

    # -- actions -----------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#k8s-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    def action_drill(self) -> None:
        data = self.data
        if data is None or self.nodes:
            return
        table = self.query_one("#k8s-table", Table)
        idx = table.source_index()
        if not data.rows or not 0 <= idx < len(data.rows):
            return
        row = data.rows[idx]
        if row.value in (None, "__idle__") or k8s.next_level(data.by) is None:
            return
        self.path = [*data.path, (data.by, row.value)]
        self.load()

    def action_back(self) -> None:
        if self.nodes:
            self.nodes = False
        elif self.path:
            self.path = self.path[:-1]
        else:
            return
        self.load()

    def action_toggle_nodes(self) -> None:
        self.nodes = not self.nodes
        self.load()

    def action_cycle_days(self) -> None:
        opts = k8s.LENS_DAYS
        self.days = opts[(opts.index(self.days) + 1) % len(opts)] if self.days in opts else 30
        self.load()

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        return [("Kubernetes: nodes vs cloud bill (n)", self.action_toggle_nodes, "OpenCost node cost vs billed"),
                ("Kubernetes: back up (esc)", self.action_back, "Up one drill-down level")]
