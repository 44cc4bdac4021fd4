"""A loopback fake of the OpenCost API that COMPUTES its answers from a seeded cluster.

Shapes from opencost/opencost (core/pkg/opencost/allocation_json.go, asset_json.go, window.go;
pkg/costmodel/router.go and handlers.go): GET /allocation and /allocation/compute answer
{"code": 200, "data": [{"<aggregate key>": Allocation, ...} per step]}; GET /assets answers
{"code": 200, "data": {"<key>": Asset, ...}}. Floats are rounded to 5 decimals like OpenCost's.

The dataset: nodes with hourly CPU/RAM/GPU prices, pods on them with requests, usage (a seeded
daily factor) and the hours they ran each day. Per pod and day: cost of each resource =
max(request, usage) x hours x the node's unit price; a node's idle = its cost minus what its pods
were allocated. Aggregation by any comma list of properties, accumulate, includeIdle and idleByNode
are computed, so a wrong query gives wrong numbers.

Faults (set on `fake.faults`): "status" a list of HTTP codes answered before real answers; "delay_s"
sleep before answering (timeouts); "malformed" the day (ISO) on which one entry's cpuCost is a
string; "empty_days" days with no data (an empty set).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GIB = 2**30


@dataclass
class Node:
    name: str
    instance_type: str
    provider_id: str
    cpu: float
    ram_gib: float
    gpus: int
    cpu_hour: float
    ram_gib_hour: float
    gpu_hour: float = 0.0


@dataclass
class Pod:
    namespace: str
    controller_kind: str
    controller: str
    name: str
    node: str
    cpu_req: float
    ram_req_gib: float
    cpu_use: float  # typical usage, cores
    ram_use_gib: float
    gpus: int = 0
    pv_gib: float = 0.0
    lb: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    days: tuple[int, int] | None = None  # (first, last) day index it runs; None = every day


PV_GIB_HOUR = 0.04 / 730
LB_HOUR = 0.025
NET_PER_POD_DAY = 0.013


class Cluster:
    """A seeded cluster over days [start, start + n_days)."""

    def __init__(self, start: date, n_days: int, nodes: list[Node], pods: list[Pod], seed: int = 3,
                 disks: list[dict[str, Any]] | None = None) -> None:
        self.start, self.n_days, self.nodes, self.pods = start, n_days, {n.name: n for n in nodes}, pods
        self.disks = disks or []
        self.by_node: dict[str, list[Pod]] = {}
        for p in pods:
            self.by_node.setdefault(p.node, []).append(p)
        rng = random.Random(seed)
        # usage factor per pod and day, and hours run per day (a few pods run part of a day)
        self.factor = {(p.name, d): rng.uniform(0.6, 1.4) for p in pods for d in range(n_days)}
        self.hours = {(p.name, d): (24.0 if rng.random() > 0.1 else rng.choice((6.0, 12.0, 18.0)))
                      for p in pods for d in range(n_days)}

    def day_index(self, d: date) -> int:
        return (d - self.start).days

    def pod_alloc(self, p: Pod, d: date) -> dict[str, Any] | None:
        i = self.day_index(d)
        if not (0 <= i < self.n_days) or (p.days and not (p.days[0] <= i <= p.days[1])):
            return None
        n = self.nodes[p.node]
        h = self.hours[(p.name, i)]
        f = self.factor[(p.name, i)]
        cpu_use, ram_use = p.cpu_use * f, p.ram_use_gib * f * GIB
        cpu_alloc, ram_alloc = max(p.cpu_req, cpu_use), max(p.ram_req_gib * GIB, ram_use)
        cpu_cost = cpu_alloc * h * n.cpu_hour
        ram_cost = ram_alloc / GIB * h * n.ram_gib_hour
        gpu_cost = p.gpus * h * n.gpu_hour
        pv_cost = p.pv_gib * h * PV_GIB_HOUR
        lb_cost = LB_HOUR * h if p.lb else 0.0
        net = NET_PER_POD_DAY * h / 24
        labels = dict(p.labels)
        return {
            "props": {"cluster": "cluster-one", "node": p.node, "namespace": p.namespace,
                      "controllerKind": p.controller_kind, "controller": p.controller, "pod": p.name,
                      "providerID": n.provider_id, "labels": labels,
                      "namespaceLabels": {"kubernetes.io/metadata.name": p.namespace}},
            "minutes": h * 60, "cpuCoreHours": cpu_alloc * h, "cpuCoreRequestAverage": p.cpu_req,
            "cpuCoreUsageAverage": cpu_use, "cpuCost": cpu_cost, "gpuHours": p.gpus * h, "gpuCount": p.gpus,
            "gpuCost": gpu_cost, "ramByteHours": ram_alloc * h, "ramByteRequestAverage": p.ram_req_gib * GIB,
            "ramByteUsageAverage": ram_use, "ramBytes": ram_alloc, "cpuCores": cpu_alloc, "ramCost": ram_cost,
            "pvBytes": p.pv_gib * GIB, "pvByteHours": p.pv_gib * GIB * h, "pvCost": pv_cost,
            "networkCost": net, "loadBalancerCost": lb_cost, "sharedCost": 0.0, "externalCost": 0.0,
        }

    def node_cost(self, n: Node, hours: float = 24.0) -> dict[str, float]:
        return {"cpuCost": n.cpu * n.cpu_hour * hours, "ramCost": n.ram_gib * n.ram_gib_hour * hours,
                "gpuCost": n.gpus * n.gpu_hour * hours}

    def idle_allocs(self, d: date) -> list[dict[str, Any]]:
        """One idle allocation per node: node cost minus what its pods were allocated that day."""
        if not (0 <= self.day_index(d) < self.n_days):
            return []
        out = []
        for n in self.nodes.values():
            nc = self.node_cost(n)
            used = {"cpuCost": 0.0, "ramCost": 0.0, "gpuCost": 0.0}
            for p in self.by_node.get(n.name, []):
                if (a := self.pod_alloc(p, d)):
                    for k in used:
                        used[k] += a[k]
            idle = {k: max(0.0, nc[k] - used[k]) for k in nc}
            out.append({"props": {"cluster": "cluster-one", "node": n.name, "providerID": n.provider_id},
                        "minutes": 1440.0, **idle, "networkCost": 0.0, "loadBalancerCost": 0.0, "pvCost": 0.0,
                        "sharedCost": 0.0, "externalCost": 0.0, "idle": True})
        return out

    # -- the API ---------------------------------------------------------------------------
    def allocation(self, start: date, end: date, aggregate: list[str], accumulate: bool, include_idle: bool,
                   idle_by_node: bool, malformed: str | None = None, empty: set[str] | None = None,
                   ) -> list[dict[str, Any]]:
        sets: list[list[tuple[date, dict[str, Any]]]] = []
        d = start
        while d < end:
            raw = [] if (empty and d.isoformat() in empty) else [a for p in self.pods if (a := self.pod_alloc(p, d))]
            if raw and include_idle:
                raw += self.idle_allocs(d)
            sets.append([(d, a) for a in raw])
            d += timedelta(days=1)
        if accumulate:
            sets = [[x for s in sets for x in s]]
        out = []
        for s in sets:
            if not s:
                out.append({})
                continue
            s_start = min(x[0] for x in s)
            s_end = max(x[0] for x in s) + timedelta(days=1)
            groups: dict[str, list[dict[str, Any]]] = {}
            for _, a in s:
                if a.get("idle"):
                    key = f"{a['props']['node']}/__idle__" if idle_by_node else "__idle__"
                else:
                    key = "/".join(str(a["props"].get(k) or "__unallocated__") for k in aggregate)
                groups.setdefault(key, []).append(a)
            out.append({k: self._json(k, v, s_start, s_end, aggregate) for k, v in groups.items()})
            if malformed and out[-1] and s_start.isoformat() == malformed:
                first = next(iter(out[-1]))
                out[-1][first]["cpuCost"] = "12.5 dollars"
        return out

    @staticmethod
    def _json(key: str, allocs: list[dict[str, Any]], start: date, end: date, aggregate: list[str]) -> dict[str, Any]:
        def s(k: str) -> float:
            return sum(a.get(k, 0.0) for a in allocs)

        idle = "__idle__" in key
        props: dict[str, Any] = {}
        for k in ("cluster", "node", "namespace", "controllerKind", "controller", "pod", "providerID"):
            vals = {a["props"].get(k) for a in allocs}
            if len(vals) == 1 and None not in vals:
                props[k] = vals.pop()
        if not idle:
            common = None
            for a in allocs:
                lab = set(a["props"]["labels"].items())
                common = lab if common is None else common & lab
            props["labels"] = dict(sorted(common or ()))
            ns = {a["props"]["namespace"] for a in allocs}
            if len(ns) == 1:
                props["namespaceLabels"] = {"kubernetes.io/metadata.name": ns.pop()}
        minutes = max(a["minutes"] for a in allocs)
        hours = minutes / 60 or 1.0
        cpu_req = sum(a.get("cpuCoreRequestAverage", 0.0) * a["minutes"] for a in allocs) / minutes
        cpu_use = sum(a.get("cpuCoreUsageAverage", 0.0) * a["minutes"] for a in allocs) / minutes
        ram_req = sum(a.get("ramByteRequestAverage", 0.0) * a["minutes"] for a in allocs) / minutes
        ram_use = sum(a.get("ramByteUsageAverage", 0.0) * a["minutes"] for a in allocs) / minutes
        cost = {k: s(k) for k in ("cpuCost", "gpuCost", "ramCost", "pvCost", "networkCost", "loadBalancerCost",
                                  "sharedCost", "externalCost")}
        total = sum(cost.values())
        cpu_eff = (cpu_use / cpu_req) if cpu_req else (0.0 if not idle else None)
        ram_eff = (ram_use / ram_req) if ram_req else (0.0 if not idle else None)
        tot_eff = None
        if not idle and (cost["cpuCost"] + cost["ramCost"]) > 0 and cpu_eff is not None and ram_eff is not None:
            tot_eff = (cpu_eff * cost["cpuCost"] + ram_eff * cost["ramCost"]) / (cost["cpuCost"] + cost["ramCost"])
        iso = "%Y-%m-%dT%H:%M:%SZ"
        st = datetime(start.year, start.month, start.day, tzinfo=UTC)
        en = datetime(end.year, end.month, end.day, tzinfo=UTC)
        j: dict[str, Any] = {
            "name": key, "properties": props, "window": {"start": st.strftime(iso), "end": en.strftime(iso)},
            "start": st.strftime(iso), "end": en.strftime(iso), "minutes": minutes,
            "cpuCores": s("cpuCoreHours") / hours, "cpuCoreRequestAverage": cpu_req, "cpuCoreUsageAverage": cpu_use,
            "cpuCoreHours": s("cpuCoreHours"), "cpuCost": cost["cpuCost"], "cpuCostAdjustment": 0.0,
            "cpuEfficiency": cpu_eff, "gpuCount": s("gpuCount"), "gpuHours": s("gpuHours"),
            "gpuCost": cost["gpuCost"], "gpuCostAdjustment": 0.0, "networkTransferBytes": 0.0,
            "networkReceiveBytes": 0.0, "networkCost": cost["networkCost"], "networkCostAdjustment": 0.0,
            "loadBalancerCost": cost["loadBalancerCost"], "loadBalancerCostAdjustment": 0.0,
            "pvBytes": s("pvBytes"), "pvByteHours": s("pvByteHours"), "pvCost": cost["pvCost"],
            "pvCostAdjustment": 0.0, "ramBytes": s("ramByteHours") / hours, "ramByteRequestAverage": ram_req,
            "ramByteUsageAverage": ram_use, "ramByteHours": s("ramByteHours"), "ramCost": cost["ramCost"],
            "ramCostAdjustment": 0.0, "ramEfficiency": ram_eff, "externalCost": 0.0,
            "sharedCost": cost["sharedCost"], "totalCost": total, "totalEfficiency": tot_eff,
        }
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in j.items()}

    def assets(self, start: date, end: date) -> dict[str, Any]:
        days = max(0, min(self.day_index(end), self.n_days) - max(self.day_index(start), 0))
        out: dict[str, Any] = {}
        iso = "%Y-%m-%dT%H:%M:%SZ"
        win = {"start": datetime(start.year, start.month, start.day, tzinfo=UTC).strftime(iso),
               "end": datetime(end.year, end.month, end.day, tzinfo=UTC).strftime(iso)}
        for n in self.nodes.values():
            c = self.node_cost(n, 24.0 * days)
            out[f"cluster-one/{n.name}/{n.provider_id}"] = {
                "type": "Node", "properties": {"category": "Compute", "provider": "AWS", "service": "Kubernetes",
                                               "cluster": "cluster-one", "name": n.name, "providerID": n.provider_id},
                "labels": {"node.kubernetes.io/instance-type": n.instance_type}, "window": win, **win,
                "minutes": 1440.0 * days, "nodeType": n.instance_type, "pool": n.instance_type.split(".")[0],
                "cpuCores": n.cpu, "ramBytes": n.ram_gib * GIB, "cpuCoreHours": n.cpu * 24 * days,
                "ramByteHours": n.ram_gib * GIB * 24 * days, "GPUHours": n.gpus * 24.0 * days,
                "preemptible": 0.0, "discount": 0.0, "cpuCost": round(c["cpuCost"], 5),
                "gpuCost": round(c["gpuCost"], 5), "gpuCount": float(n.gpus), "ramCost": round(c["ramCost"], 5),
                "adjustment": 0.0, "totalCost": round(sum(c.values()), 5)}
        for dsk in self.disks:
            out[f"cluster-one/{dsk['name']}"] = {
                "type": "Disk", "properties": {"category": "Storage", "provider": "AWS", "cluster": "cluster-one",
                                               "name": dsk["name"], "providerID": dsk.get("provider_id", "")},
                "labels": {}, "window": win, **win, "minutes": 1440.0 * days, "byteHours": dsk["gib"] * GIB * 24 * days,
                "bytes": dsk["gib"] * GIB, "byteHoursUsed": None, "byteUsageMax": None, "breakdown": {},
                "adjustment": 0.0, "totalCost": round(dsk["gib"] * PV_GIB_HOUR * 24 * days, 5),
                "storageClass": "gp3", "volumeName": dsk["name"], "claimName": dsk.get("claim", ""),
                "claimNamespace": dsk.get("namespace", "")}
        out["cluster-one/lb-ingress"] = {
            "type": "LoadBalancer", "properties": {"category": "Network", "provider": "AWS", "cluster": "cluster-one",
                                                   "name": "ingress-nginx"},
            "labels": {}, "window": win, **win, "minutes": 1440.0 * days, "adjustment": 0.0,
            "totalCost": round(LB_HOUR * 24 * days, 5), "private": False, "ip": "203.0.113.7"}
        out["cluster-one/mgmt"] = {"type": "ClusterManagement", "properties": {"cluster": "cluster-one"},
                                   "labels": {}, "window": win, **win, "minutes": 1440.0 * days, "totalCost": 2.4}
        return out


def parse_window(w: str) -> tuple[date, date]:
    a, b = w.split(",")
    return (datetime.fromisoformat(a.replace("Z", "+00:00")).date(),
            datetime.fromisoformat(b.replace("Z", "+00:00")).date())


class FakeOpenCost:
    def __init__(self, cluster: Cluster, token: str | None = None) -> None:
        self.cluster = cluster
        self.token = token
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: dict[str, Any] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                qs = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    fake.requests.append((parts.path, qs))
                    statuses = fake.faults.get("status") or []
                    status = statuses.pop(0) if statuses else None
                delay = fake.faults.get("delay_s")
                if delay:
                    time.sleep(delay)
                if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"code": 401, "message": "unauthorized"})
                if status:
                    return self._send(status, {"code": status, "message": "upstream prometheus query failed"})
                try:
                    start, end = parse_window(qs.get("window", ""))
                except ValueError:
                    return self._send(400, {"code": 400, "message": "Invalid 'window' parameter"})
                if parts.path in ("/allocation", "/allocation/compute"):
                    step = qs.get("step", "")
                    if step not in ("1d", "24h"):
                        return self._send(400, {"code": 400, "message": "fake supports step=1d only"})
                    data = fake.cluster.allocation(
                        start, end, [a for a in qs.get("aggregate", "pod").split(",") if a],
                        qs.get("accumulate") == "true", qs.get("includeIdle") == "true",
                        qs.get("idleByNode") == "true", fake.faults.get("malformed"),
                        set(fake.faults.get("empty_days") or ()))
                    return self._send(200, {"code": 200, "data": data})
                if parts.path == "/assets":
                    return self._send(200, {"code": 200, "data": fake.cluster.assets(start, end)})
                return self._send(404, {"code": 404, "message": "not found"})

            def _send(self, code: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenCost:
        self.thread.start()
        return self

    def __exit__(self, *a: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def seeded_cluster(start: date, n_days: int, n_pods: int = 12, seed: int = 5) -> Cluster:
    """A small real-looking cluster: shop and ML namespaces, a GPU node, an over-requested deployment,
    a released PV. n_pods > 12 adds generic pods (for benchmarks)."""
    nodes = [
        Node("ip-10-0-1-10.ec2.internal", "m5.2xlarge", "aws:///us-east-1a/i-0a1b2c3d4e5f60001", 8, 32, 0,
             0.031611, 0.004237),
        Node("ip-10-0-1-11.ec2.internal", "m5.2xlarge", "aws:///us-east-1b/i-0a1b2c3d4e5f60002", 8, 32, 0,
             0.031611, 0.004237),
        Node("ip-10-0-2-20.ec2.internal", "g5.xlarge", "aws:///us-east-1a/i-0a1b2c3d4e5f60003", 4, 16, 1,
             0.031611, 0.004237, 0.95),
    ]
    n1, n2, g = (n.name for n in nodes)
    shop = {"team": "shop", "app.kubernetes.io/part-of": "shop"}
    pods = [
        Pod("shop", "deployment", "checkout-api", "checkout-api-7d9f-a", n1, 2, 4, 0.3, 1.0, lb=True,
            labels={**shop, "app": "checkout-api"}),
        Pod("shop", "deployment", "checkout-api", "checkout-api-7d9f-b", n2, 2, 4, 0.3, 1.0,
            labels={**shop, "app": "checkout-api"}),
        Pod("shop", "deployment", "cart", "cart-5c6b-a", n1, 0.5, 1, 0.4, 0.8, labels={**shop, "app": "cart"}),
        Pod("shop", "statefulset", "redis", "redis-0", n2, 1, 4, 0.6, 3.0, pv_gib=50, labels={**shop, "app": "redis"}),
        Pod("ml", "deployment", "recommender", "recommender-6f7c-a", g, 2, 8, 1.5, 6.0, gpus=1,
            labels={"team": "ml", "app": "recommender"}),
        Pod("ml", "job", "train-nightly", "train-nightly-28841", g, 1, 4, 0.9, 3.0, labels={"team": "ml"},
            days=(0, max(0, n_days // 2))),
        Pod("ml", "deployment", "notebook", "notebook-84c2-a", n1, 1, 2, 0.002, 0.1,
            labels={"team": "ml", "app": "notebook"}),
        Pod("sandbox", "deployment", "old-demo", "old-demo-77f-a", n2, 0.5, 1, 0.001, 0.05,
            labels={"team": "ml", "app": "old-demo"}),
        Pod("sandbox", "deployment", "kept-demo", "kept-demo-12a-a", n2, 0.5, 1, 0.001, 0.05,
            labels={"team": "ml", "app": "kept-demo", "costdeck-protect": "true"}),
        Pod("kube-system", "daemonset", "aws-node", "aws-node-a", n1, 0.05, 0.1, 0.04, 0.08),
        Pod("kube-system", "daemonset", "aws-node", "aws-node-b", n2, 0.05, 0.1, 0.04, 0.08),
        Pod("kube-system", "daemonset", "aws-node", "aws-node-c", g, 0.05, 0.1, 0.04, 0.08),
        Pod("kube-system", "deployment", "coredns", "coredns-5d78-a", n2, 0.1, 0.2, 0.05, 0.1),
        Pod("monitoring", "statefulset", "prometheus", "prometheus-0", n2, 1, 8, 0.5, 5.0, pv_gib=100),
    ]
    if n_pods > len(pods):
        rng = random.Random(seed)
        extra_nodes = [Node(f"ip-10-1-{i // 250}-{i % 250}.ec2.internal", "m5.4xlarge",
                            f"aws:///us-east-1a/i-0bench{i:012d}", 16, 64, 0, 0.031611, 0.004237)
                       for i in range(max(1, (n_pods - len(pods)) // 40))]
        nodes += extra_nodes
        for i in range(n_pods - len(pods)):
            ns = f"team-{i % 25}"
            ctrl = f"svc-{i % 400}"
            pods.append(Pod(ns, "deployment", ctrl, f"{ctrl}-{i}", extra_nodes[i % len(extra_nodes)].name,
                            rng.choice((0.1, 0.25, 0.5)), rng.choice((0.25, 0.5, 1.0)), rng.uniform(0.01, 0.3),
                            rng.uniform(0.05, 0.6), labels={"team": ns, "app": ctrl}))
    disks = [{"name": "pvc-redis-data", "gib": 50, "claim": "redis-data", "namespace": "shop"},
             {"name": "pvc-prometheus", "gib": 100, "claim": "prometheus-db", "namespace": "monitoring"},
             {"name": "pvc-old-elastic", "gib": 200}]
    return Cluster(start, n_days, nodes, pods, seed=seed, disks=disks)
