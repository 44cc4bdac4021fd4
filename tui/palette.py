"""One colour per series name for every chart of the app: a provider keeps its colour across ranges
and views, and legends name the colour actually drawn (exact RGB, never a terminal's idea of "blue").

Known providers have fixed colours; any other name gets the first colour free in this session,
starting from a slot chosen by a stable hash of the name, and keeps it for the session.
"""

from __future__ import annotations

import zlib

RGB = tuple[int, int, int]

# Names as the adapters write them (ServiceProviderName / ProviderName), and the usual short forms.
PROVIDERS: dict[str, RGB] = {
    "aws": (255, 153, 0),  # orange
    "amazon web services": (255, 153, 0),
    "microsoft": (0, 120, 212),  # blue
    "azure": (0, 120, 212),
    "microsoft azure": (0, 120, 212),
    "google cloud": (52, 168, 83),  # green
    "gcp": (52, 168, 83),
    "google": (52, 168, 83),
}

OTHER: RGB = (128, 128, 128)  # "other (N)": the rest, grey
UTILIZATION: RGB = (102, 187, 106)  # commitments: utilization % (green)
COVERAGE: RGB = (0, 188, 212)  # commitments: coverage % (cyan)

# Distinct hues, none close to the providers' three nor to grey.
CYCLE: tuple[RGB, ...] = (
    (0, 188, 212),  # cyan
    (214, 69, 160),  # magenta
    (240, 200, 40),  # yellow
    (229, 57, 53),  # red
    (149, 117, 205),  # violet
    (124, 179, 66),  # lime
    (255, 112, 67),  # coral
    (38, 166, 154),  # teal
    (141, 110, 99),  # brown
    (244, 143, 177),  # pink
)

_assigned: dict[str, RGB] = {}


def series_color(name: str) -> RGB:
    """The colour of a series, the same for the whole session."""
    key = name.strip().lower()
    if key in PROVIDERS:
        return PROVIDERS[key]
    if key.startswith("other (") or key in ("other", "(none)", "(not set)"):
        return OTHER
    if key in _assigned:
        return _assigned[key]
    used = set(_assigned.values())
    start = zlib.crc32(key.encode()) % len(CYCLE)
    for i in range(len(CYCLE)):
        color = CYCLE[(start + i) % len(CYCLE)]
        if color not in used:
            break
    else:  # more names than colours: the hashed one
        color = CYCLE[start]
    _assigned[key] = color
    return color


def rich_color(rgb: RGB) -> str:
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def reset() -> None:
    """Forget the colours given out (tests: every test starts from the same map)."""
    _assigned.clear()
