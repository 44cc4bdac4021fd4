"""Cleanup plans for Kubernetes as kubectl commands: the only way costdeck changes a cluster.

No in-app mutation: the OpenCost kind has no executor, only this script export
(`costdeck report recommendations --script opencost`). Every name is checked against the
Kubernetes naming rules (DNS-1123 labels and subdomains) before it becomes an argument, so none can
start with "-" (option injection) or hold shell text; a step with a name that fails is refused in
the script (`false`, which stops it: set -e). The script writer shell-quotes every argument too.
The account check compares the kubectl context with the cluster name costdeck shows.
"""

from __future__ import annotations

import math
import re
from typing import Any

from providers.actions import PlanStep, ScriptExporter

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
KINDS = {"deployment", "statefulset", "replicaset", "daemonset"}
SCALABLE = {"deployment", "statefulset", "replicaset"}


def _ok(*names: Any) -> bool:
    return all(isinstance(n, str) and _NAME.match(n) for n in names)


def _refused(step: PlanStep, why: str) -> list[list[str]]:
    return [["false", f"costdeck refused step {step.resource_id[:80]}: {why}"]]


class Kubectl(ScriptExporter):
    tool = "kubectl (the current context must be the cluster named in each step)"
    provider_name = "Kubernetes"
    account_hint = "kubectl config use-context with the cluster's context"

    def commands(self, step: PlanStep) -> list[list[str]]:
        p = step.params
        ns = str(p.get("namespace"))
        if step.action == "set_requests":
            kind, name = str(p.get("controller_kind")), str(p.get("controller"))
            if not _ok(ns, name) or kind not in KINDS:
                return _refused(step, "not a Kubernetes name")
            req = []
            cpu, mem = p.get("cpu_recommended_per_pod"), p.get("memory_recommended_per_pod_bytes")
            if isinstance(cpu, int | float) and not isinstance(cpu, bool) and cpu > 0:
                req.append(f"cpu={max(1, math.ceil(cpu * 1000))}m")
            if isinstance(mem, int | float) and not isinstance(mem, bool) and mem > 0:
                req.append(f"memory={max(1, math.ceil(mem / 2**20))}Mi")
            if not req:
                return _refused(step, "no recommended request")
            return [["kubectl", "--namespace", ns, "set", "resources", f"{kind}/{name}",
                     f"--requests={','.join(req)}"]]
        if step.action in ("scale_to_zero", "scale_namespace_to_zero"):
            targets = p.get("controllers") or []
            if not _ok(ns) or not isinstance(targets, list):
                return _refused(step, "not a Kubernetes name")
            cmds = []
            for t in targets:
                kind, name = str((t or {}).get("kind")), str((t or {}).get("name"))
                if kind not in SCALABLE or not _ok(name):
                    return _refused(step, "not a scalable Kubernetes workload")
                cmds.append(["kubectl", "--namespace", ns, "scale", f"{kind}/{name}", "--replicas=0"])
            return cmds or _refused(step, "no workload to scale")
        if step.action == "delete_pv":
            name = str(step.resource_name)
            if not _ok(name):
                return _refused(step, "not a Kubernetes name")
            # live re-check: the PV must still be Released (else `kubectl wait` fails and the script stops)
            return [["kubectl", "wait", "--for=jsonpath={.status.phase}=Released", f"persistentvolume/{name}",
                     "--timeout=10s"],
                    ["kubectl", "delete", "persistentvolume", name]]
        return []

    def account_check(self) -> str:
        return "have=$(kubectl config current-context)"


KUBECTL = Kubectl()

__all__ = ["KUBECTL", "Kubectl"]
