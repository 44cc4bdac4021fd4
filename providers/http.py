"""One JSON-over-HTTP client for the REST adapters (Azure, Google Cloud, OpenCost, ...).

What every REST adapter needs, written once:

* every attempt counted in the source's `RequestCounter` (retries included; `billed=True` for
  requests the provider charges for);
* 429 and 503 honour `Retry-After` (seconds or an HTTP date) and Azure's
  `x-ms-ratelimit-*-retry-after` headers, capped at `max_wait_s` (a server asking for longer
  fails the step with one line rather than hanging the sync); other 5xx, timeouts and
  connection errors back off exponentially; `max_attempts` bounds it all;
* 401 stops the whole source (`FatalSourceError`: expired or invalid credentials); 403 and
  other 4xx fail only the step (`StepError`), so the source's other steps still run;
* error bodies in the Azure (`{"error": {"code", "message"}}`), Google
  (`{"error": {"code", "message", "status", "errors": [{"reason"}]}}`) and plain
  (`{"code", "message"}`) shapes become one line; a non-JSON answer is one line too;
* bearer tokens come from a callable (so an SDK credential can refresh them) and are never
  logged, stored, or put in an error message.

`emulator_token()` is the one rule for the `COSTDECK_*_TOKEN` emulator variables: honoured only
when the endpoint is a loopback address, refused (exit 2) with any other endpoint.

httpx is imported inside the functions: the config validation imports the adapter modules,
and must stay fast.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .base import FatalSourceError, StepError
from .errors import InputError

if TYPE_CHECKING:
    import httpx

DEFAULT_ATTEMPTS = 5
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
MAX_WAIT_S = 60.0
TIMEOUT_S = 60.0

# Azure Resource Manager and Cost Management throttling headers that carry a wait in seconds.
_RETRY_HEADERS = (
    "retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-client-retry-after",
    "x-ms-ratelimit-microsoft.consumption-retry-after",
)


class HttpStepError(StepError):
    """A request failed for this step only (4xx other than 401, retries exhausted)."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def is_loopback(url: str | None) -> bool:
    """True when the URL's host is localhost or a loopback IP address."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def emulator_token(env_name: str, endpoint: str | None, source: str) -> str | None:
    """The bearer token from `env_name` for a loopback emulator endpoint, else None.

    Set with a non-loopback (or no) endpoint, the variable is refused: InputError (exit 2), so
    a token meant for an emulator never reaches a real cloud and a real token never leaves by
    way of a variable meant for tests.
    """
    value = os.environ.get(env_name)
    if value is None or value == "":
        return None
    if not is_loopback(endpoint):
        where = f"endpoint {endpoint!r}" if endpoint else "no endpoint"
        raise InputError(f"source {source!r}: {env_name} is set but the source has {where}; "
                         f"it is honoured only with a loopback emulator endpoint (unset it)")
    return value


def retry_after(headers: Any, now: datetime | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or Azure's throttling headers."""
    best: float | None = None
    for name in _RETRY_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        raw = str(raw).strip()
        secs: float | None
        try:
            secs = float(raw)
        except ValueError:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                continue
            if when is None:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            secs = (when - (now or datetime.now(UTC))).total_seconds()
        if secs != secs or secs < 0:  # NaN or in the past
            secs = 0.0
        best = secs if best is None else max(best, secs)
    return best


def error_text(resp: httpx.Response) -> tuple[str, str | None]:
    """(one-line message, machine reason) from an error answer in the Azure/Google/plain shapes."""
    try:
        data = resp.json()
    except ValueError:
        body = " ".join(resp.text.split())[:160]
        return (f": {body}" if body and not body.startswith("<") else ""), None
    if not isinstance(data, dict):
        return "", None
    err = data.get("error", data)
    if isinstance(err, str):
        return f": {' '.join(err.split())[:200]}", None
    if not isinstance(err, dict):
        return "", None
    code = err.get("code") if isinstance(err.get("code"), str) else err.get("status")
    reason = None
    errors = err.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
    msg = " ".join(str(err.get("message") or "").split())[:200]
    label = str(code or reason or "")
    text = f"{label}{' ' if label and msg else ''}{msg}"
    return (f": {text}" if text else ""), (str(reason) if reason else (str(code) if code else None))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class RestClient:
    """A JSON REST client for one API family of one source.

    `label` names the API in messages ("Azure Cost Management"); `token` is a callable
    returning a bearer token (called before each attempt, so refreshed tokens are used) or
    None for no auth; `sleep` is injectable so tests can record the waits.
    """

    def __init__(self, base_url: str, *, label: str, token: Callable[[], str | None] | None = None,
                 counter: Any = None, max_attempts: int = DEFAULT_ATTEMPTS, timeout: float = TIMEOUT_S,
                 max_wait_s: float = MAX_WAIT_S, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, auth_hint: str = "",
                 headers: dict[str, str] | None = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.label = label
        self.token = token
        self.counter = counter
        self.max_attempts = max(1, max_attempts)
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.auth_hint = auth_hint
        self.waited_s = 0.0
        hdrs = {"Accept": "application/json", "User-Agent": "costdeck"}
        hdrs.update(headers or {})
        self.http = httpx.Client(base_url=self.base_url, headers=hdrs, timeout=timeout, transport=transport,
                                 trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        if self.token is None:
            return {}
        tok = self.token()
        return {"Authorization": f"Bearer {tok}"} if tok else {}

    def request(self, method: str, url: str, *, op: str | None = None, json: Any = None,
                params: dict[str, Any] | None = None, billed: bool = False,
                ok: tuple[int, ...] = (200, 201, 202, 204)) -> httpx.Response:
        """Send with retries; return the response of a status in `ok`. `url` may be absolute
        (a nextLink) or a path under base_url."""
        import httpx

        op = op or method + " " + urlsplit(url).path.rsplit("/", 1)[-1]
        if "://" in url and _origin(url) != _origin(self.base_url):
            # A next link (or any absolute URL from an answer) must stay on the endpoint: the
            # bearer token is never sent to another host.
            raise HttpStepError(f"{self.label} {op}: the server pointed to another host "
                                f"({urlsplit(url).hostname}); refused")
        last = ""
        delay = BACKOFF_S
        for attempt in range(self.max_attempts):
            if self.counter is not None:
                self.counter.record(op, billed=billed, retry=attempt > 0)
            try:
                resp = self.http.request(method, url, json=json, params=params, headers=self._headers())
            except httpx.TimeoutException:
                last = f"{self.label} {op}: timed out after {attempt + 1} attempts ({self.base_url})"
                self._wait(delay)
                delay = min(BACKOFF_MAX_S, delay * 2)
                continue
            except httpx.TransportError as exc:
                last = (f"{self.label} {op}: cannot reach {self.base_url} "
                        f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})")
                self._wait(delay)
                delay = min(BACKOFF_MAX_S, delay * 2)
                continue
            code = resp.status_code
            if code in ok:
                return resp
            text, reason = error_text(resp)
            if code == 401:
                hint = f" ({self.auth_hint})" if self.auth_hint else ""
                raise FatalSourceError(f"{self.label} {op}: 401 Unauthorized: credentials missing, expired or "
                                       f"invalid{hint}{text}")
            if code == 429 or code >= 500 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
                wait = retry_after(resp.headers)
                last = f"{self.label} {op}: {code} {resp.reason_phrase} after {attempt + 1} attempts{text}"
                if wait is not None and wait > self.max_wait_s:
                    raise HttpStepError(f"{self.label} {op}: {code} throttled, the server asks to wait "
                                        f"{wait:.0f} s (more than {self.max_wait_s:.0f} s); try again later",
                                        code, reason)
                if attempt + 1 < self.max_attempts:
                    self._wait(wait if wait is not None else delay)
                    delay = min(BACKOFF_MAX_S, delay * 2)
                continue
            raise HttpStepError(f"{self.label} {op}: {code} {resp.reason_phrase}{text}", code, reason)
        raise HttpStepError(last or f"{self.label} {op}: failed")

    def wait(self, seconds: float) -> None:
        """Wait as between retries (capped at max_wait_s, added to waited_s, through `sleep`): for a
        caller pacing its requests on what the server's answers say."""
        self._wait(seconds)

    def _wait(self, seconds: float) -> None:
        seconds = max(0.0, min(seconds, self.max_wait_s))
        self.waited_s += seconds
        if seconds:
            self.sleep(seconds)

    def json(self, method: str, url: str, **kw: Any) -> Any:
        """request() and decode the JSON answer (one line when it is not JSON)."""
        resp = self.request(method, url, **kw)
        if resp.status_code == 204 or not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError:
            raise HttpStepError(f"{self.label} {kw.get('op') or url}: the answer is not JSON "
                                f"(is {self.base_url} the right endpoint?)", resp.status_code) from None

    def get(self, url: str, **kw: Any) -> Any:
        return self.json("GET", url, **kw)

    def post(self, url: str, body: Any = None, **kw: Any) -> Any:
        return self.json("POST", url, json=body, **kw)

    def pages(self, method: str, url: str, *, items: str = "value", next_key: str = "nextLink",
              token_param: str | None = None, body: Any = None, params: dict[str, Any] | None = None,
              op: str | None = None, max_pages: int = 100_000) -> Iterator[Any]:
        """Follow pagination and yield each page's `items` list entries.

        Two styles: a next URL in the answer (`nextLink`, Azure) when token_param is None, or a
        page token (`nextPageToken`, Google) passed back as the `token_param` query parameter.
        A page that repeats the previous next link/token stops with one line (a server loop).
        """
        seen: set[str] = set()
        cur_url, cur_params = url, dict(params or {})
        for _ in range(max_pages):
            data = self.json(method, cur_url, json=body, params=cur_params or None, op=op)
            if not isinstance(data, dict):
                raise HttpStepError(f"{self.label} {op or url}: unexpected answer (a JSON object was expected)")
            got = data.get(items) or []
            if not isinstance(got, list):
                raise HttpStepError(f"{self.label} {op or url}: '{items}' is not a list")
            yield from got
            nxt = data.get(next_key)
            if not nxt:
                return
            if not isinstance(nxt, str) or nxt in seen:
                raise HttpStepError(f"{self.label} {op or url}: the server repeated a page link; stopped")
            seen.add(nxt)
            if token_param is None:
                cur_url, cur_params = nxt, {}
            else:
                cur_params = {**(params or {}), token_param: nxt}
        raise HttpStepError(f"{self.label} {op or url}: more than {max_pages} pages; stopped")
