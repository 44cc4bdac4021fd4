"""One Azure source's connection: the bearer token and the Resource Manager REST client.

The token comes from azure-identity's DefaultAzureCredential (scope
`https://management.azure.com/.default`), refreshed before it expires, never stored. With a loopback
`endpoint` and COSTDECK_AZURE_TOKEN set, that variable is the token (emulators and tests).
Every request goes through providers.http.RestClient (counted, throttling and 5xx retried).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from providers.base import FatalSourceError, RequestCounter
from providers.http import RestClient, emulator_token

from .adapter import TOKEN_ENV, AzureOptions

ARM = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
# The Azure Monitor metrics data plane (metrics:getBatch): one host per region, its own token scope.
METRICS_HOST = "https://{region}.metrics.monitor.azure.com"
METRICS_SCOPE = "https://metrics.monitor.azure.com/.default"

# api-versions (current stable ones at the time of writing)
COST_API = "2023-11-01"
COMPUTE_API = "2024-03-01"
DISKS_API = "2023-10-02"
NETWORK_API = "2023-11-01"
RESOURCES_API = "2021-04-01"
MONITOR_API = "2023-10-01"
ADVISOR_API = "2020-01-01"
CAPACITY_API = "2022-11-01"
CONSUMPTION_API = "2023-05-01"

# Tests replace this to record the waits instead of sleeping.
SLEEP: Callable[[float], None] = time.sleep


class AzureSession:
    """The token and the REST client of one source (shared by its steps; thread-safe)."""

    def __init__(self, options: AzureOptions, source: str, counter: RequestCounter | None = None) -> None:
        self.options = options
        self.source = source
        self.counter = counter or RequestCounter()
        self.endpoint = options.endpoint or ARM
        self._static = emulator_token(TOKEN_ENV, options.endpoint, source)
        self._credential: Any = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.arm = self.client(self.endpoint, "Azure Resource Manager")
        self._metrics: dict[str, RestClient] = {}

    def client(self, base_url: str, label: str, token: Callable[[], str] | None = None, **kw: Any) -> RestClient:
        return RestClient(base_url, label=label, token=token or self.token, counter=self.counter,
                          max_attempts=self.options.max_attempts, sleep=lambda s: SLEEP(s),
                          auth_hint=f"source {self.source!r}: run `az login` or set the AZURE_* variables "
                                    "of DefaultAzureCredential", **kw)

    def metrics_client(self, region: str) -> RestClient:
        """The metrics:getBatch client of one region (`https://{region}.metrics.monitor.azure.com`, token
        scope metrics.monitor.azure.com); with an `endpoint` (an emulator) the Resource Manager client."""
        if self.options.endpoint:
            return self.arm
        with self._lock:
            client = self._metrics.get(region)
            if client is None:
                client = self._metrics[region] = self.client(
                    METRICS_HOST.format(region=region), "Azure Monitor metrics",
                    token=lambda: self.token(METRICS_SCOPE))
            return client

    def close(self) -> None:
        self.arm.close()
        for client in self._metrics.values():
            client.close()

    # -- the token ----------------------------------------------------------------------------
    def token(self, scope: str = SCOPE) -> str:
        """A bearer token for `scope` (Resource Manager by default), refreshed 2 minutes before expiry."""
        if self._static is not None and scope == SCOPE:
            return self._static
        with self._lock:
            cached = self._tokens.get(scope)
            if cached is not None and cached[1] - 120 > time.time():
                return cached[0]
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                kw: dict[str, Any] = {"exclude_interactive_browser_credential": True}
                if self.options.tenant_id:
                    kw["additionally_allowed_tenants"] = [self.options.tenant_id]
                self._credential = DefaultAzureCredential(**kw)
            try:
                tok = self._credential.get_token(scope, tenant_id=self.options.tenant_id)
            except Exception as exc:  # noqa: BLE001 - ClientAuthenticationError and friends
                msg = " ".join(str(exc).split())[:240]
                raise FatalSourceError(
                    f"source {self.source!r}: no Azure credentials: DefaultAzureCredential found none that works "
                    f"(run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET): "
                    f"{msg}") from None
            self._tokens[scope] = (tok.token, float(tok.expires_on))
            return str(tok.token)

    def check_token(self) -> None:
        """Fail the source now (one line) when no token can be had."""
        self.token()

    # -- helpers --------------------------------------------------------------------------------
    def sub_path(self, sub: str) -> str:
        return f"/subscriptions/{sub}"

    def list(self, path: str, api_version: str, op: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged ARM list (nextLink followed)."""
        return [x for x in self.arm.pages("GET", path, params={"api-version": api_version, **params}, op=op)
                if isinstance(x, dict)]
