"""The AWS adapter: learns the account (STS), then runs its steps in order.

Steps: costs (Cost Explorer or Athena, see costs.py), inventory, metrics, commitments,
sagemaker, prices, rightsizing (the step modules of this package). Each step runs through
`ctx.run_step`, so access denied on one API fails that step only and the source ends
"partial"; expired or missing credentials stop the source ("failed"). A source may limit
its steps with `steps = [...]` in the config.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar

from providers.base import Adapter, FatalSourceError, SyncContext, one_line

from . import errors
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


def load_step(name: str) -> Callable[[SyncContext, AwsSession], int] | None:
    """The step function, or None when its module or function is not in this build."""
    module, func = STEPS[name]
    try:
        mod = importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.{module}":
            return None
        raise
    fn = getattr(mod, func, None)
    return fn if callable(fn) else None


class AwsAdapter(Adapter):
    kind: ClassVar[str] = "aws"

    def make_session(self, ctx: SyncContext) -> AwsSession:
        return AwsSession(self.options, ctx.counter)

    def translate_error(self, exc: BaseException) -> BaseException:
        return errors.translate(exc, self.options.get("profile"))

    def sync(self, ctx: SyncContext) -> None:
        names = [s for s in (self.options.get("steps") or list(STEPS)) if s in STEPS]
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
            fn = load_step(name)
            if fn is None:
                ctx.skip_step(name, "not available in this build")
                continue
            ctx.run_step(name, _call, fn, aws, translate=self.translate_error)


def _call(ctx: SyncContext, fn: Callable[[SyncContext, AwsSession], int], aws: AwsSession) -> Any:
    return fn(ctx, aws)


__all__ = ["STEPS", "AwsAdapter", "load_step"]
