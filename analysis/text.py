"""Data strings made safe to show: one printable line, control characters escaped, cut to a length.

Pure (no terminal library): the TUI (`tui.widgets.clean` / `safe`) and text built in analysis/
(a recommendation's evidence) share it, so a name with an ANSI escape or a newline reads the same
everywhere.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def clean(value: object, max_len: int = 80) -> str:
    """Data string -> one printable line, control characters escaped, cut at max_len."""
    s = "" if value is None else str(value)
    s = _CONTROL.sub(_escape_char, s)
    if max_len and len(s) > max_len:
        s = s[: max_len - 1] + "…"
    return s
