"""Report output: records as a table, CSV or JSON (money exact), and the wide status tables.

rich is imported only when a table is printed.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from cache.csvout import write_csv
from cache.money import decimal_str, fmt
from cache.text import clean, json_safe


def safe(text: object) -> str:
    """No terminal control characters from the data: escaped (cache.text.clean), never cut."""
    return clean(text, 0)


def write_records(
    records: list[dict[str, Any]],
    fmt_name: str,
    *,
    money_fields: tuple[str, ...] = (),
    title: str = "",
    out: TextIO | None = None,
    total: bool = False,
) -> None:
    """Print records as a table, CSV or JSON. Money fields are nano-units in, exact decimals out.
    `total`: the table (not CSV or JSON, which scripts sum themselves) ends with a total row per
    currency (records' "currency"), never adding one currency to another."""
    stream = out or sys.stdout
    if fmt_name == "json":
        _write_json(records, money_fields, stream)
        return
    cols: list[str] = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    if fmt_name == "csv":
        _write_csv(records, cols, money_fields, stream)
        return
    _write_table(records, cols, money_fields, title, stream, total_rows(records, cols, money_fields) if total else [])


def total_rows(records: list[dict[str, Any]], cols: list[str], money_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """One total row per currency (in order of first appearance): the money fields summed, the first
    column "Total", the currency column kept."""
    label_col = next((c for c in cols if c not in money_fields and c != "currency"), None)
    totals: dict[Any, dict[str, Any]] = {}
    for r in records:
        cur = r.get("currency")
        row = totals.setdefault(cur, {"currency": cur, **({label_col: "Total"} if label_col else {})})
        for c in money_fields:
            if r.get(c) is not None:
                row[c] = row.get(c, 0) + r[c]
    return list(totals.values())


def _write_json(records: list[dict[str, Any]], money_fields: tuple[str, ...], stream: TextIO) -> None:
    data = [
        {k: (float(decimal_str(v)) if k in money_fields and v is not None else v) for k, v in r.items()}
        for r in records
    ]
    stream.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def _write_csv(records: list[dict[str, Any]], cols: list[str], money_fields: tuple[str, ...], stream: TextIO) -> None:
    write_csv(stream, cols, records, money_fields)


def _write_table(
    records: list[dict[str, Any]], cols: list[str], money_fields: tuple[str, ...], title: str, stream: TextIO,
    totals: list[dict[str, Any]] | None = None,
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(safe(title)) if title else None, title_justify="left")
    for c in cols:
        # money never folds onto two lines (names and ids do)
        table.add_column(Text(safe(c)), justify="right" if c in money_fields else "left", overflow="fold",
                         no_wrap=c in money_fields)
    for i, r in enumerate([*records, *(totals or [])]):
        is_total = i >= len(records)
        cells = []
        for c in cols:
            v = r.get(c)
            if c in money_fields and v is not None:
                cells.append(Text(fmt(v, r.get("currency")), style="bold" if is_total else ""))
            elif is_total:
                cells.append(Text("" if v is None else safe(v), style="bold"))
            else:
                # Text: names render literally, never as markup
                cells.append(Text("(not set)", style="dim") if v is None else Text(safe(v)))
        table.add_row(*cells, end_section=i == len(records) - 1 and bool(totals))
    # Piped (not a terminal): do not fold long ids at 80 columns; the table is as wide as its content.
    tty = hasattr(stream, "isatty") and stream.isatty()
    Console(file=stream, soft_wrap=False, width=None if tty else 10_000).print(table)


def write_exact_json(records: list[dict[str, Any]], money_fields: tuple[str, ...]) -> None:
    """JSON with money as exact decimal numbers (nano-units -> 12.345000001, never a float)."""
    import secrets

    tag = f"@@dec{secrets.token_hex(8)}@@"
    data = [{k: (f"{tag}{decimal_str(v)}{tag}" if k in money_fields and v is not None else v) for k, v in r.items()}
            for r in records]
    text = json.dumps(data, indent=2, ensure_ascii=False)
    for field_text in set(text.split(f'"{tag}')[1:]):
        number = field_text.split(f'{tag}"', 1)[0]
        text = text.replace(f'"{tag}{number}{tag}"', number)
    sys.stdout.write(json_safe(text) + "\n")


def wide_table(title: str, records: list[dict[str, Any]], right: tuple[str, ...] = ()) -> None:
    """A rich table; not on a terminal, it is wide enough not to fold (logs, pipes, tests)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(safe(title)), title_justify="left")  # a title is text, never markup
    for col in records[0] if records else []:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for r in records:
        style = {"ok": "green", "partial": "yellow", "failed": "red"}.get(str(r.get("status")), "")
        table.add_row(*(Text(safe(v), style=style if k == "status" else "") for k, v in r.items()))
    console = Console() if sys.stdout.isatty() else Console(width=240, soft_wrap=False)
    console.print(table)
