"""A recommendation's evidence (its `detail` dict) as text for people: plain strings, no markup.

    items, lines = evidence(rec.detail, rec.currency)

Money arrives in nano-units under keys ending `_nanos` (and `price...` keys): it reads as money,
per hour where the key says hourly (instance prices are hourly), per month where it says monthly.
Keys ending `_pct` read as percentages; keys are humanized ('cpu_avg_pct' -> 'CPU avg'); lists are
summarized; a table of tables (a purchase's `terms`) becomes one line per entry. Every data string
goes through `clean` (control characters escaped, cut to a length), and the result is plain text:
whoever shows it must not parse it as markup (the TUI appends it to a rich Text as is).
"""

from __future__ import annotations

from typing import Any

from cache.money import fmt
from cache.text import clean

# Detail keys that are not evidence: the summary has its own line, protection its own warning, the
# rest is bookkeeping (duplicates, tags, the cleanup action).
EVIDENCE_SKIP = {"summary", "protected", "protected_by", "duplicate_of", "tags", "action"}
_WORDS = {"cpu": "CPU", "vcpu": "vCPU", "gib": "GiB", "ip": "IP", "ips": "IPs", "id": "ID", "ids": "IDs", "vpc": "VPC",
          "avg": "avg", "p99": "p99", "ebs": "EBS", "az": "AZ"}


def humanize_key(key: str) -> str:
    """'cpu_avg_pct' -> 'CPU avg', 'baseline_hourly_nanos' -> 'baseline hourly', 'snapshot_ids' -> 'snapshot IDs'."""
    parts = [p for p in str(key).split("_") if p]
    while parts and parts[-1] in ("nanos", "pct"):
        parts.pop()
    words = [_WORDS.get(p.lower(), p.lower()) for p in parts] or [str(key)]
    return " ".join(words)


def _num(v: float | int) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"


def _nanos_value(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return None


def evidence_value(key: str, v: Any, currency: str = "USD") -> str:
    """One evidence value as a person reads it (money from nano-units, % for percentages)."""
    k = str(key).lower()
    per = "/h" if "hourly" in k else "/mo" if "monthly" in k else ""
    nanos = _nanos_value(v)
    if k.endswith("_nanos") or (k.startswith("price") and nanos is not None):
        if isinstance(v, list):
            vals = [x for x in (_nanos_value(y) for y in v) if x is not None]
            if not vals:
                return f"{len(v)} values"
            return (f"{len(vals)} values, {fmt(min(vals), currency)} to {fmt(max(vals), currency)}"
                    + (f" (mean {fmt(sum(vals) // len(vals), currency)})" if len(vals) > 2 else ""))
        if nanos is not None:
            if k.startswith("price") and not per:
                per = "/h"  # instance prices are hourly
            return fmt(nanos, currency, places=4 if per == "/h" else 2) + per
    if k.endswith("_pct") and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{v:.1f}%" if v % 1 else f"{v:.0f}%"
    if isinstance(v, dict):
        return ", ".join(f"{humanize_key(a).lower()} {evidence_value(a, b, currency)}" for a, b in v.items()
                         if b not in (None, "", [], {}))
    if isinstance(v, list):
        items = [clean(x if not isinstance(x, (int, float)) else _num(x), 40) for x in v]
        if k == "window" and len(items) == 2:
            return f"{items[0]} → {items[1]}"
        if len(items) > 3:
            return ", ".join(items[:2]) + f" and {len(items) - 2} more"
        return ", ".join(items)
    if isinstance(v, (int, float)):
        return _num(v)
    return clean(v, 60)


def term_line(term: str, d: dict[str, Any], currency: str = "USD") -> str:
    """A commitment term as '1yr: 36% off, $0.9634/h, saves $395.59/mo, break-even 64%'."""
    parts = []
    if isinstance(d.get("discount_pct"), (int, float)):
        parts.append(f"{d['discount_pct']:.0f}% off")
    if _nanos_value(d.get("hourly_commitment_nanos")) is not None:
        parts.append(fmt(int(d["hourly_commitment_nanos"]), currency, places=4) + "/h")
    if _nanos_value(d.get("monthly_saving_nanos")) is not None:
        parts.append(f"saves {fmt(int(d['monthly_saving_nanos']), currency)}/mo")
    if isinstance(d.get("break_even_utilization_pct"), (int, float)):
        parts.append(f"break-even {d['break_even_utilization_pct']:.0f}%")
    if d.get("rate_basis") and d.get("rate_basis") != "prices table":
        parts.append(clean(d["rate_basis"], 30))
    return f"{clean(term, 12)}: " + ", ".join(parts)


def evidence(detail: dict[str, Any], currency: str = "USD") -> tuple[list[str], list[str]]:
    """(short 'key value' items, lines of their own for nested tables such as a purchase's terms)."""
    items: list[str] = []
    lines: list[str] = []
    for k, v in detail.items():
        if k in EVIDENCE_SKIP or v in (None, "", [], {}):
            continue
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            for sub, d in v.items():
                if k == "terms":
                    lines.append(term_line(str(sub), d, currency))
                else:
                    lines.append(f"{clean(sub, 20)}: {evidence_value(k, d, currency)}")
            continue
        items.append(f"{humanize_key(clean(k, 30))} {evidence_value(k, v, currency)}")
    return items, lines
