"""Recommendations (3): the screen (screen.py) composing the findings table and rule summary
(table.py) and the detail pane with its CPU chart (detail.py)."""

from .screen import FILTER_DIMS, SORTS, RecommendationsScreen, parse_snooze

__all__ = ["FILTER_DIMS", "SORTS", "RecommendationsScreen", "parse_snooze"]
