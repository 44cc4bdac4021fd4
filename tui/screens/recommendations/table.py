"""The Recommendations view's tables: the findings (one row each) and the per-rule summary.

Both only render what the screen gives them (the screen owns the filters, the sort and the marks);
every data string goes through `safe`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from analysis.recommendations import NATIVE_RULES, Recommendation
from cache.money import fmt

from ...widgets import Table, money_text, safe

STATUS_STYLE = {"open": "", "dismissed": "dim", "snoozed": "cyan", "applied": "green"}
MARK = "✓"


def rule_label(rec: Recommendation) -> str:
    """The rule column: a provider's native advice by the costdeck rule it matches, '(AWS)' (the
    provider) after it."""
    if rec.rule in NATIVE_RULES:
        who = {"Microsoft": "Azure"}.get(rec.provider_name, rec.provider_name)
        return f"{NATIVE_RULES[rec.rule][0]} ({who})"
    return rec.rule


class RecommendationsTable(Table):
    """The findings shown (filtered and sorted by the screen), marked rows with a ✓. Column keys
    (mark, rule, resource, account, region, saving, status) are what a header click sorts by."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("cursor_type", "row")
        kw.setdefault("zebra_stripes", True)
        super().__init__(**kw)

    def show_rows(self, rows: list[Recommendation], marked: set[int], width: int,
                  keep: Recommendation | None = None) -> None:
        """Rebuild for `rows` at a screen `width` (account and region from 110 columns), the cursor
        back on `keep` when it is still shown."""
        wide = width >= 110
        self.clear(columns=True)
        fixed = 2 + 20 + 12 + 16 + (16 + 13 if wide else 0) + 2 * (7 if wide else 5) + 2
        name_w = max(14, width - fixed)
        self.add_column(" ", key="mark", width=2)
        self.add_column("Rule", key="rule", width=20)
        self.add_column("Resource", key="resource", width=name_w)
        if wide:
            self.add_column("Account", key="account", width=16)
            self.add_column("Region", key="region", width=13)
        self.add_column(Text("Saving/mo", justify="right"), key="saving", width=12)
        self.add_column("Status", key="status", width=16)
        for r in rows:
            is_marked = r.id in marked
            style = "bold yellow" if is_marked else ""
            status = Text(r.status, style=STATUS_STYLE.get(r.status, ""))
            if r.detail.get("protected"):
                status.append(" protected", style="yellow")
            cells: list[Any] = [
                Text(MARK if is_marked else "", style="bold yellow"),
                safe(rule_label(r), 20, style or ("magenta" if r.category == "security" else "")),
                safe(r.resource_name or r.resource_id, name_w, style),
            ]
            if wide:
                # cut by the column (ellipsis), not here: the table widens them from the name's slack
                cells += [safe(r.sub_account_id or "", 40, "dim"), safe(r.region_id or "", 30, "dim")]
            saving = money_text(r.monthly_saving, r.currency) if r.monthly_saving or r.category == "cost" \
                else Text("—", justify="right", style="dim")
            if r.category == "cost" and not r.monthly_saving and (r.saving_basis or "").startswith("unknown"):
                saving = Text("unknown", justify="right", style="dim italic")
            cells += [saving, status]
            self.add_row(*cells, key=str(r.id))
        if keep is not None:
            idx = next((i for i, r in enumerate(rows) if r.id == keep.id), None)
            if idx is not None:
                self.move_cursor(row=idx)


class RuleSummary(Table):
    """Count and monthly saving by rule, largest saving first, then a total; the rule filtered on
    is highlighted. Narrow: shorter columns, whole currency units."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("cursor_type", "none")
        kw.setdefault("zebra_stripes", False)
        kw.setdefault("show_cursor", False)
        super().__init__(**kw)

    def show_counts(self, recs: Iterable[Recommendation], *, narrow: bool, active_rule: str | None) -> None:
        self.clear(columns=True)
        self.add_column("Rule", key="rule", width=12 if narrow else 19)
        self.add_column(Text("#", justify="right"), key="n", width=3)
        self.add_column(Text("Saving/mo" if not narrow else "/month", justify="right"), key="saving",
                        width=8 if narrow else 11)
        by: dict[str, tuple[int, int]] = {}
        cur = "USD"
        for r in recs:
            n, s = by.get(r.rule, (0, 0))
            by[r.rule] = (n + 1, s + r.monthly_saving)
            cur = r.currency
        total_n = total_s = 0
        for rule in sorted(by, key=lambda k: -by[k][1]):
            n, s = by[rule]
            total_n += n
            total_s += s
            active = active_rule == rule
            self.add_row(safe(rule, 19 if not narrow else 12, "bold yellow" if active else ""),
                         Text(str(n), justify="right"), self._money(s, cur, narrow))
        self.add_row(Text("total", style="bold"), Text(str(total_n), justify="right", style="bold"),
                     self._money(total_s, cur, narrow, "bold"))

    @staticmethod
    def _money(nanos: int, cur: str, narrow: bool, style: str = "") -> Text:
        return Text(fmt(nanos, cur, places=0 if narrow else 2), style=style, justify="right")
