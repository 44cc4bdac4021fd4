"""One AWS source's boto3 session: credentials from the standard chain, counted clients.

* Credentials: the named `profile` (which may use SSO or assume a role via role_arn /
  source_profile in ~/.aws/config), else the environment, else the rest of boto3's chain.
  Nothing is ever read from costdeck's config or written to the cache.
* `client(service, region=None)` returns a cached botocore client with bounded retries
  (standard mode: exponential backoff with jitter on throttling, 5xx, connection errors and
  timeouts), the source's `endpoint_url` (so the whole adapter runs against an emulator) and a
  `before-send` hook that counts every HTTP attempt, retries included, into the RequestCounter.
  Requests to Cost Explorer (`ce`) are also counted as billed ($0.01 each; we count every
  request sent, an upper bound when some were throttled).
* `regions()`: the configured list, or every region enabled for the account (EC2 DescribeRegions).
* `account_id`: from STS GetCallerIdentity (one request, cached).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from providers.base import RequestCounter

from .adapter import AwsOptions

# Services billed per request.
BILLED_SERVICES = frozenset({"ce"})
# Services that only answer in one region.
GLOBAL_REGIONS = {"ce": "us-east-1", "pricing": "us-east-1", "organizations": "us-east-1"}
DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_ATTEMPTS = 5


class AwsSession:
    """boto3 session + client factory for one source. Safe to share between threads."""

    def __init__(
        self,
        options: AwsOptions,
        counter: RequestCounter | None = None,
        *,
        max_attempts: int | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 60,
    ) -> None:
        self.options = options
        self.profile: str | None = options.profile
        self.endpoint_url: str | None = options.endpoint_url
        self.counter = counter or RequestCounter()
        self._boto = boto3.Session(profile_name=self.profile)
        self.default_region = options.region or self._boto.region_name or DEFAULT_REGION
        attempts = int(max_attempts or options.max_attempts or DEFAULT_MAX_ATTEMPTS)
        self._config = Config(
            retries={"total_max_attempts": attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra="costdeck",
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None
        self._regions: list[str] | None = None

    # -- counters ------------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        return self.counter.api_calls

    @property
    def billed_api_calls(self) -> int:
        return self.counter.billed_api_calls

    # -- clients ---------------------------------------------------------------------------
    def client(self, service: str, region: str | None = None) -> Any:
        region = region or GLOBAL_REGIONS.get(service) or self.default_region
        key = (service, region)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                c = self._boto.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self._config
                )
                self._count(c, service)
                self._clients[key] = c
            return c

    def _count(self, client: Any, service: str) -> None:
        billed = service in BILLED_SERVICES
        counter = self.counter

        def before_send(request: Any = None, **kwargs: Any) -> None:
            headers = getattr(request, "headers", {}) or {}
            sdk = headers.get("amz-sdk-request", b"")
            sdk = sdk.decode() if isinstance(sdk, bytes) else str(sdk)
            retry = _attempt(sdk) > 1
            op = kwargs.get("event_name", "before-send").split(".")[-1]
            counter.record(f"{service}.{op}", billed=billed, retry=retry)
            return None  # a non-None return would replace the HTTP response

        client.meta.events.register("before-send", before_send)

    # -- account and regions ------------------------------------------------------------
    @property
    def account_id(self) -> str:
        if self._account_id is None:
            ident = self.client("sts").get_caller_identity()
            self._account_id = str(ident["Account"])
        return self._account_id

    def regions(self) -> list[str]:
        """The configured regions, or all regions enabled for the account ("all" / unset)."""
        if self._regions is not None:
            return list(self._regions)
        conf = self.options.regions
        if isinstance(conf, list) and conf:
            self._regions = [str(r) for r in conf]
        else:
            resp = self.client("ec2").describe_regions(AllRegions=False)
            self._regions = sorted(
                r["RegionName"]
                for r in resp.get("Regions", [])
                if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")
            )
        return list(self._regions)


def _attempt(header: str) -> int:
    """The attempt number from botocore's `amz-sdk-request: attempt=N; max=M` header."""
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == "attempt" and v.isdigit():
            return int(v)
    return 1


__all__ = ["BILLED_SERVICES", "AwsSession"]
