"""The Google Cloud kind: its options, its sync steps and its cleanup executor.

Steps: costs (the BigQuery billing export, aggregated to daily grain inside BigQuery, see
costs.py), inventory (Compute Engine), metrics (Cloud Monitoring), prices (machine types priced
from the Cloud Billing Catalog), advice (Recommender),
commitments (CUDs), vertex (Vertex AI custom jobs). Each runs through `ctx.run_step`: a 403 on
one API fails that step only (the source ends "partial"); an expired token (401) stops the
source. Every Google API host is replaced by `endpoint` (paths unchanged) for an emulator.

This module is imported to validate the config, so it stays light: httpx and google-auth are
imported when a sync or a cleanup starts.
"""

from __future__ import annotations

import importlib
import os
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from cache import Store
from providers.base import Adapter, CostOptions, SyncContext
from providers.http import is_loopback
from providers.options import Bad, no_userinfo

if TYPE_CHECKING:
    from providers.actions import Executor, ScriptExporter
    from providers.config import ProtectionConfig

    from .client import Gcp

STEPS: dict[str, tuple[str, str]] = {
    "costs": ("costs", "sync_costs"),
    "inventory": ("inventory", "sync_inventory"),
    "metrics": ("metrics", "sync_metrics"),
    "prices": ("pricing", "sync_prices"),
    "advice": ("advice", "sync_advice"),
    "commitments": ("commitments", "sync_commitments"),
    "vertex": ("vertex", "sync_vertex"),
}
Step = Literal["costs", "inventory", "metrics", "prices", "advice", "commitments", "vertex"]
GCP_STEPS: tuple[Step, ...] = typing.get_args(Step)
assert GCP_STEPS == tuple(STEPS)

# A project id: 6-30 lowercase letters, digits and hyphens, starting with a letter.
ProjectId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
                                extra={"expected": 'a project id like "shop-prod"'})]
Table = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_]{1,1024}$",
                            extra={"expected": 'a table "project.dataset.table" (letters, digits, _ and the '
                                               'project\'s hyphens)'})]
LabelKey = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]{0,62}$",
                               extra={"expected": "a label key (lowercase letters, digits, _ and -)"})]
Location = Annotated[str, Meta(pattern=r"^[a-z]+(-[a-z]+)+\d{1,2}(-[a-z])?$",
                               extra={"expected": 'a region or zone like "us-central1" or "us-central1-a"'})]
Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+/?$", extra={"expected": "an http:// or https:// URL "
                                                                   "(scheme and host only)"})]
Days = Annotated[int, Meta(ge=1, le=400)]
DEFAULT_LABELS = ["team", "env", "project", "owner", "cost-center", "app"]


class GcpOptions(CostOptions, kw_only=True):
    """[sources.NAME] kind = "gcp"."""

    sorted_keys: ClassVar[bool] = True
    refused: ClassVar[dict[str, str]] = {
        "credentials": "costdeck uses Application Default Credentials (gcloud auth application-default login, "
                       "or GOOGLE_APPLICATION_CREDENTIALS pointing at a key file); no key in this file",
        "token": "tokens are never written in the config (Application Default Credentials)",
    }

    billing_export_table: Annotated[Table, Meta(description="the BigQuery billing export table "
                                                "(standard gcp_billing_export_v1_* or detailed "
                                                "gcp_billing_export_resource_v1_*)")]
    projects: Annotated[Annotated[list[ProjectId], Meta(min_length=1)] | Literal["all"],
                        Meta(extra={"expected": 'a list of project ids or "all"'},
                             description='inventory, metrics and advice scope; "all" = every project in the '
                                         "export")] = "all"
    query_project: Annotated[ProjectId, Meta(description="project that runs (and pays for) the BigQuery jobs; "
                                             "default: the table's")] | None = None
    endpoint: Annotated[Url, Meta(description="replaces every Google API host, paths unchanged (emulators)")] \
        | None = None
    export: Annotated[Literal["auto", "standard", "detailed"],
                      Meta(description="the export's schema (auto: from the table name)")] = "auto"
    label_keys: Annotated[list[LabelKey], Meta(description="resource label keys kept as cost tags")] = \
        msgspec.field(default_factory=lambda: list(DEFAULT_LABELS))
    location: Annotated[str, Meta(pattern=r"^[A-Za-z0-9-]{2,40}$", extra={"expected": 'a BigQuery location '
                                  'like "US" or "europe-west1"'}, description="the dataset's BigQuery location")] \
        | None = None
    max_bytes_billed: Annotated[int, Meta(ge=10_485_760, description="refuse a query that would bill more bytes "
                                          "(BigQuery maximumBytesBilled)")] | None = None
    steps: Annotated[list[Step], Meta(min_length=1, extra={
        "expected": "a list of steps from " + ", ".join(f'"{s}"' for s in GCP_STEPS)},
        description="the steps to run (default: all)")] = msgspec.field(default_factory=lambda: list(GCP_STEPS))
    metrics_days: Annotated[Days, Meta(description="days of Cloud Monitoring utilization")] = 30
    metrics_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two Cloud Monitoring fetches of a project whose instances are unchanged (the window ends "
        "at the start of the UTC day: 1 = at most once a day, nothing is missed); 0 = every sync"))] = 1
    commitment_days: Annotated[Days, Meta(description="days of CUD utilization from the export")] = 30
    ml_regions: Annotated[list[Location], Meta(min_length=1, description="Vertex AI regions to list custom "
                                               "jobs in")] = msgspec.field(default_factory=lambda: ["us-central1"])
    ml_days: Annotated[Days, Meta(description="days of Vertex AI custom jobs")] = 90
    ml_label: Annotated[LabelKey, Meta(description="the custom-job label whose value ties a job to its billing "
                                       "export rows (billed cost)")] = "costdeck-run"
    max_attempts: Annotated[int, Meta(ge=1, le=20, description="attempts per request (throttling and 5xx "
                                      "retries included)")] = 5
    page_rows: Annotated[int, Meta(ge=10, le=100_000, description="rows per BigQuery result page")] = 10_000

    def check(self) -> None:
        no_userinfo("endpoint", self.endpoint)
        # The emulator token is refused before anything runs (every command validates the config).
        if os.environ.get("COSTDECK_GCP_TOKEN") and not is_loopback(self.endpoint):
            raise Bad("endpoint", f"COSTDECK_GCP_TOKEN is set but the endpoint is "
                                  f"{repr(self.endpoint) if self.endpoint else 'not set'}; the variable is honoured "
                                  f"only with a loopback emulator endpoint (unset it)")
        if self.export == "auto" and not self.billing_export_table.split(".")[-1].startswith("gcp_billing_export"):
            raise Bad("export", 'the table name does not say which export it is: set export = "standard" or '
                                '"detailed"')

    def normalized(self) -> GcpOptions:
        return msgspec.structs.replace(
            self,
            projects=self.projects if self.projects == "all" else list(dict.fromkeys(self.projects)),
            endpoint=self.endpoint.rstrip("/") if self.endpoint else None,
            label_keys=list(dict.fromkeys(self.label_keys)),
            ml_regions=list(dict.fromkeys(self.ml_regions)),
            steps=[s for s in GCP_STEPS if s in self.steps],
        )

    # -- derived ----------------------------------------------------------------------------
    @property
    def detailed(self) -> bool:
        if self.export != "auto":
            return self.export == "detailed"
        return self.billing_export_table.split(".")[-1].startswith("gcp_billing_export_resource_v1")

    @property
    def job_project(self) -> str:
        return self.query_project or self.billing_export_table.split(".", 1)[0]


def load_step(name: str) -> Callable[[SyncContext, Gcp], int]:
    module, func = STEPS[name]
    fn: Callable[[SyncContext, Gcp], int] = getattr(importlib.import_module(f"{__package__}.{module}"), func)
    return fn


class GcpAdapter(Adapter[GcpOptions]):
    kind: ClassVar[str] = "gcp"
    title: ClassVar[str] = ("Google Cloud: BigQuery billing export costs, Compute Engine inventory, Cloud "
                            "Monitoring, Recommender, CUDs, Vertex AI")
    Options = GcpOptions
    steps: ClassVar[tuple[str, ...]] = GCP_STEPS
    cleanup_providers: ClassVar[tuple[str, ...]] = ("Google Cloud",)

    def make_client(self, ctx: SyncContext) -> Gcp:
        from .client import Gcp

        return Gcp(self.options, self.name, ctx.counter)

    def sync(self, ctx: SyncContext) -> None:
        names: list[str] = list(self.options.steps)
        ctx.set_steps(names)
        gcp = self.make_client(ctx)
        try:
            gcp.start()  # the token first: missing credentials stop the source with one line
            for name in names:
                ctx.run_step(name, _call, load_step(name), gcp)
        finally:
            gcp.close()
            if gcp.bytes_processed or gcp.bytes_billed:
                ctx.detail["bigquery"] = gcp.bytes_summary()
                ctx.detail["scanned"] = gcp.bytes_text()

    def executor(self, store: Store, protection: ProtectionConfig, **kw: Any) -> Executor:
        from .actions import GcpExecutor

        return GcpExecutor(self.options, protection, source=self.name, **kw)

    @classmethod
    def script_exporter(cls) -> ScriptExporter:
        from .script import GCLOUD

        return GCLOUD


def _call(ctx: SyncContext, fn: Callable[[SyncContext, Gcp], int], gcp: Gcp) -> Any:
    return fn(ctx, gcp)


__all__ = ["GCP_STEPS", "STEPS", "GcpAdapter", "GcpOptions", "load_step"]
