"""Cleanup plans as Azure CLI (`az`) commands (the script export of analysis/cleanup.py).

Every value is one argv element, passed in the `--option=value` form (a value starting with "-"
cannot become an option) and shell-quoted by the script writer. `az` waits for each long-running
operation to finish (no --no-wait), so a step's next command starts when the previous one is done.
"""

from __future__ import annotations

from providers.actions import PlanStep, ScriptExporter


class AzCli(ScriptExporter):
    tool = "the Azure CLI (az)"
    provider_name = "Microsoft"
    account_hint = "az login with an identity that can use that subscription"

    def commands(self, step: PlanStep) -> list[list[str]]:
        rid = step.resource_id
        if step.action == "deallocate_instance":
            return [["az", "vm", "deallocate", f"--ids={rid}"]]
        if step.action == "delete_volume":
            cmds = []
            if step.snapshot_first:
                parts = rid.strip("/").split("/")
                sub = parts[1] if len(parts) > 1 else ""
                rg = parts[3] if len(parts) > 3 else ""
                name = f"{parts[-1]}-costdeck-snapshot"[:80]
                cmds.append(["az", "snapshot", "create", f"--subscription={sub}", f"--resource-group={rg}",
                             f"--name={name}", f"--source={rid}", "--tags", "costdeck:created-by=cleanup",
                             f"costdeck:source-volume={rid}"])
            cmds.append(["az", "disk", "delete", f"--ids={rid}", "--yes"])
            return cmds
        if step.action == "release_address":
            return [["az", "network", "public-ip", "delete", f"--ids={rid}"]]
        if step.action == "delete_snapshot":
            return [["az", "snapshot", "delete", f"--ids={rid}"]]
        return []

    def account_check(self) -> str:
        # `have` is the subscription when the login can use it (the resource ids name their subscription)
        return 'have=$(az account show --subscription="$want" --query id --output tsv 2>/dev/null || true)'


AZ_CLI = AzCli()

__all__ = ["AZ_CLI", "AzCli"]
