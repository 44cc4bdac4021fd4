"""The Recommendations view's detail pane: the highlighted finding in words (what, where, the saving
and its basis, the evidence, the status), and beside it the instance's daily CPU chart.

The evidence text comes from analysis.recommendations.evidence (plain strings); this module only
styles it. Data strings are appended as text, never parsed as markup.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from analysis.recommendations import Recommendation, rule_title
from analysis.recommendations.evidence import evidence
from cache.money import fmt

from ... import palette
from ...widgets import Chart, LegendChart, clean, safe, y_axis
from .table import STATUS_STYLE

EVIDENCE_ITEMS = 14  # 'key value' items on the Evidence line at most


def detail_text(r: Recommendation) -> Text:
    """The finding: title and resource, ids and place, summary, saving, evidence, status, protection."""
    t = Text()
    t.append(rule_title(r.rule), style="bold magenta" if r.category == "security" else "bold")
    t.append(" · ", style="dim")
    t.append_text(safe(r.resource_name or r.resource_id, 60, "bold"))
    t.append("\n")
    if r.resource_name:
        t.append_text(safe(r.resource_id, 90, "dim"))
        t.append("\n")
    where = " / ".join(clean(x, 40) for x in (r.provider_name, r.sub_account_id, r.region_id) if x)
    t.append(f"{clean(r.resource_type or '', 20)} · {where}\n", style="dim")
    if r.detail.get("summary"):
        t.append_text(safe(r.detail["summary"], 160))
        t.append("\n")
    t.append("Saving ", style="dim")
    if r.category == "security":
        t.append("none (security finding)", style="magenta")
    else:
        t.append(f"{fmt(r.monthly_saving, r.currency)}/month", style="bold green")
    if r.saving_basis:
        t.append(f" · {clean(r.saving_basis, 110)}", style="dim")
    t.append("\n")
    ev, ev_lines = evidence(r.detail, r.currency)
    for line in ev_lines:  # a purchase's terms first: the figures to act on
        t.append(line + "\n")
    if ev:
        t.append("Evidence ", style="dim")
        t.append(" · ".join(ev[:EVIDENCE_ITEMS]))
        t.append("\n")
    t.append(f"First seen {r.first_seen:%Y-%m-%d}" if r.first_seen else "", style="dim")
    t.append(" · status ", style="dim")
    t.append(r.status, style="bold " + STATUS_STYLE.get(r.status, ""))
    if r.status_reason:
        t.append(": ")
        t.append_text(safe(r.status_reason, 60))
    if r.snoozed_until:
        t.append(f" until {r.snoozed_until:%Y-%m-%d}")
    if r.origin != "costdeck":
        t.append(f" · from {clean(r.origin, 30)}", style="cyan")
    if r.detail.get("protected"):
        t.append("\nProtected", style="bold yellow")
        t.append(f" ({clean(r.detail.get('protected_by'), 50)}): cleanup will refuse it", style="yellow")
    return t


class RecommendationDetail(Static):
    """The highlighted finding (`show_recommendation`), or why there is none (`show_message`)."""

    def show_recommendation(self, r: Recommendation) -> None:
        self.update(detail_text(r))

    def show_message(self, message: str) -> None:
        self.update(Text(message, style="dim"))


class CpuChart(LegendChart):
    """An instance's daily CPU % (average and p99, else maximum) as (ts, average, p99, maximum) rows;
    without rows, a title saying there is no utilization data. The legend is above the plot."""

    AVG = palette.COVERAGE  # cyan
    PEAK = palette.PROVIDERS["aws"]  # orange

    def show_cpu(self, r: Recommendation | None, points: list[Any]) -> None:
        if r is not None and points:
            peaks = [p[2] if p[2] is not None else p[3] for p in points]
            has_peak = any(v is not None for v in peaks)
            self.set_head(f"CPU % daily, {len(points)} days",
                          [("avg", self.AVG)] + ([("p99", self.PEAK)] if has_peak else []))
        else:
            peaks, has_peak = [], False
            self.set_head("no utilization data" if r is None or r.resource_type == "instance"
                          else f"no utilization for a {clean(r.resource_type, 20)}", [])

        def draw(plt: Any) -> None:
            if r is None or not points:
                return
            xs = list(range(len(points)))
            plt.plot(xs, [p[1] or 0 for p in points], color=self.AVG)
            if has_peak:
                plt.plot(xs, [v or 0 for v in peaks], color=self.PEAK)
            top = max([v or 0 for v in peaks] + [p[1] or 0 for p in points] + [0])
            yticks, limit = y_axis(max(1.0, top), self.query_one(Chart).size.height or 10)
            plt.ylim(0, limit)
            plt.yticks(yticks, [f"{t:g}%" for t in yticks])
            ticks: list[float] = sorted({0, len(points) // 2, len(points) - 1})
            plt.xticks(ticks, [points[int(i)][0][5:10] for i in ticks])

        self.draw_with(draw)
