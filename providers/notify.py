"""Posting `costdeck check` findings to a webhook (Slack-compatible incoming webhook JSON), through
the one HTTP client (providers/http.py: retries with backoff on 5xx, 429 and connection errors,
Retry-After honoured, `sleep` injectable). The webhook URL is a secret of sorts (its path is the
token): error lines name only its host."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .base import FatalSourceError, StepError
from .http import RestClient

ATTEMPTS = 4
_sleep: Callable[[float], None] = time.sleep  # between retries (tests record the waits instead)


class NotifyError(Exception):
    pass


def post(url: str, payload: dict[str, Any], *, sleep: Callable[[float], None] | None = None,
         attempts: int = ATTEMPTS, transport: Any = None) -> None:
    """POST the payload; NotifyError (one line, URL path left out) when it did not go through."""
    host = urlsplit(url).hostname or "?"
    sleep = sleep or _sleep
    try:
        with RestClient(url, label=f"webhook {host}", max_attempts=attempts, sleep=sleep, transport=transport,
                        max_wait_s=30.0, timeout=20.0) as client:
            client.request("POST", url, json=payload, op="POST", ok=(200, 201, 202, 204))
    except (StepError, FatalSourceError) as exc:
        raise NotifyError(str(exc).replace(url.rstrip("/"), f"{urlsplit(url).scheme}://{host}/…")) from None


__all__ = ["NotifyError", "post"]
