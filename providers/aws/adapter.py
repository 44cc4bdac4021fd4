"""The AWS kind: its options, its sync steps and its cleanup executor.

Steps: costs (Cost Explorer or Athena, see costs.py), inventory, metrics, commitments,
sagemaker, prices, rightsizing (the step modules of this package). Each step runs through
`ctx.run_step`, so access denied on one API fails that step only and the source ends
"partial"; expired or missing credentials stop the source ("failed"). A source may limit
its steps with `steps = [...]` in the config.

This module is imported to validate the config, so it stays light: boto3 and the step modules
are imported when a sync or a cleanup starts.
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
from providers.options import Bad, no_userinfo

if TYPE_CHECKING:
    from providers.actions import Executor, ScriptExporter
    from providers.config import ProtectionConfig

    from .session import AwsSession

# step name -> (module in this package, function). All share the signature
# `fn(ctx: SyncContext, aws: AwsSession) -> int` (rows written).
STEPS: dict[str, tuple[str, str]] = {
    "costs": ("costs", "sync_costs"),
    "inventory": ("inventory", "sync_inventory"),
    "metrics": ("metrics", "sync_metrics"),
    "commitments": ("commitments", "sync_commitments"),
    "sagemaker": ("ml", "sync_sagemaker"),
    "prices": ("pricing", "sync_prices"),
    "rightsizing": ("rightsizing", "sync_rightsizing"),
}
Step = Literal["costs", "inventory", "metrics", "commitments", "sagemaker", "prices", "rightsizing"]
AWS_STEPS: tuple[Step, ...] = typing.get_args(Step)
assert AWS_STEPS == tuple(STEPS)

Region = Annotated[str, Meta(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")]
Ident = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                            extra={"expected": "an SQL identifier (letters, digits, _)"})]
Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/\S*)?$", extra={"expected": "an http:// or https:// URL"})]
Days = Annotated[int, Meta(ge=1, le=400)]


class AwsOptions(CostOptions):
    """[sources.NAME] kind = "aws"."""

    sorted_keys: ClassVar[bool] = True
    refused: ClassVar[dict[str, str]] = {
        "role_arn": "assume a role through an AWS profile (role_arn and source_profile in ~/.aws/config), "
                    'then set profile = "NAME" here',
    }

    profile: Annotated[str, Meta(min_length=1, extra={"expected": "an AWS profile name"},
                                 description="profile in ~/.aws/config (SSO, assume-role); default chain otherwise")] \
        | None = None
    region: Annotated[Region, Meta(extra={"expected": 'a region name like "us-east-1"'},
                                   description="default region (STS, Athena); else the profile's")] | None = None
    regions: Annotated[Annotated[list[Region], Meta(min_length=1)] | Literal["all"],
                       Meta(extra={"expected": 'a list of region names or "all"'},
                            description="regions to read inventory and metrics from")] = "all"
    cost_source: Annotated[Literal["cost-explorer", "athena"],
                           Meta(description="Cost Explorer, or a CUR 2.0 / FOCUS export aggregated in Athena")] \
        = "cost-explorer"
    athena_database: Annotated[Ident, Meta(description="Athena database (cost_source = athena)")] | None = None
    athena_table: Annotated[Ident, Meta(description="Athena table (cost_source = athena)")] | None = None
    athena_workgroup: Annotated[str, Meta(min_length=1, extra={"expected": "an Athena workgroup name"},
                                          description="Athena workgroup")] | None = None
    athena_output_location: Annotated[str, Meta(pattern=r"^s3://[^\s/]+(/\S*)?$",
                                                extra={"expected": "an s3:// URL"},
                                                description="where Athena writes results")] | None = None
    athena_schema: Annotated[Literal["cur2", "focus"], Meta(description="the export's schema")] = "cur2"
    endpoint_url: Annotated[Url, Meta(description="send every request here (an emulator)")] | None = None
    max_attempts: Annotated[int, Meta(ge=1, le=20, description="attempts per request (throttling and 5xx "
                                      "retries included)")] = 5
    steps: Annotated[list[Step], Meta(min_length=1, extra={
        "expected": "a list of steps from " + ", ".join(f'"{s}"' for s in AWS_STEPS)},
        description="the steps to run (default: all)")] = msgspec.field(default_factory=lambda: list(AWS_STEPS))
    metrics_days: Annotated[Days, Meta(description="days of CloudWatch metrics per instance")] = 30
    metrics_p99: Annotated[bool, Meta(description="also fetch the CPU p99 (one more query per instance)")] = True
    commitment_days: Annotated[Days, Meta(description="days of RI/SP utilization and coverage")] = 30
    late_days: Annotated[int, Meta(ge=0, le=31, description="recent days of commitment figures fetched again")] = 3
    sp_details: Annotated[bool, Meta(description="per-day Savings Plan utilization details")] = True
    commitment_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two fetches of RI/SP utilization and coverage (billed) while the commitments are "
        "unchanged; 0 = every sync"))] = 7
    rightsizing_refresh_days: Annotated[int, Meta(ge=0, le=31, description=(
        "days between two fetches of Cost Explorer rightsizing advice (billed); 1 = at most once a UTC day, "
        "0 = every sync"))] = 1
    ml_days: Annotated[Days, Meta(description="days of SageMaker training jobs")] = 90
    price_max_age_days: Annotated[Days, Meta(description="refresh on-demand prices older than this")] = 7
    page_size: Annotated[int, Meta(ge=5, le=1000, description="EC2 describe page size (default: the API's)")] \
        | None = None

    def check(self) -> None:
        no_userinfo("endpoint_url", self.endpoint_url)
        if self.cost_source == "athena":
            for need in ("athena_database", "athena_table"):
                if getattr(self, need) is None:
                    raise Bad(need, 'required when cost_source = "athena"')
            if self.athena_output_location is None and self.athena_workgroup is None:
                raise Bad("athena_output_location",
                          'required when cost_source = "athena" (or name an athena_workgroup that has one)')

    def normalized(self) -> AwsOptions:
        return msgspec.structs.replace(
            self,
            profile=self.profile.strip() if self.profile else None,
            athena_workgroup=self.athena_workgroup.strip() if self.athena_workgroup else None,
            regions=self.regions if self.regions == "all" else list(dict.fromkeys(self.regions)),
            endpoint_url=self.endpoint_url.rstrip("/") if self.endpoint_url else None,
            steps=[s for s in AWS_STEPS if s in self.steps],
        )


def load_step(name: str) -> Callable[[SyncContext, AwsSession], int]:
    """The step function (its module is imported on first use)."""
    module, func = STEPS[name]
    fn: Callable[[SyncContext, AwsSession], int] = getattr(importlib.import_module(f"{__package__}.{module}"), func)
    return fn


class AwsAdapter(Adapter[AwsOptions]):
    kind: ClassVar[str] = "aws"
    title: ClassVar[str] = ("AWS: Cost Explorer or Athena (CUR 2.0 / FOCUS) costs, EC2 inventory, CloudWatch, "
                            "RI/SP, SageMaker, prices")
    Options = AwsOptions
    steps: ClassVar[tuple[str, ...]] = AWS_STEPS
    cleanup_providers: ClassVar[tuple[str, ...]] = ("AWS",)

    def make_session(self, ctx: SyncContext) -> AwsSession:
        from .session import AwsSession

        return AwsSession(self.options, ctx.counter)

    def translate_error(self, exc: BaseException) -> BaseException:
        from . import errors

        return errors.translate(exc, self.options.profile)

    def sync(self, ctx: SyncContext) -> None:
        names: list[str] = list(self.options.steps)
        ctx.set_steps(names)
        try:
            aws = self.make_session(ctx)
            ctx.progress("checking credentials (STS GetCallerIdentity)")
            ctx.detail["account_id"] = aws.account_id
        except Exception as exc:  # noqa: BLE001 - without an identity nothing else can run
            err = self.translate_error(exc)
            if isinstance(err, FatalSourceError):
                raise err from exc
            raise FatalSourceError(f"cannot start: {one_line(err)}") from exc
        for name in names:
            ctx.run_step(name, _call, load_step(name), aws, translate=self.translate_error)

    def executor(self, store: Store, protection: ProtectionConfig, **kw: Any) -> Executor:
        from .actions import AwsExecutor

        return AwsExecutor(self.options, protection, **kw)

    @classmethod
    def script_exporter(cls) -> ScriptExporter:
        from .script import AWS_CLI

        return AWS_CLI


def _call(ctx: SyncContext, fn: Callable[[SyncContext, AwsSession], int], aws: AwsSession) -> Any:
    return fn(ctx, aws)


__all__ = ["AWS_STEPS", "STEPS", "AwsAdapter", "AwsOptions", "load_step"]
