"""placeholder"""
from providers.base import StepError, SyncContext

from .client import Gcp


def sync_inventory(ctx: SyncContext, gcp: Gcp) -> int:
    raise StepError("not built yet")
