"""The one sanitiser for data shown to a person: every surface uses it (report tables and CSV, the
app's widgets, error lines, the comments of exported scripts, config error values), so a name
with an ANSI escape, a NUL, a bidi override or a newline reads the same everywhere and never drives
the terminal.

* `clean(value, max_len)`: one printable line; C0/C1 control characters (ESC, NUL, BEL, newlines,
  DEL), line/paragraph separators and bidi embedding/override/isolate characters appear as
  `\x1b` / `\u202e` escapes; cut with `…` past max_len (0: no cut).
* `json_safe(text)`: JSON text whose DEL, C1, separator and bidi characters are \\u escapes.
* `csv_cell(value)`: a text cell for CSV: cleaned, and a cell a spreadsheet would run as a formula
  (`=`, `+`, `-`, `@`, tab or CR first) is prefixed with `'` (plain numbers are left alone).

Pure (no terminal library), in cache/ so that every layer can use it.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(value: object, max_len: int = 80) -> str:
    """Data string -> one printable line, control characters escaped, cut at max_len."""
    s = "" if value is None else str(value)
    s = _CONTROL.sub(_escape_char, s)
    if max_len and len(s) > max_len:
        s = s[: max_len - 1] + "…"
    return s


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_safe(text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False) with the characters that would still act on a
    terminal (DEL, C1 controls, line separators, bidi overrides) as \\uXXXX escapes: the same JSON
    value, readable on a screen. json.dumps already escapes the C0 controls."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_cell(value: object) -> object:
    """A CSV cell: numbers as they are; text cleaned, with a formula prefix neutralised by a `'`."""
    if value is None or isinstance(value, bool | int | float):
        return value
    s = str(value)
    if s.startswith(_FORMULA_START) and not _NUMBER.match(s):
        s = "'" + s
    return clean(s, 0)


__all__ = ["clean", "csv_cell", "json_safe"]
