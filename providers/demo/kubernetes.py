"""The Kubernetes source: an OpenCost-style allocation of eks-prod-use1, a LENS on the AWS bill.

The cluster's nodes are the AWS instances of the eks-prod-use1-node fleet (fleets.py bills them
under AWS) and a GPU node pool added here to the AWS bill and inventory (eks-prod-use1-gpu-NN). Each day, the pods of estate.K8S_WORKLOADS are placed on the
nodes running that day and charged max(request, usage) x hours at the node's OpenCost unit prices
(its on-demand price split into GPU, CPU and RAM parts); what the pods leave of a node's cost is
that node's idle row. Rows go to `k8s_allocations` (Gen.k8s_allocations), never to `costs`: the
AWS bill already holds the nodes, and the Overview stays the bill. The billed cost of a node
differs from OpenCost's on-demand figure where a Savings Plan covers it: the Kubernetes view shows
that gap. Also: the nodes, the persistent volumes (one Released) and the load balancers as
`resources` of provider "Kubernetes".

Draws from its own random.Random (seeded from the demo seed). Gen.rng is advanced exactly as the
previous generator of this module did (`_legacy_draws`), so every other table of the demo is what it
was before the cluster moved out of the cost table.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .catalog import ACCOUNTS, AWS, CATALOG, HOURS_PER_MONTH, N_DAYS
from .core import Gen, Instance, to_nanos
from .estate import (
    K8S_CPU_SHARE,
    K8S_GPU_HOUR,
    K8S_GPU_POOL,
    K8S_LB_HOUR,
    K8S_PV_GIB_MONTH,
    K8S_RELEASED_PV,
    K8S_WORKLOADS,
    Workload,
)

CLUSTER = "eks-prod-use1"
GIB = 2**30
GPUS = {"g4dn.2xlarge": 1}


def _node_name(inst: Instance, k: int) -> str:
    return f"ip-10-0-{16 + k}-{(int(inst.rid[-4:], 16) % 250) + 2}.ec2.internal"


@contextmanager
def _own_rng(g: Gen, seed: int) -> Iterator[None]:
    """Gen's helpers drawing from a private random stream (Gen.rng untouched)."""
    saved = g.rng
    g.rng = random.Random(seed)
    try:
        yield
    finally:
        g.rng = saved


def _legacy_draws(g: Gen) -> None:
    """Advance Gen.rng as the previous version of this module did (10 workloads: a usage draw a day and
    a creation day each; 4 namespaces: a network usage draw a day), keeping the rest of the demo as it was."""
    for _ in range(10):
        for _ in range(N_DAYS):
            g.rng.gauss(1.0, 0.05)
        g.rng.randint(30, 400)
    for _ in range(4 * N_DAYS):
        g.rng.gauss(1.0, 0.08)


def _gpu_pool(g: Gen) -> None:
    """The cluster's GPU node pool as AWS instances: inventory, disks, metrics and on-demand cost rows."""
    from .fleets import add_instance
    from .inventory import disks_for, instance_metrics

    itype, count = K8S_GPU_POOL
    acct = ACCOUNTS["prod"]
    tags = {"team": "ml", "env": "prod", "project": CLUSTER}
    with _own_rng(g, g.seed * 7919 + 3):
        for k in range(count):
            inst = add_instance(g, AWS, acct, "us-east-1", itype, f"{CLUSTER}-gpu-{k + 1:02d}", "always", "busy",
                                "on-demand", -g.rng.randint(60, 300), tags)
            created = g.at(inst.launch_idx, inst.launch_hour)
            vols = disks_for(g, inst, created)
            g.resource(acct, inst.rid, "instance", inst.region, name=inst.name, state=inst.state, created=created,
                       tags=tags, itype=itype, lifecycle=inst.lifecycle,
                       props={"instance_type": itype, "availability_zone": inst.zone, "volumes": vols,
                              "platform": "Linux/UNIX", "eks_nodegroup": f"{CLUSTER}-gpu"})
            instance_metrics(g, inst)
            for i in range(N_DAYS):
                h = inst.hours[i]
                if h > 0:
                    g.cost(i, acct, inst.service, inst.region, h * inst.od_price, rid=inst.rid, rname=inst.name,
                           rtype="instance", tags=tags, qty=h)


def allocation(g: Gen) -> None:
    _legacy_draws(g)
    _gpu_pool(g)
    rng = random.Random(g.seed * 7919 + 11)
    pools = {"node": [x for x in g.insts if x.name.startswith(f"{CLUSTER}-node")],
             "gpu": [x for x in g.insts if x.name.startswith(f"{CLUSTER}-gpu")]}
    nodes = pools["node"] + pools["gpu"]
    names = {id(x): _node_name(x, k) for k, x in enumerate(nodes)}
    unit: dict[int, tuple[float, float, float]] = {}  # node -> (cpu $/core-h, ram $/GiB-h, gpu $/GPU-h)
    for x in nodes:
        _, vcpu, gib, *_ = CATALOG[AWS][x.itype]
        gpus = GPUS.get(x.itype, 0)
        rest = x.od_price - gpus * K8S_GPU_HOUR
        unit[id(x)] = (rest * K8S_CPU_SHARE / vcpu, rest * (1 - K8S_CPU_SHARE) / gib, K8S_GPU_HOUR)
    acct = ACCOUNTS["k8s"]
    for i in range(N_DAYS):
        running = {p: [x for x in xs if x.run_hours[i] > 0] for p, xs in pools.items()}
        used: dict[int, list[float]] = {id(x): [0.0, 0.0, 0.0] for x in nodes}
        for w in K8S_WORKLOADS:
            for pod, node in _placement(w, running):
                _pod_row(g, rng, i, w, pod, node, names[id(node)], unit[id(node)], used[id(node)])
        for x in nodes:
            h = x.run_hours[i]
            if h <= 0:
                continue
            _, vcpu, gib, *_ = CATALOG[AWS][x.itype]
            c, r, gp = unit[id(x)]
            u = used[id(x)]
            idle = (max(0.0, vcpu * c * h - u[0]), max(0.0, gib * r * h - u[1]),
                    max(0.0, GPUS.get(x.itype, 0) * gp * h - u[2]))
            g.k8s_allocations.append(_row(g, i, names[id(x)], "__idle__", "__idle__", "__idle__", "__idle__", 1,
                                          _provider_id(x), h * 60, idle[0], idle[2], idle[1], 0.0, 0.0, 0.0, None,
                                          {}))
    _resources(g, acct, nodes, names, unit)


def _provider_id(x: Instance) -> str:
    return f"aws:///{x.zone}/{x.rid}"


def _placement(w: Workload, running: dict[str, list[Instance]]) -> list[tuple[str, Instance]]:
    """(pod name, node) of a workload on one day: replicas round-robin over its pool, daemonsets on every node."""
    pool = running["node"] + running["gpu"] if w.pool == "all" else running[w.pool]
    if not pool:
        return []
    if w.kind == "daemonset":
        return [(f"{w.name}-{_suffix(w.name, k)}", x) for k, x in enumerate(pool)]
    start = sum(map(ord, w.name)) % len(pool)
    out = []
    for k in range(w.replicas):
        pod = (f"{w.name}-{k}" if w.kind == "statefulset"
               else f"{w.name}-{_suffix(w.name, 0)}-{_suffix(w.name, k + 7)}")
        out.append((pod, pool[(start + k) % len(pool)]))
    return out


def _suffix(name: str, k: int) -> str:
    h = 0
    for ch in f"{name}:{k}":
        h = (h * 131 + ord(ch)) % 36**5
    digits = "0123456789bcdfghjklmnpqrstvwxz"
    out = ""
    for _ in range(5):
        out += digits[h % len(digits)]
        h //= len(digits)
    return out


def _pod_row(g: Gen, rng: random.Random, i: int, w: Workload, pod: str, node: Instance, node_name: str,
             unit: tuple[float, float, float], used: list[float]) -> None:
    h = min(node.run_hours[i], w.hours or 24.0)
    f = g.growth[i] ** 0.5 * rng.uniform(0.8, 1.2)
    cpu_use = w.cpu * min(w.cpu_use * f, 1.6)
    ram_use = w.ram * min(w.ram_use * (0.9 + 0.1 * f), 1.2)
    cpu_alloc, ram_alloc = max(w.cpu, cpu_use), max(w.ram, ram_use)
    cpu_cost, ram_cost, gpu_cost = cpu_alloc * h * unit[0], ram_alloc * h * unit[1], w.gpus * h * unit[2]
    used[0] += cpu_cost
    used[1] += ram_cost
    used[2] += gpu_cost
    pv = w.pv_gib * K8S_PV_GIB_MONTH * 24 / HOURS_PER_MONTH
    lb = K8S_LB_HOUR * 24 / max(1, w.replicas) if w.load_balancer else 0.0
    net = 0.004 * w.cpu * h * f
    labels = {"app": w.name, "team": w.team, "env": "prod", "namespace": w.namespace}
    g.k8s_allocations.append(_row(
        g, i, node_name, w.namespace, w.kind, w.name, pod, 0, _provider_id(node), h * 60, cpu_cost, gpu_cost,
        ram_cost, pv, net, lb, (w.cpu, cpu_use, w.ram * GIB, ram_use * GIB, w.gpus * h, w.pv_gib * GIB), labels))


def _row(g: Gen, i: int, node: str, ns: str, kind: str, ctrl: str, pod: str, idle: int, provider_id: str,
         minutes: float, cpu: float, gpu: float, ram: float, pv: float, net: float, lb: float,
         usage: tuple[float, float, float, float, float, float] | None, labels: dict[str, str]) -> dict[str, Any]:
    parts = [to_nanos(x) for x in (cpu, gpu, ram, pv, net, lb)]
    rec: dict[str, Any] = {
        "source_id": None, "day": g.day_str[i], "cluster": CLUSTER, "node": node, "namespace": ns,
        "controller_kind": kind, "controller": ctrl, "pod": pod, "idle": idle, "provider_id": provider_id,
        "currency": "USD", "minutes": round(minutes, 2), "cpu_cost": parts[0], "gpu_cost": parts[1],
        "ram_cost": parts[2], "pv_cost": parts[3], "network_cost": parts[4], "lb_cost": parts[5],
        "shared_cost": 0, "external_cost": 0, "total_cost": sum(parts), "labels": labels,
    }
    if usage is not None:
        cpu_req, cpu_use, ram_req, ram_use, gpu_h, pv_b = usage
        rec.update({"cpu_core_hours": round(max(cpu_req, cpu_use) * minutes / 60, 4),
                    "cpu_request_avg": cpu_req, "cpu_usage_avg": round(cpu_use, 5),
                    "ram_byte_hours": round(max(ram_req, ram_use) * minutes / 60, 1),
                    "ram_request_avg": ram_req, "ram_usage_avg": round(ram_use, 1), "gpu_hours": gpu_h,
                    "pv_bytes": pv_b, "cpu_efficiency": round(cpu_use / cpu_req, 5) if cpu_req else None,
                    "ram_efficiency": round(ram_use / ram_req, 5) if ram_req else None})
        ce, re_ = rec["cpu_efficiency"] or 0.0, rec["ram_efficiency"] or 0.0
        w = cpu + ram
        rec["total_efficiency"] = round((ce * cpu + re_ * ram) / w, 5) if w > 0 else None
    return rec


def _resources(g: Gen, acct: Any, nodes: list[Instance], names: dict[int, str],
               unit: dict[int, tuple[float, float, float]]) -> None:
    for x in nodes:
        _, vcpu, gib, *_ = CATALOG[AWS][x.itype]
        created = g.at(max(x.launch_idx, -400), x.launch_hour)
        g.resource(acct, f"{CLUSTER}/kubernetes_node/{names[id(x)]}", "kubernetes_node", x.region,
                   name=names[id(x)], state="running" if x.run_hours[-1] > 0 else "stopped", created=created,
                   tags={"node.kubernetes.io/instance-type": x.itype,
                         "eks.amazonaws.com/nodegroup": x.name.rsplit("-", 1)[0]},
                   size=f"{vcpu} vCPU, {gib} GiB", itype=x.itype, lifecycle=x.lifecycle,
                   props={"cluster": CLUSTER, "provider_id": _provider_id(x), "instance_id": x.rid,
                          "gpu_count": GPUS.get(x.itype, 0), "cpu_cores": vcpu, "ram_bytes": gib * GIB,
                          "monthly_cost_nanos": to_nanos(x.od_price * HOURS_PER_MONTH)})
    for w in K8S_WORKLOADS:
        if w.pv_gib:
            for k in range(w.replicas):
                claim = f"data-{w.name}-{k}"
                g.resource(acct, f"{CLUSTER}/volume/pvc-{_suffix(claim, 1)}-{claim}", "volume", "us-east-1",
                           name=f"pvc-{_suffix(claim, 1)}-{claim}", state="bound", created=g.at(-200, 9.0),
                           attached_to=f"{w.namespace}/{claim}", size=f"{w.pv_gib} GiB",
                           props={"cluster": CLUSTER, "size_gib": w.pv_gib, "storage_class": "gp3",
                                  "volume_type": "gp3", "claim": f"{w.namespace}/{claim}",
                                  "monthly_cost_nanos": to_nanos(w.pv_gib * K8S_PV_GIB_MONTH)})
    for ns in sorted({w.namespace for w in K8S_WORKLOADS}):
        g.resource(acct, f"{CLUSTER}/{ns}", "kubernetes_namespace", "us-east-1", name=ns, state="running",
                   created=g.at(-380, 10.0), props={"cluster": CLUSTER, "namespace": ns})
    for w in K8S_WORKLOADS:
        g.resource(acct, f"{CLUSTER}/{w.namespace}/{w.kind}/{w.name}", "kubernetes_workload", "us-east-1",
                   name=f"{w.namespace}/{w.name}", state="running", created=g.at(-300, 10.0),
                   tags={"app": w.name, "team": w.team, "env": "prod"},
                   props={"cluster": CLUSTER, "namespace": w.namespace, "controller_kind": w.kind,
                          "controller": w.name, "replicas": w.replicas, "cpu_request_cores": w.cpu,
                          "ram_request_gib": w.ram, "gpus": w.gpus})
    name, gib, days_ago = K8S_RELEASED_PV
    g.resource(acct, f"{CLUSTER}/volume/{name}", "volume", "us-east-1", name=name, state="released",
               created=g.at(-300, 9.0), size=f"{gib} GiB",
               props={"cluster": CLUSTER, "size_gib": gib, "storage_class": "gp3", "volume_type": "gp3",
                      "claim": None, "kubernetes_kind": "PersistentVolume", "reclaim_policy": "Retain",
                      "former_claim": "search/data-opensearch-0",
                      "detached_at": g.iso(g.at(N_DAYS - 1 - days_ago, 16.0)),
                      "monthly_cost_nanos": to_nanos(gib * K8S_PV_GIB_MONTH)})
    for w in K8S_WORKLOADS:
        if w.load_balancer:
            g.resource(acct, f"{CLUSTER}/load_balancer/{w.namespace}-{w.name}", "load_balancer", "us-east-1",
                       name=f"{w.namespace}/{w.name}", state="running", created=g.at(-250, 11.0),
                       props={"cluster": CLUSTER, "monthly_cost_nanos": to_nanos(K8S_LB_HOUR * HOURS_PER_MONTH)})
