"""The Kubernetes source: an OpenCost-style allocation of eks-prod-use1's node spend.

Namespaces are sub accounts, workloads (estate.K8S_WORKLOADS) are resources; each is charged its
CPU, memory, GPU, persistent-volume and load-balancer requests at estate's K8S_* unit prices, and
each namespace its network. These costs double-count part of the AWS EC2 nodes (the
eks-prod-use1-node fleet), as real allocations do; the source options say so.
"""

from __future__ import annotations

from .catalog import ACCOUNTS, HOURS_PER_MONTH, N_DAYS
from .core import Gen
from .estate import K8S_CPU_HOUR, K8S_GPU_HOUR, K8S_PV_GIB_MONTH, K8S_RAM_GIB_HOUR, K8S_WORKLOADS, Workload


def allocation(g: Gen) -> None:
    for w in K8S_WORKLOADS:
        _workload(g, w)
    for ns in ("checkout", "search", "ml-serving", "platform"):
        acct = ACCOUNTS[f"k8s-{ns}"]
        for i in range(N_DAYS):
            g.cost(i, acct, "Kubernetes Network", "us-east-1", 3.5 * g.usage(i, 0.3, 0.08),
                   tags={"namespace": ns, "env": "prod"})


def _workload(g: Gen, w: Workload) -> None:
    ns, name, cpu, ram, gpu, pv = w.namespace, w.name, w.cpu, w.ram, w.gpus, w.pv_gib
    acct = ACCOUNTS[f"k8s-{ns}"]
    rid = f"eks-prod-use1/{ns}/{w.kind}/{name}"
    tg = {"team": w.team, "env": "prod", "project": w.project, "namespace": ns}
    for i in range(N_DAYS):
        f = g.usage(i, 0.35 if w.autoscaled else 0.0, 0.05 if w.autoscaled else 0.015)
        g.cost(i, acct, "Kubernetes CPU", "us-east-1", cpu * f * 24 * K8S_CPU_HOUR, rid=rid, rname=name,
               rtype="workload", tags=tg, qty=round(cpu * f * 24, 3))
        g.cost(i, acct, "Kubernetes Memory", "us-east-1", ram * f * 24 * K8S_RAM_GIB_HOUR, rid=rid, rname=name,
               rtype="workload", tags=tg, qty=round(ram * f * 24, 3))
        if gpu:
            g.cost(i, acct, "Kubernetes GPU", "us-east-1", gpu * 24 * K8S_GPU_HOUR, rid=rid, rname=name,
                   rtype="workload", tags=tg, qty=gpu * 24.0)
        if pv:
            g.cost(i, acct, "Kubernetes Persistent Volume", "us-east-1", pv * K8S_PV_GIB_MONTH * 24 / HOURS_PER_MONTH
                   * g.growth[i] ** 0.5, rid=rid, rname=name, rtype="workload", tags=tg)
        if w.load_balancer:
            g.cost(i, acct, "Kubernetes Load Balancer", "us-east-1", 0.025 * 24, rid=rid, rname=name,
                   rtype="workload", tags=tg, qty=24.0)
    g.resource(acct, rid, "workload", "us-east-1", name=name, state="running",
               created=g.at(-g.rng.randint(30, 400), 10), tags=tg,
               props={"cluster": "eks-prod-use1", "namespace": ns, "controller_kind": w.kind,
                      "cpu_request_cores": cpu, "ram_request_gib": ram, "gpus": gpu, "pv_gib": pv,
                      "allocation": "opencost"})
