"""The one CSV writer of every export (`report --format csv`, the Spend, Commitments and ML runs
exports): one exact number format, whatever wrote the record.

* money (integer nano-units, the columns named in `money_fields`): exact decimal, all significant
  places but at least two (`1234.50`, `0.000125`), never rounded and never a float;
* other numbers: plain decimal, never an exponent or a float artefact (`12.9`, `0.00001`, `3`);
  floats are rounded to 6 decimal places first (they are ratios and percentages, not money);
* booleans `true` / `false`, None an empty cell;
* text through `csv_cell` (cleaned; a cell a spreadsheet would run as a formula is neutralised).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TextIO

from .money import decimal_str
from .text import csv_cell

FLOAT_PLACES = 6


def plain_decimal(d: Decimal) -> str:
    """A Decimal in plain notation without trailing zeros: 12.900 -> '12.9', 1E-5 -> '0.00001'."""
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def csv_value(value: object, money: bool = False) -> object:
    """One cell in the one CSV format (see the module)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if money and isinstance(value, int):
        return decimal_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return plain_decimal(value) if value.is_finite() else ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return plain_decimal(Decimal(repr(round(value, FLOAT_PLACES))))
    return csv_cell(value)


def write_csv(stream: TextIO, columns: list[str], records: Iterable[Mapping[str, Any]],
              money_fields: Iterable[str] = ()) -> int:
    """Header and rows; returns the number of rows written."""
    money = set(money_fields)
    w = csv.writer(stream, lineterminator="\n")
    w.writerow([csv_cell(c) for c in columns])
    n = 0
    for r in records:
        w.writerow([csv_value(r.get(c), c in money) for c in columns])
        n += 1
    return n


def write_csv_rows(stream: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                   money_fields: Iterable[str] = ()) -> int:
    """`write_csv` for rows given as sequences in `columns` order (a streamed export of millions:
    no dict per row); the same cells. Returns the number of rows written."""
    money = set(money_fields)
    flags = [c in money for c in columns]
    # Text cells repeat (names, ids, days): each column's texts are cleaned once (only str keys: 1,
    # 1.0 and True are equal as keys but not as cells).
    memos: list[dict[Any, object]] = [{} for _ in columns]

    def miss(v: object, m: bool, memo: dict[Any, object]) -> object:
        out = csv_value(v, m)
        if type(v) is str:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[v] = out
        return out

    w = csv.writer(stream, lineterminator="\n")
    w.writerow([csv_cell(c) for c in columns])
    n = 0
    cols = list(zip(flags, memos, strict=True))
    for r in rows:
        w.writerow(["" if v is None else d[v] if v in d else miss(v, m, d)
                    for v, (m, d) in zip(r, cols, strict=True)])
        n += 1
    return n


_MEMO_SIZE = 50_000
