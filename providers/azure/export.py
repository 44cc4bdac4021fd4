"""cost_source = "export": FOCUS cost exports read from a storage container (see sync_export)."""

from __future__ import annotations

from providers.base import StepError, SyncContext

from .session import AzureSession


def sync_export(ctx: SyncContext, az: AzureSession) -> int:
    raise StepError('cost_source = "export" is not built yet')
