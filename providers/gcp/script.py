"""Cleanup plans as gcloud commands (the script export of analysis/cleanup.py: `costdeck report
recommendations --script gcp`).

Each step's resource id is parsed with the executor's strict pattern (Compute names only: lowercase
letters, digits and hyphens); a step whose id does not parse becomes a `false` command (it acts on
nothing and, the script stopping at the first error, stops the run there). Every value is also shell-quoted by the
script writer. gcloud waits for each operation before returning, so a step is done when its
command returns; `--quiet` skips gcloud's own prompt (the script is the reviewed plan).
"""

from __future__ import annotations

from datetime import UTC, datetime

from providers.actions import PlanStep, ScriptExporter, StepFailed

from .actions import parse_id, snapshot_name


class Gcloud(ScriptExporter):
    tool = "the Google Cloud CLI (gcloud)"
    provider_name = "Google Cloud"
    account_hint = "the project is not visible to these credentials: gcloud auth login, or another account"

    def commands(self, step: PlanStep) -> list[list[str]]:
        try:
            p = parse_id(step.resource_id, step.action)
        except StepFailed:
            return [["false", "costdeck: not a Compute Engine resource id, step left out"]]
        proj = ["--project", p["project"]]
        where = [f"--{p['scope'][:-1]}", p["where"]] if p.get("scope") else []
        name = p["name"]
        if step.action == "delete_volume":
            cmds = []
            if step.snapshot_first:
                cmds.append(["gcloud", "compute", "disks", "snapshot", name, *where, *proj,
                             "--snapshot-names", snapshot_name(name, datetime.now(UTC)),
                             "--labels", "costdeck-created-by=cleanup"])
            cmds.append(["gcloud", "compute", "disks", "delete", name, *where, *proj, "--quiet"])
            return cmds
        if step.action == "release_address":
            return [["gcloud", "compute", "addresses", "delete", name, *where, *proj, "--quiet"]]
        if step.action == "delete_snapshot":
            return [["gcloud", "compute", "snapshots", "delete", name, *proj, "--quiet"]]
        if step.action == "deregister_image":
            return [["gcloud", "compute", "images", "delete", name, *proj, "--quiet"]]
        if step.action == "stop_instance":
            return [["gcloud", "compute", "instances", "stop", name, *where, *proj]]
        return []

    def account_check(self) -> str:
        # the "account" of a GCP step is its project: the credentials must be able to read it
        return "have=$(gcloud projects describe \"$want\" --format='value(projectId)' 2>/dev/null)"


GCLOUD = Gcloud()

__all__ = ["GCLOUD", "Gcloud"]
