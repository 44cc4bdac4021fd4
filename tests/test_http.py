"""providers/http.py: retries, waits, counting, one-line errors, the emulator token rule."""

from __future__ import annotations

import httpx
import pytest

from providers.base import FatalSourceError, RequestCounter
from providers.errors import InputError
from providers.http import HttpStepError, RestClient, emulator_token, is_loopback, retry_after


def _client(handler, **kw):
    waits: list[float] = []
    c = RestClient("http://127.0.0.1:9", label="Test API", counter=RequestCounter(),
                   transport=httpx.MockTransport(handler), sleep=waits.append, **kw)
    return c, waits


def test_429_retry_after_is_waited_and_counted():
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) < 3:
            return httpx.Response(429, headers={"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "7"},
                                  json={"error": {"code": "TooManyRequests", "message": "slow down"}})
        return httpx.Response(200, json={"ok": 1})

    c, waits = _client(handler, token=lambda: "tok")
    assert c.get("/x") == {"ok": 1}
    assert waits == [7.0, 7.0]
    assert c.counter.api_calls == 3 and c.counter.retries == 2
    assert calls[0].headers["authorization"] == "Bearer tok"


def test_too_long_wait_fails_the_step_in_one_line():
    c, waits = _client(lambda r: httpx.Response(429, headers={"Retry-After": "3600"}), max_wait_s=30)
    with pytest.raises(HttpStepError, match="asks to wait 3600 s") as e:
        c.get("/x")
    assert "\n" not in str(e.value) and waits == []


def test_5xx_backs_off_then_gives_one_line():
    c, waits = _client(lambda r: httpx.Response(503, text="<html>busy</html>"), max_attempts=3)
    with pytest.raises(HttpStepError, match="503 Service Unavailable after 3 attempts"):
        c.get("/x")
    assert waits == [0.5, 1.0] and c.counter.api_calls == 3


def test_401_is_fatal_403_is_step_and_google_reason_is_kept():
    c, _ = _client(lambda r: httpx.Response(401, json={"error": {"code": 401, "message": "expired",
                                                                 "status": "UNAUTHENTICATED"}}))
    with pytest.raises(FatalSourceError, match="401 Unauthorized.*UNAUTHENTICATED expired"):
        c.get("/x")
    c, _ = _client(lambda r: httpx.Response(403, json={"error": {"code": 403, "message": "no",
                                                                 "errors": [{"reason": "forbidden"}]}}))
    with pytest.raises(HttpStepError) as e:
        c.get("/x")
    assert e.value.status == 403 and e.value.reason == "forbidden"


def test_google_rate_limit_reason_on_403_is_retried():
    n = []

    def handler(req):
        n.append(1)
        if len(n) == 1:
            return httpx.Response(403, json={"error": {"code": 403, "message": "quota",
                                                      "errors": [{"reason": "rateLimitExceeded"}]}})
        return httpx.Response(200, json={})

    c, waits = _client(handler)
    assert c.get("/x") == {} and waits == [0.5]


def test_pages_follow_next_link_and_refuse_other_hosts_and_loops():
    def handler(req):
        page = req.url.params.get("p")
        if page is None:
            return httpx.Response(200, json={"value": [1, 2], "nextLink": "http://127.0.0.1:9/x?p=2"})
        if page == "2":
            return httpx.Response(200, json={"value": [3], "nextLink": "http://evil.example/x?p=3"})
        raise AssertionError("the token went to another host")

    c, _ = _client(handler, token=lambda: "secret")
    got = []
    with pytest.raises(HttpStepError, match="another host"):
        for v in c.pages("GET", "/x"):
            got.append(v)
    assert got == [1, 2, 3]

    def looping(req):
        return httpx.Response(200, json={"items": [1], "nextPageToken": "same"})

    c, _ = _client(looping)
    with pytest.raises(HttpStepError, match="repeated a page link"):
        list(c.pages("GET", "/y", items="items", next_key="nextPageToken", token_param="pageToken"))


def test_not_json_is_one_line():
    c, _ = _client(lambda r: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(HttpStepError, match="not JSON"):
        c.get("/x")


def test_emulator_token_only_with_loopback(monkeypatch):
    monkeypatch.delenv("COSTDECK_TEST_TOKEN", raising=False)
    assert emulator_token("COSTDECK_TEST_TOKEN", "https://management.azure.com", "s") is None
    monkeypatch.setenv("COSTDECK_TEST_TOKEN", "t")
    assert emulator_token("COSTDECK_TEST_TOKEN", "http://127.0.0.1:8080", "s") == "t"
    assert emulator_token("COSTDECK_TEST_TOKEN", "http://[::1]:8080", "s") == "t"
    assert emulator_token("COSTDECK_TEST_TOKEN", "http://localhost:1", "s") == "t"
    for bad in ("https://management.azure.com", "http://127.0.0.1.evil.com", None):
        with pytest.raises(InputError, match="COSTDECK_TEST_TOKEN is set") as e:
            emulator_token("COSTDECK_TEST_TOKEN", bad, "s")
        assert e.value.exit_code == 2
    assert not is_loopback("http://10.0.0.1") and is_loopback("http://127.5.5.5:1")


def test_retry_after_http_date():
    from datetime import UTC, datetime
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert retry_after(httpx.Headers({"Retry-After": "Wed, 02 Dec 2026 00:00:30 GMT"}), now) == 30.0
    assert retry_after(httpx.Headers({"Retry-After": "junk"}), now) is None
    assert retry_after({}, now) is None
