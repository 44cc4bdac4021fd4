"""Bounded nesting for what users hand us (JSON run-log lines, TOML configs, tag objects).

Python's parsers recurse: a line of 100,000 `[` ends in RecursionError (a traceback, exit 1), and a
value nested a few hundred levels deep is accepted and then breaks later reads. Input nested deeper
than MAX_DEPTH is refused with one line instead; nothing legitimate comes close (a run log's
metrics are 3 levels deep, the config 4).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class TooDeep(ValueError):
    """Nested deeper than MAX_DEPTH."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"nested deeper than {limit} levels")


def depth(value: Any) -> int:
    """How deeply lists/dicts nest in a parsed value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list | tuple):
            continue
        d += 1
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            return d
        stack.extend((x, d) for x in v)
    return deepest


def check(value: Any, limit: int = MAX_DEPTH) -> Any:
    """The value, or TooDeep."""
    if depth(value) > limit:
        raise TooDeep(limit)
    return value


def loads_json(text: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """json.loads with bounded nesting: TooDeep (never RecursionError); JSONDecodeError as usual."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
    return check(value, limit)


__all__ = ["MAX_DEPTH", "TooDeep", "check", "depth", "loads_json"]
