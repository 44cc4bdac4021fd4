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


_SEPARATORS = "-_/:. "


def middle_cut(text: str, width: int) -> str:
    """`text` in `width` characters keeping both ends (the start and the usually distinguishing end)."""
    if width <= 0 or len(text) <= width:
        return text
    if width < 4:
        return text[: width - 1] + "…"
    tail = max(2, (width - 1) // 3)  # more of the start (a date, a family), the last characters too
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def distinct_labels(names: list[str], width: int) -> list[str]:
    """Names that share a long prefix (runs named task-2026-10-13-09-05-40-502, ...) shown in `width`
    characters so that they can still be told apart. When cutting them at the end would leave them
    distinct they are returned whole (the table cuts them); otherwise the prefix they all share (up to
    a separator) becomes "…", and what remains keeps both its ends."""
    cleaned = [clean(n, 0) for n in names]
    cut_at_end = [n if len(n) <= width else n[: width - 1] for n in cleaned]
    if len(set(cut_at_end)) == len(set(cleaned)):  # a plain cut at the end still tells them apart
        return cleaned
    prefix = ""
    if len(cleaned) > 1:
        first, last = min(cleaned), max(cleaned)
        i = 0
        while i < min(len(first), len(last)) and first[i] == last[i]:
            i += 1
        cut = max((first.rfind(sep, 0, i) for sep in _SEPARATORS), default=-1) + 1
        if cut >= 4 and all(len(n) > cut for n in cleaned):
            prefix = first[:cut]
    out = []
    for n in cleaned:
        if len(n) <= width:
            out.append(n)
        elif prefix:
            out.append("…" + middle_cut(n[len(prefix) :], width - 1))
        else:
            out.append(middle_cut(n, width))
    return out
