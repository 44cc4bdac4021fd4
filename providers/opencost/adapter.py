"""The OpenCost kind: one source per Kubernetes cluster, read from its OpenCost API.

    [sources.k8s-prod]
    kind = "opencost"
    url = "http://127.0.0.1:9003"        # the OpenCost API (in-cluster service, or a kubectl port-forward)
    cluster = "prod-eu"                  # the name costdeck shows for this cluster
    # token_env = "OPENCOST_TOKEN"       # optional bearer token, read from this environment variable
    # node_source = "aws-prod"           # optional: the cloud source whose bill holds this cluster's nodes

Steps: `allocation` (GET /allocation/compute, step=1d over the sync window, idle by node included,
written to the `k8s_allocations` table: never to `costs`, since a cluster's node cost is already in
its cloud bill) and `assets` (GET /assets: nodes, disks and load balancers into `resources`).
Kept light: httpx is imported by the step modules only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from providers.base import Adapter, CostOptions, FatalSourceError, SyncContext
from providers.options import no_userinfo

if TYPE_CHECKING:
    import httpx

    from providers.actions import ScriptExporter
    from providers.http import RestClient

Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/\S*)?$",
                          extra={"expected": 'an http:// or https:// URL like "http://127.0.0.1:9003"'},
                          description="the OpenCost API (in-cluster service, or a kubectl port-forward)")]
Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
                           extra={"expected": "a name (letters, digits, . _ : -)"})]
Step = Literal["allocation", "assets"]
OPENCOST_STEPS: tuple[Step, ...] = ("allocation", "assets")


class OpenCostOptions(CostOptions):
    """[sources.NAME] kind = "opencost"."""

    sorted_keys: ClassVar[bool] = True

    url: Url  # type: ignore[misc]  # a kw-only struct: required fields may follow defaults
    cluster: Annotated[Name, Meta(  # type: ignore[misc]
        description="the name costdeck shows for this cluster (one source per cluster)")]
    token_env: Annotated[str, Meta(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$",
                                   extra={"expected": "the NAME of an environment variable holding the token, "
                                                      'like "OPENCOST_TOKEN"'},
                                   description="NAME of an env var holding a bearer token (never the token)")] \
        | None = None
    node_source: Annotated[Name, Meta(description="the cloud source whose bill holds this cluster's nodes "
                                      "(reconciled in the Kubernetes view)")] | None = None
    backfill_months: Annotated[int, Meta(ge=1, le=38, description="months of allocation the first sync fetches "
                                         "(the current month and the N-1 before it; OpenCost keeps what "
                                         "Prometheus keeps)")] = 2
    chunk_days: Annotated[int, Meta(ge=1, le=31, description="days per allocation request (step = 1d)")] = 1
    max_attempts: Annotated[int, Meta(ge=1, le=20, description="attempts per request (5xx, 429, timeouts)")] = 4
    timeout_s: Annotated[int, Meta(ge=1, le=600, description="seconds per request")] = 120
    steps: Annotated[list[Step], Meta(min_length=1, extra={
        "expected": "a list of steps from " + ", ".join(f'"{s}"' for s in OPENCOST_STEPS)},
        description="the steps to run (default: all)")] = msgspec.field(default_factory=lambda: list(OPENCOST_STEPS))

    def check(self) -> None:
        no_userinfo("url", self.url)

    def normalized(self) -> OpenCostOptions:
        return msgspec.structs.replace(self, url=self.url.rstrip("/"),
                                       steps=[s for s in OPENCOST_STEPS if s in self.steps])


class OpenCostAdapter(Adapter[OpenCostOptions]):
    kind: ClassVar[str] = "opencost"
    title: ClassVar[str] = ("Kubernetes through OpenCost: daily allocation per namespace, controller, pod and node "
                            "(idle included, a lens on the cloud bill), nodes, volumes and load balancers")
    Options = OpenCostOptions
    steps: ClassVar[tuple[str, ...]] = OPENCOST_STEPS
    transport: httpx.BaseTransport | None = None  # tests may inject a transport
    sleep: ClassVar[object] = None  # tests may inject a recording sleep

    def client(self, ctx: SyncContext) -> RestClient:
        from providers.http import RestClient

        env = self.options.token_env
        token = os.environ.get(env) if env else None
        if env and not token:
            raise FatalSourceError(f"OpenCost source {self.name}: the env var {env} (token_env) is not set")
        client = RestClient(self.options.url, label=f"OpenCost {self.options.cluster}",
                            token=(lambda: token) if token else None, counter=ctx.counter,
                            max_attempts=self.options.max_attempts, timeout=float(self.options.timeout_s),
                            transport=self.transport,
                            auth_hint=f"check the token in ${env}" if env else "set token_env")
        if callable(self.sleep):
            client.sleep = self.sleep
        return client

    def sync(self, ctx: SyncContext) -> None:
        names = list(self.options.steps)
        ctx.set_steps(names)
        client = self.client(ctx)
        try:
            for name in names:
                if name == "allocation":
                    from .allocation import sync_allocation

                    ctx.run_step(name, sync_allocation, client, self.options)
                else:
                    from .assets import sync_assets

                    ctx.run_step(name, sync_assets, client, self.options)
        finally:
            client.close()

    @classmethod
    def script_exporter(cls) -> ScriptExporter:
        """kubectl commands (patch requests, scale to zero, delete a released PV): no in-app mutation."""
        from .script import KUBECTL

        return KUBECTL


__all__ = ["OPENCOST_STEPS", "OpenCostAdapter", "OpenCostOptions"]
