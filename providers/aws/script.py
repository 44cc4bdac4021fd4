"""Cleanup plans as AWS CLI commands (the script export of analysis/cleanup.py)."""

from __future__ import annotations

import json

from providers.actions import PlanStep, ScriptExporter


def arn_name(arn: str) -> str | None:
    """The name at the end of a SageMaker ARN (arn:aws:sagemaker:R:A:endpoint/NAME -> NAME)."""
    return arn.rsplit("/", 1)[1] if arn.startswith("arn:") and "/" in arn else None


class AwsCli(ScriptExporter):
    tool = "the AWS CLI"
    provider_name = "AWS"
    account_hint = "set AWS_PROFILE"

    def commands(self, step: PlanStep) -> list[list[str]]:
        r = ["--region", step.region_id] if step.region_id else []
        rid = step.resource_id
        if step.action == "delete_volume":
            cmds = []
            if step.snapshot_first:
                tags = [{"ResourceType": "snapshot", "Tags": [{"Key": "costdeck:created-by", "Value": "cleanup"},
                                                               {"Key": "costdeck:source-volume", "Value": rid}]}]
                cmds.append(["aws", "ec2", "create-snapshot", *r, "--volume-id", rid,
                             "--description", f"costdeck: snapshot of {rid} before deleting it",
                             "--tag-specifications", json.dumps(tags, separators=(",", ":"))])
                cmds.append(["aws", "ec2", "wait", "snapshot-completed", *r,
                             "--filters", f"Name=volume-id,Values={rid}"])
            cmds.append(["aws", "ec2", "delete-volume", *r, "--volume-id", rid])
            return cmds
        if step.action == "release_address":
            flag = "--allocation-id" if rid.startswith("eipalloc-") else "--public-ip"
            return [["aws", "ec2", "release-address", *r, flag, rid]]
        if step.action == "delete_snapshot":
            return [["aws", "ec2", "delete-snapshot", *r, "--snapshot-id", rid]]
        if step.action == "deregister_image":
            return [["aws", "ec2", "deregister-image", *r, "--image-id", rid],
                    *[["aws", "ec2", "delete-snapshot", *r, "--snapshot-id", s] for s in step.snapshot_ids]]
        if step.action == "stop_instance":
            return [["aws", "ec2", "stop-instances", *r, "--instance-ids", rid]]
        name = arn_name(rid) or step.resource_name or rid
        if step.action == "delete_endpoint":  # the endpoint configuration and the model are kept
            return [["aws", "sagemaker", "delete-endpoint", *r, "--endpoint-name", name]]
        if step.action == "stop_notebook":
            return [["aws", "sagemaker", "stop-notebook-instance", *r, "--notebook-instance-name", name]]
        if step.action == "delete_studio_app":
            p = step.params
            owner = (["--space-name", str(p["space"])] if p.get("space")
                     else ["--user-profile-name", str(p.get("user_profile") or "")])
            return [["aws", "sagemaker", "delete-app", *r, "--domain-id", str(p.get("domain_id") or ""), *owner,
                     "--app-type", str(p.get("app_type") or ""), "--app-name", str(p.get("app_name") or "")]]
        return []

    def account_check(self) -> str:
        return "have=$(aws sts get-caller-identity --query Account --output text)"


AWS_CLI = AwsCli()

__all__ = ["AWS_CLI", "AwsCli"]
