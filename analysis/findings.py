"""What `costdeck check` reports: open anomalies, budgets at risk or over, open recommendations
saving at least a threshold, each with a stable key, and which of them are new since the last check.

`check_findings` remembers every finding reported (kind, key) and when the webhook was told
(`notified_at`, NULL until a post succeeded), so a finding is printed once and notified once.
A budget's key carries its period and status: the same budget reported at risk, then over, or at
risk again next month, is new each time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cache import timeutil
from cache.money import fmt

from . import anomalies as an
from . import budgets as bu


@dataclass(slots=True)
class Finding:
    kind: str  # anomaly, budget, recommendation
    key: str
    summary: str  # one line

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "summary": self.summary}


def anomaly_line(a: an.Anomaly) -> str:
    when = a.start.isoformat() if a.start == a.end else f"{a.start} to {a.end}"
    sign = "+" if a.impact >= 0 else "-"
    return (f"{an.KIND_TITLES[a.kind]} in {a.dim_value} ({a.scope_title.lower()}), {when}: "
            f"{sign}{fmt(abs(a.impact), a.currency)} against {fmt(a.expected, a.currency)} expected")


def budget_line(b: bu.BudgetStatus) -> str:
    cur = b.budget.currency
    text = (f"budget {b.budget.name} {bu.STATUS_TITLES[b.status]}: {fmt(b.actual, cur)} spent of "
            f"{fmt(b.budget.amount, cur)} ({b.used:.0%}), forecast {fmt(b.forecast_end, cur)} by {b.period_end}")
    if b.crossing and b.status == "at_risk":
        text += f", crossing on {b.crossing}"
    elif b.crossing:
        text += f", crossed on {b.crossing}"
    return text


def collect(conn: sqlite3.Connection, config: Any = None) -> list[Finding]:
    """Every current finding (new or not)."""
    out: list[Finding] = []
    for a in an.load(conn, ["open"]):
        out.append(Finding("anomaly", str(a.id), anomaly_line(a)))
    for b in bu.evaluate_all(conn, config):
        if b.status in ("at_risk", "over"):
            out.append(Finding("budget", f"{b.budget.name}:{b.period_start}:{b.status}", budget_line(b)))
    notify = getattr(config, "notify", None)
    threshold = int(getattr(notify, "min_saving_nanos", 100 * 10**9))
    for rid, rule, name, res, saving, cur in conn.execute(
        "SELECT id, rule, resource_name, resource_id, monthly_saving_nanos, currency FROM recommendations "
        "WHERE status='open' AND category='cost' AND monthly_saving_nanos >= ? "
        "AND json_extract(detail, '$.duplicate_of') IS NULL ORDER BY monthly_saving_nanos DESC, id", (threshold,)
    ):
        out.append(Finding("recommendation", str(rid),
                           f"recommendation {rule} on {name or res}: saves {fmt(int(saving), cur)}/month"))
    return out


def record_new(conn: sqlite3.Connection, found: list[Finding], at: datetime | None = None) -> list[Finding]:
    """The findings not reported before; they are recorded as reported now (caller commits)."""
    at_s = timeutil.iso(at or timeutil.now())
    seen = {(k, key) for k, key in conn.execute("SELECT kind, key FROM check_findings")}
    new = [f for f in found if (f.kind, f.key) not in seen]
    conn.executemany("INSERT INTO check_findings(kind, key, summary, reported_at) VALUES (?, ?, ?, ?)",
                     [(f.kind, f.key, f.summary, at_s) for f in new])
    return new


def unnotified(conn: sqlite3.Connection) -> list[Finding]:
    """Reported findings the webhook has not been told of (new ones and earlier failed posts)."""
    return [Finding(k, key, s) for k, key, s in conn.execute(
        "SELECT kind, key, summary FROM check_findings WHERE notified_at IS NULL ORDER BY reported_at, kind, key")]


def mark_notified(conn: sqlite3.Connection, found: list[Finding], at: datetime | None = None) -> None:
    at_s = timeutil.iso(at or timeutil.now())
    conn.executemany("UPDATE check_findings SET notified_at=? WHERE kind=? AND key=?",
                     [(at_s, f.kind, f.key) for f in found])


def slack_message(found: list[Finding], where: str = "") -> dict[str, Any]:
    """One Slack-compatible message (incoming webhook JSON: `text`, mrkdwn) for the findings."""
    head = f"costdeck: {len(found)} new finding{'s' if len(found) != 1 else ''}" + (f" in {where}" if where else "")
    lines = [f"• *{f.kind}*: {f.summary}" for f in found[:50]]
    if len(found) > 50:
        lines.append(f"… and {len(found) - 50} more (costdeck report anomalies | budgets | recommendations)")
    return {"text": head + "\n" + "\n".join(lines), "mrkdwn": True}


__all__ = ["Finding", "anomaly_line", "budget_line", "collect", "mark_notified", "record_new", "slack_message",
           "unnotified"]
