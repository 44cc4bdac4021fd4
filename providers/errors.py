"""Errors providers raise, each with a one-line user-facing message."""

from __future__ import annotations


class CostdeckError(Exception):
    """Base: str(exc) is the one line shown to the user."""

    exit_code = 1


class InputError(CostdeckError):
    """Bad input (malformed file, bad config, bad usage): exit code 2."""

    exit_code = 2


class SourceError(CostdeckError):
    """A source failed at run time (API fault, credentials): exit code 1."""

    exit_code = 1
