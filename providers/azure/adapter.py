"""The Azure kind: its options, its sync steps and its cleanup executor.

Steps: costs (Cost Management query, or FOCUS exports in a storage container: costs.py, export.py),
inventory (VMs with their power state, managed disks, public IPs, snapshots, images), metrics
(Azure Monitor), prices (VM sizes and Retail Prices, for rightsizing), advice (Azure Advisor cost
recommendations), commitments (reservations and savings plans with their daily utilization).
Each step runs through `ctx.run_step`: 403 on one API fails that step only (the source ends
"partial"); 401 (expired or missing credentials) stops the source.

Credentials: azure-identity's DefaultAzureCredential (environment, workload identity, managed
identity, Azure CLI login), token scope `https://management.azure.com/.default`. For emulators
only, with a loopback `endpoint`, the bearer token is `COSTDECK_AZURE_TOKEN` when it is set; with
any other endpoint that variable is refused (exit 2). Tokens are never written anywhere.

This module is imported to validate the config, so it stays light: httpx, azure-identity and
the step modules are imported when a sync or a cleanup starts.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from cache import Store
from providers.base import Adapter, CostOptions, FatalSourceError, SyncContext, one_line
from providers.errors import InputError
from providers.options import Bad, no_userinfo

if TYPE_CHECKING:
    from providers.actions import Executor, ScriptExporter
    from providers.config import ProtectionConfig

    from .session import AzureSession

TOKEN_ENV = "COSTDECK_AZURE_TOKEN"
STORAGE_KEY_ENV = "COSTDECK_AZURE_STORAGE_KEY"

STEPS: dict[str, tuple[str, str]] = {
    "costs": ("costs", "sync_costs"),
    "inventory": ("inventory", "sync_inventory"),
    "metrics": ("metrics", "sync_metrics"),
    "prices": ("prices", "sync_prices"),
    "advice": ("advice", "sync_advice"),
    "commitments": ("commitments", "sync_commitments"),
}
Step = Literal["costs", "inventory", "metrics", "prices", "advice", "commitments"]
AZURE_STEPS: tuple[Step, ...] = typing.get_args(Step)
assert AZURE_STEPS == tuple(STEPS)

Guid = Annotated[str, Meta(pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
                           extra={"expected": "a GUID like 00000000-0000-0000-0000-000000000000"})]
Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/\S*)?$", extra={"expected": "an http:// or https:// URL"})]
Days = Annotated[int, Meta(ge=1, le=93)]


class AzureOptions(CostOptions):
    """[sources.NAME] kind = "azure"."""

    sorted_keys: ClassVar[bool] = True

    # kw_only: a required field may follow the defaults of CostOptions
    subscriptions: Annotated[list[Guid], Meta(  # type: ignore[misc]
        min_length=1, extra={"expected": 'a list of subscription GUIDs like ["00000000-0000-0000-0000-000000000000"]'},
        description="subscription ids to read (one or more)")]
    tenant_id: Annotated[Guid, Meta(description="Microsoft Entra tenant of the credential (default: the "
                                    "credential's own)")] | None = None
    cost_source: Annotated[Literal["query", "export"],
                           Meta(description="the Cost Management query API, or FOCUS exports in a storage "
                                "container")] = "query"
    endpoint: Annotated[Url, Meta(description="Resource Manager base URL (an emulator); default "
                                  "https://management.azure.com")] | None = None
    export_container_url: Annotated[Url, Meta(description='storage container of the FOCUS cost exports '
                                              '(cost_source = "export")')] | None = None
    export_path: Annotated[str, Meta(min_length=1, extra={"expected": "a folder path in the container"},
                                     description="the export's folder in the container (its root folder "
                                     "path / export name)")] | None = None
    max_attempts: Annotated[int, Meta(ge=1, le=20, description="attempts per request (throttling and 5xx "
                                      "retries included)")] = 5
    steps: Annotated[list[Step], Meta(min_length=1, extra={
        "expected": "a list of steps from " + ", ".join(f'"{s}"' for s in AZURE_STEPS)},
        description="the steps to run (default: all)")] = msgspec.field(default_factory=lambda: list(AZURE_STEPS))
    metrics_days: Annotated[Days, Meta(description="days of Azure Monitor metrics per running VM")] = 30
    prices_endpoint: Annotated[Url, Meta(description="Azure Retail Prices API base URL (public, no token); "
                                         "default https://prices.azure.com")] | None = None
    metrics_concurrency: Annotated[int, Meta(ge=1, le=16, description="Monitor requests in flight")] = 4
    metrics_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two Monitor fetches of a VM's metrics (the window ends at the start of the UTC day: "
        "1 = each VM at most once a day, nothing is missed); 0 = every sync"))] = 1
    advice_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two fetches of a subscription's Advisor cost recommendations (1 = at most once a "
        "UTC day); 0 = every sync"))] = 1
    commitment_days: Annotated[Days, Meta(description="days of reservation utilization")] = 30
    commitment_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two fetches of reservation and savings plan utilization while the commitments are "
        "unchanged; 0 = every sync"))] = 7

    def check(self) -> None:
        from providers.http import emulator_token

        no_userinfo("endpoint", self.endpoint)
        no_userinfo("export_container_url", self.export_container_url)
        no_userinfo("prices_endpoint", self.prices_endpoint)
        if self.cost_source == "export" and self.export_container_url is None:
            raise Bad("export_container_url", 'required when cost_source = "export"')
        for env, field, url in ((TOKEN_ENV, "endpoint", self.endpoint),
                                (STORAGE_KEY_ENV, "export_container_url", self.export_container_url)):
            if env == STORAGE_KEY_ENV and self.cost_source != "export":
                continue
            try:
                emulator_token(env, url, "this source")
            except InputError as exc:
                raise Bad(field, str(exc).removeprefix("source 'this source': ")) from None

    def normalized(self) -> AzureOptions:
        return msgspec.structs.replace(
            self,
            subscriptions=list(dict.fromkeys(s.lower() for s in self.subscriptions)),
            tenant_id=self.tenant_id.lower() if self.tenant_id else None,
            endpoint=self.endpoint.rstrip("/") if self.endpoint else None,
            prices_endpoint=self.prices_endpoint.rstrip("/") if self.prices_endpoint else None,
            export_container_url=self.export_container_url.rstrip("/") if self.export_container_url else None,
            export_path=self.export_path.strip("/") if self.export_path else None,
            steps=[s for s in AZURE_STEPS if s in self.steps],
        )


def load_step(name: str) -> Callable[[SyncContext, AzureSession], int]:
    module, func = STEPS[name]
    fn: Callable[[SyncContext, AzureSession], int] = getattr(
        importlib.import_module(f"{__package__}.{module}"), func)
    return fn


class AzureAdapter(Adapter[AzureOptions]):
    kind: ClassVar[str] = "azure"
    title: ClassVar[str] = ("Azure: Cost Management costs (query or FOCUS exports), VMs, disks, IPs, snapshots, "
                            "Monitor metrics, Advisor, reservations")
    Options = AzureOptions
    steps: ClassVar[tuple[str, ...]] = AZURE_STEPS
    cleanup_providers: ClassVar[tuple[str, ...]] = ("Microsoft",)

    def make_session(self, ctx: SyncContext) -> AzureSession:
        from .session import AzureSession

        return AzureSession(self.options, self.name, ctx.counter)

    def sync(self, ctx: SyncContext) -> None:
        names: list[str] = list(self.options.steps)
        ctx.set_steps(names)
        try:
            az = self.make_session(ctx)
            if not (self.options.cost_source == "export" and names == ["costs"]):
                ctx.progress("getting a token (DefaultAzureCredential)")
                az.check_token()  # (an export-only sync needs no Resource Manager token)
        except FatalSourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - without a token nothing else can run
            raise FatalSourceError(f"cannot start: {one_line(exc)}") from exc
        ctx.detail["subscriptions"] = list(self.options.subscriptions)
        try:
            for name in names:
                ctx.run_step(name, _call, load_step(name), az)
        finally:
            az.close()

    def executor(self, store: Store, protection: ProtectionConfig, **kw: Any) -> Executor:
        from .actions import AzureExecutor

        return AzureExecutor(self.options, protection, source=self.name, **kw)

    @classmethod
    def script_exporter(cls) -> ScriptExporter:
        from .script import AZ_CLI

        return AZ_CLI


def _call(ctx: SyncContext, fn: Callable[[SyncContext, AzureSession], int], az: AzureSession) -> Any:
    return fn(ctx, az)


__all__ = ["AZURE_STEPS", "STEPS", "AzureAdapter", "AzureOptions", "TOKEN_ENV", "load_step"]
