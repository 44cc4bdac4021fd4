"""SageMaker serving and notebooks (inventory + CloudWatch), and training jobs' per-host profiles.

Part of the "sagemaker" step (providers/aws/ml.py runs it after the training jobs):

* Endpoints: ListEndpoints, DescribeEndpoint (status, current instance counts per variant),
  DescribeEndpointConfig (instance type and initial count of each production variant), ListTags.
  -> resources, resource_type `sagemaker_endpoint`, resource_id = EndpointArn, state =
  EndpointStatus (InService, Updating, ...), instance_type = the first variant's type,
  properties: instance_count (all variants), endpoint_config_name, variants, model_names.
* Notebook instances: ListNotebookInstances, ListTags -> resource_type `sagemaker_notebook`,
  resource_id = NotebookInstanceArn, state = NotebookInstanceStatus, instance_type.
* Studio apps: ListDomains, ListApps (DomainIdEquals) of each domain, DescribeApp (AppArn,
  LastUserActivityTimestamp), ListTags -> resource_type `sagemaker_studio_app`, resource_id =
  AppArn, state = Status, instance_type = ResourceSpec.InstanceType, properties: domain_id,
  user_profile or space, app_type, app_name, last_user_activity. Apps already Deleted and apps on
  the free `system` instance (the default JupyterServer) are left out: they cost nothing.
* Metrics (GetMetricData, daily, the last `metrics_days`):
  - endpoints: `AWS/SageMaker` Invocations (Sum) per EndpointName + VariantName -> metric
    `invocations`, `average` = the day's total over the variants (a day without invocations has
    no datapoint in CloudWatch and no row here);
  - notebooks: CPUUtilization (Average, Maximum) in the namespace `/aws/sagemaker/NotebookInstances`,
    dimension NotebookInstanceName -> metric `cpu`. SageMaker itself publishes no notebook
    metrics: this is where a lifecycle configuration running the CloudWatch agent puts them. A
    notebook without them gets no CPU rows (ml_idle_notebook then skips it and says why).
* Training job profiles: `/aws/sagemaker/TrainingJobs` CPUUtilization, MemoryUtilization,
  GPUUtilization, GPUMemoryUtilization (Average) per Host `<job name>/algo-N` (N = 1..instances),
  at a period sized to give at most PROFILE_POINTS points (60 s minimum) -> ml_profiles, host
  `algo-N`. CloudWatch reports CPU as the sum over cores (0-100 x vCPUs) and GPU likewise over
  GPUs: both are divided by the instance's vCPUs (prices table) and GPUs (cache.gpus) to 0-100;
  a figure that cannot be scaled is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cache import timeutil
from cache.gpus import gpus_of

from .inventory import iso, pages, tag_dict
from .metrics import PERIOD_S, _day_start

ENDPOINT = "sagemaker_endpoint"
NOTEBOOK = "sagemaker_notebook"
STUDIO_APP = "sagemaker_studio_app"
RESOURCE_TYPES = (ENDPOINT, NOTEBOOK)
NOTEBOOK_NAMESPACE = "/aws/sagemaker/NotebookInstances"
STUDIO_NAMESPACE = "/aws/sagemaker/StudioApps"
FREE_APP_INSTANCE = "system"
JOBS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
PROFILE_POINTS = 240
MAX_QUERIES = 500
JOB_METRICS = (("cpu", "CPUUtilization"), ("memory", "MemoryUtilization"), ("gpu", "GPUUtilization"),
               ("gpu_memory", "GPUMemoryUtilization"))


def _account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def fetch_serving(sm: Any, region: str) -> list[dict[str, Any]]:
    """Endpoints and notebook instances of a region as `resources` rows."""
    out: list[dict[str, Any]] = []
    for s in pages(sm, "list_endpoints", "Endpoints"):
        ep = sm.describe_endpoint(EndpointName=s["EndpointName"])
        cfg_name = ep.get("EndpointConfigName")
        variants: list[dict[str, Any]] = []
        if cfg_name:
            cfg = sm.describe_endpoint_config(EndpointConfigName=cfg_name)
            variants = [{"variant": v.get("VariantName"), "instance_type": v.get("InstanceType"),
                         "count": int(v.get("InitialInstanceCount") or 0), "model": v.get("ModelName")}
                        for v in cfg.get("ProductionVariants") or []]
        current = {v.get("VariantName"): v.get("CurrentInstanceCount") for v in ep.get("ProductionVariants") or []}
        for v in variants:
            if current.get(v["variant"]) is not None:
                v["count"] = int(current[v["variant"]])
        arn = ep["EndpointArn"]
        out.append({
            "resource_id": arn, "resource_name": ep["EndpointName"], "resource_type": ENDPOINT,
            "sub_account_id": _account(arn),
            "region_id": region, "state": ep.get("EndpointStatus"),
            "instance_type": next((v["instance_type"] for v in variants if v["instance_type"]), None),
            "created_at": iso(ep.get("CreationTime")),
            "tags": tag_dict(sm.list_tags(ResourceArn=arn).get("Tags")),
            "properties": {"endpoint_config_name": cfg_name, "variants": variants,
                           "instance_count": sum(v["count"] for v in variants) or None,
                           "model_names": sorted({v["model"] for v in variants if v["model"]}),
                           "last_modified": iso(ep.get("LastModifiedTime"))},
        })
    for nb in pages(sm, "list_notebook_instances", "NotebookInstances"):
        arn = nb["NotebookInstanceArn"]
        out.append({
            "resource_id": arn, "resource_name": nb["NotebookInstanceName"], "resource_type": NOTEBOOK,
            "sub_account_id": _account(arn),
            "region_id": region, "state": nb.get("NotebookInstanceStatus"), "instance_type": nb.get("InstanceType"),
            "created_at": iso(nb.get("CreationTime")),
            "tags": tag_dict(sm.list_tags(ResourceArn=arn).get("Tags")),
            "properties": {"last_modified": iso(nb.get("LastModifiedTime")), "url": nb.get("Url")},
        })
    return out


def app_ref(props: dict[str, Any]) -> dict[str, str]:
    """The DescribeApp / DeleteApp arguments of a Studio app from its properties (or a step's params)."""
    ref = {"DomainId": str(props.get("domain_id") or ""), "AppType": str(props.get("app_type") or ""),
           "AppName": str(props.get("app_name") or "")}
    if props.get("space"):
        ref["SpaceName"] = str(props["space"])
    elif props.get("user_profile"):
        ref["UserProfileName"] = str(props["user_profile"])
    return ref


def fetch_studio_apps(sm: Any, region: str) -> list[dict[str, Any]]:
    """The billed Studio apps of a region's domains as `resources` rows."""
    out: list[dict[str, Any]] = []
    for dom in pages(sm, "list_domains", "Domains"):
        for app in pages(sm, "list_apps", "Apps", DomainIdEquals=dom["DomainId"]):
            itype = (app.get("ResourceSpec") or {}).get("InstanceType")
            if app.get("Status") == "Deleted" or not itype or itype == FREE_APP_INSTANCE:
                continue
            props = {"domain_id": dom["DomainId"], "domain_name": dom.get("DomainName"),
                     "user_profile": app.get("UserProfileName"), "space": app.get("SpaceName"),
                     "app_type": app.get("AppType"), "app_name": app.get("AppName")}
            desc = sm.describe_app(**app_ref(props))
            arn = desc["AppArn"]
            props["last_user_activity"] = iso(desc.get("LastUserActivityTimestamp"))
            owner = props["space"] or props["user_profile"] or "-"
            out.append({
                "resource_id": arn, "resource_name": f"{owner}/{props['app_name']}", "resource_type": STUDIO_APP,
                "sub_account_id": _account(arn), "region_id": region, "state": desc.get("Status") or app.get("Status"),
                "instance_type": itype, "created_at": iso(desc.get("CreationTime") or app.get("CreationTime")),
                "tags": tag_dict(sm.list_tags(ResourceArn=arn).get("Tags")), "properties": props,
            })
    return out


def _query(qid: str, namespace: str, name: str, dims: dict[str, str], stat: str, period: int) -> dict[str, Any]:
    return {"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
        "Period": period, "Stat": stat}}


def _run_queries(cw: Any, queries: list[tuple[Any, dict[str, Any]]], start: datetime,
                 end: datetime) -> list[tuple[Any, datetime, float]]:
    """(key, timestamp, value) for every datapoint of the queries (batches of MAX_QUERIES, paged)."""
    out: list[tuple[Any, datetime, float]] = []
    for i in range(0, len(queries), MAX_QUERIES):
        chunk = queries[i:i + MAX_QUERIES]
        keys = {q["Id"]: k for k, q in chunk}
        for res in pages(cw, "get_metric_data", "MetricDataResults", MetricDataQueries=[q for _, q in chunk],
                         StartTime=start, EndTime=end, ScanBy="TimestampAscending"):
            key = keys.get(res.get("Id", ""))
            if key is None:
                continue
            for ts, value in zip(res.get("Timestamps") or [], res.get("Values") or [], strict=False):
                out.append((key, ts, float(value)))
    return out


def fetch_serving_metrics(cw: Any, resources: Sequence[dict[str, Any]], start: datetime,
                          end: datetime) -> list[tuple[str, str, str, float | None, float | None]]:
    """Daily rows (resource_id, metric, day ISO, average, maximum) for endpoints, notebooks and
    Studio apps."""
    queries: list[tuple[Any, dict[str, Any]]] = []
    for n, r in enumerate(resources):
        if r["resource_type"] == ENDPOINT:
            for j, v in enumerate(r["properties"].get("variants") or []):
                dims = {"EndpointName": r["resource_name"], "VariantName": v["variant"] or "AllTraffic"}
                queries.append(((r["resource_id"], "invocations", "sum"),
                                _query(f"e{n}_{j}", "AWS/SageMaker", "Invocations", dims, "Sum", PERIOD_S)))
        elif r["resource_type"] == NOTEBOOK:
            dims = {"NotebookInstanceName": r["resource_name"]}
            for stat in ("Average", "Maximum"):
                queries.append(((r["resource_id"], "cpu", stat),
                                _query(f"n{n}_{stat.lower()}", NOTEBOOK_NAMESPACE, "CPUUtilization", dims, stat,
                                       PERIOD_S)))
        elif r["resource_type"] == STUDIO_APP:
            p = r["properties"]
            owner = ("SpaceName", p["space"]) if p.get("space") else ("UserProfileName", p.get("user_profile") or "")
            dims = {"DomainId": p["domain_id"], owner[0]: owner[1], "AppName": p["app_name"]}
            for stat in ("Average", "Maximum"):
                queries.append(((r["resource_id"], "cpu", stat),
                                _query(f"s{n}_{stat.lower()}", STUDIO_NAMESPACE, "CPUUtilization", dims, stat,
                                       PERIOD_S)))
    acc: dict[tuple[str, str, str], list[float | None]] = {}
    for (rid, metric, stat), ts, value in _run_queries(cw, queries, start, end):
        day = timeutil.iso(_day_start(ts))
        row = acc.setdefault((rid, metric, day), [None, None])
        if stat == "sum":
            row[0] = (row[0] or 0.0) + value
        elif stat == "Average":
            row[0] = value
        else:
            row[1] = value
    return [(rid, metric, day, v[0], v[1]) for (rid, metric, day), v in sorted(acc.items())]


def fetch_job_profiles(cw: Any, jobs: Sequence[Any], vcpus: dict[str, float], now: datetime) -> dict[
        str, list[tuple[str, str, datetime, float, int | None]]]:
    """run_id -> profile samples (host, metric, ts, percent 0-100, gpus) of training jobs (ml.Run)."""
    queries: list[tuple[Any, dict[str, Any]]] = []
    spans: list[tuple[datetime, datetime]] = []
    for n, run in enumerate(jobs):
        if not run.start_at or not run.executors:
            continue
        start = timeutil.parse_instant(run.start_at)
        end = timeutil.parse_instant(run.end_at) if run.end_at else now
        if end <= start:
            continue
        period = max(60, int((end - start).total_seconds() / PROFILE_POINTS) // 60 * 60)
        hosts = sum(e.instance_count for e in run.executors)
        spans.append((start, end + timedelta(seconds=period)))
        for h in range(1, hosts + 1):
            dims = {"Host": f"{run.name}/algo-{h}"}
            for metric, cw_name in JOB_METRICS:
                queries.append(((run.run_id, f"algo-{h}", metric, run.executors[0].instance_type),
                                _query(f"j{n}_{h}_{metric}", JOBS_NAMESPACE, cw_name, dims, "Average", period)))
    if not queries:
        return {}
    lo = min(s for s, _ in spans)
    hi = max(e for _, e in spans)
    out: dict[str, list[tuple[str, str, datetime, float, int | None]]] = {}
    for (rid, host, metric, itype), ts, value in _run_queries(cw, queries, lo, hi):
        gpus = gpus_of(itype)
        if metric == "cpu":
            v = vcpus.get(itype)
            if not v:
                continue
            value = value / v
        elif metric == "gpu":
            if not gpus:
                continue
            value = value / gpus
        out.setdefault(rid, []).append((host, metric, ts.astimezone(UTC), round(min(100.0, max(0.0, value)), 3),
                                        gpus if metric.startswith("gpu") else None))
    return out


__all__ = ["ENDPOINT", "NOTEBOOK", "RESOURCE_TYPES", "STUDIO_APP", "app_ref", "fetch_job_profiles", "fetch_serving",
           "fetch_serving_metrics", "fetch_studio_apps"]
