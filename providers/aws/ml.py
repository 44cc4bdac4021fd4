"""SageMaker training jobs -> ml_runs, ml_executors, ml_run_metrics, ml_run_params.

* Which jobs: ListTrainingJobs (paginated) in every region, created in the last `ml_days`
  (default 90). A job already in the cache in a final state (completed/failed/stopped) with the
  same LastModifiedTime is not described again; every other job gets DescribeTrainingJob and
  ListTags (tags are not part of the describe answer).
* ml_runs: run_id = the job ARN (unique across regions and accounts), name = job name,
  task = tag "costdeck:task", else tag "task", else the job name up to the first "-<digit>"
  ("resnet50-2024-05-01-10-00" -> "resnet50"); status normalised to running | completed |
  failed | stopping | stopped | deleting (the raw value in properties.sagemaker_status);
  start/end = TrainingStartTime (else CreationTime) / TrainingEndTime; primary metric = tag
  "costdeck:primary_metric" if set, else the only final metric, else the only validation/test
  one; host = the region.
* ml_executors: one row per instance group (or the ResourceConfig), resource_id = job ARN,
  billable_seconds = BillableTimeInSeconds as AWS reports it (wall-clock seconds per
  instance: multiply by instance_count for compute-seconds); when absent (still running, or an
  emulator) TrainingTimeInSeconds or end - start, flagged properties.billable_estimated.
* ml_run_metrics: FinalMetricDataList (step 0, ts = the metric timestamp).
* ml_run_params: HyperParameters, verbatim.
* ml_profiles: each job's per-host CloudWatch utilization (providers/aws/ml_serving.py).
Write: ONE transaction; changed runs are replaced (children cascade), runs of this source in
the listed window that SageMaker no longer lists are removed, older runs are kept. Endpoints and
notebook instances with their metrics: see providers/aws/ml_serving.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext
from providers.runs_jsonl import write_profile

from . import ml_serving
from .inventory import FETCH_ERRORS, PROVIDER, error_text, iso, pages, region_failures, tag_dict
from .metrics import metric_window
from .session import AwsSession

DEFAULT_DAYS = 90
FINAL = ("completed", "failed", "stopped")
_STATUS = {"InProgress": "running", "Completed": "completed", "Failed": "failed", "Stopping": "stopping",
           "Stopped": "stopped", "Deleting": "deleting"}
_PREFIX = re.compile(r"^(.+?)-\d")


@dataclass(slots=True)
class Executor:
    instance_type: str
    instance_count: int
    region_id: str
    resource_id: str
    start_at: str | None
    end_at: str | None
    billable_seconds: int | None


@dataclass(slots=True)
class Run:
    run_id: str
    name: str
    task: str
    status: str
    start_at: str
    end_at: str | None
    region: str
    primary_metric: str | None = None
    primary_value: float | None = None
    executors: list[Executor] = field(default_factory=list)
    metrics: list[tuple[str, str | None, float]] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    profile: list[tuple[str, str, datetime, float, int | None]] = field(default_factory=list)


def task_of(name: str, tags: dict[str, str]) -> str:
    for key in ("costdeck:task", "task"):
        if tags.get(key):
            return tags[key]
    m = _PREFIX.match(name)
    return m.group(1) if m else name


def primary_of(metrics: Sequence[tuple[str, str | None, float]], tags: dict[str, str]) -> tuple[str | None, float | None]:
    values = {k: v for k, _, v in metrics}
    want = tags.get("costdeck:primary_metric")
    if want and want in values:
        return want, values[want]
    names = [k for k in values if "progress" not in k.lower()]
    if len(names) == 1:
        return names[0], values[names[0]]
    held_out = [k for k in names if re.match(r"^(validation|valid|val|test)[:_\-]", k, re.IGNORECASE)]
    if len(held_out) == 1:
        return held_out[0], values[held_out[0]]
    return None, None


def build_run(job: dict[str, Any], tags: dict[str, str], region: str) -> Run:
    """A DescribeTrainingJob answer (+ its tags) -> Run."""
    arn = job["TrainingJobArn"]
    name = job["TrainingJobName"]
    start = iso(job.get("TrainingStartTime")) or iso(job.get("CreationTime")) or ""
    end = iso(job.get("TrainingEndTime"))
    billable = job.get("BillableTimeInSeconds")
    estimated = billable is None
    if billable is None:
        billable = job.get("TrainingTimeInSeconds")
    if billable is None and start and end:
        billable = int((timeutil.parse_instant(end) - timeutil.parse_instant(start)).total_seconds())
    rc = job.get("ResourceConfig") or {}
    groups = rc.get("InstanceGroups") or []
    if groups:
        execs = [Executor(g.get("InstanceType", ""), int(g.get("InstanceCount") or 1), region, arn, start, end,
                          billable) for g in groups]
    else:
        itype = rc.get("SelectedInstanceType") or rc.get("InstanceType") or ""
        count = int(rc.get("SelectedInstanceCount") or rc.get("InstanceCount") or 1)
        execs = [Executor(itype, count, region, arn, start, end, billable)]
    metrics = [
        (str(m["MetricName"]), iso(m.get("Timestamp")), float(m["Value"]))
        for m in job.get("FinalMetricDataList") or []
        if m.get("MetricName") is not None and m.get("Value") is not None
    ]
    pm, pv = primary_of(metrics, tags)
    raw_status = job.get("TrainingJobStatus", "")
    return Run(
        run_id=arn,
        name=name,
        task=task_of(name, tags),
        status=_STATUS.get(raw_status, raw_status.lower() or "unknown"),
        start_at=start,
        end_at=end,
        region=region,
        primary_metric=pm,
        primary_value=pv,
        executors=execs,
        metrics=metrics,
        params={str(k): str(v) for k, v in (job.get("HyperParameters") or {}).items()},
        properties={
            "platform": "sagemaker",
            "sagemaker_status": raw_status,
            "secondary_status": job.get("SecondaryStatus"),
            "failure_reason": job.get("FailureReason"),
            "creation_time": iso(job.get("CreationTime")),
            "last_modified": iso(job.get("LastModifiedTime")),
            "training_seconds": job.get("TrainingTimeInSeconds"),
            "billable_estimated": estimated,
            "managed_spot": bool(job.get("EnableManagedSpotTraining")),
            "checkpoint_s3": (job.get("CheckpointConfig") or {}).get("S3Uri"),
            "tuning_job_arn": job.get("TuningJobArn"),
            "training_image": (job.get("AlgorithmSpecification") or {}).get("TrainingImage"),
            "volume_gib": rc.get("VolumeSizeInGB"),
            "tags": tags,
        },
    )


def fetch_region_jobs(
    sm: Any, region: str, since: datetime, known: dict[str, str | None]
) -> tuple[list[str], list[Run]]:
    """(every listed ARN, Runs for the jobs that are new or changed). `known`: ARN -> last_modified
    of final-state runs already cached."""
    listed: list[str] = []
    runs: list[Run] = []
    for s in pages(sm, "list_training_jobs", "TrainingJobSummaries", page_size=100, CreationTimeAfter=since):
        arn = s["TrainingJobArn"]
        listed.append(arn)
        if arn in known and known[arn] == iso(s.get("LastModifiedTime")):
            continue
        job = sm.describe_training_job(TrainingJobName=s["TrainingJobName"])
        tags = tag_dict(sm.list_tags(ResourceArn=arn).get("Tags"))
        runs.append(build_run(job, tags, region))
    return listed, runs


def _known(ctx: SyncContext) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for row in ctx.store.conn.execute(
        "SELECT run_id, status, properties FROM ml_runs WHERE source_id=? AND run_id LIKE 'arn:aws:sagemaker:%'",
        (ctx.source_id,),
    ):
        if row[1] in FINAL:
            out[row[0]] = (json.loads(row[2] or "{}") or {}).get("last_modified")
    return out


def write_runs(
    ctx: SyncContext, runs: Sequence[Run], listed: dict[str, list[str]], since: datetime
) -> int:
    """Replace the changed runs and drop vanished ones (per region listed), in ONE transaction."""
    conn = ctx.store.conn
    n = 0
    with ctx.store.transaction():
        for region, arns in listed.items():
            keep = set(arns)
            for row in conn.execute(
                "SELECT run_id FROM ml_runs WHERE source_id=? AND host=? AND run_id LIKE 'arn:aws:sagemaker:%' "
                "AND coalesce(json_extract(properties, '$.creation_time'), start_at) >= ?",
                (ctx.source_id, region, timeutil.iso(since)),
            ).fetchall():
                if row[0] not in keep:
                    conn.execute("DELETE FROM ml_runs WHERE run_id=?", (row[0],))
        for r in runs:
            conn.execute("DELETE FROM ml_runs WHERE run_id=?", (r.run_id,))
            conn.execute(
                "INSERT INTO ml_runs(source_id, run_id, task, name, status, start_at, end_at, host, primary_metric, "
                "primary_value, exit_code, properties) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (ctx.source_id, r.run_id, r.task, r.name, r.status, r.start_at, r.end_at, r.region,
                 r.primary_metric, r.primary_value, None, json.dumps(r.properties, sort_keys=True, ensure_ascii=False)),
            )
            conn.executemany(
                "INSERT INTO ml_executors(run_id, provider_name, resource_id, instance_type, instance_count, region_id, "
                "start_at, end_at, billable_seconds) VALUES (?,?,?,?,?,?,?,?,?)",
                [(r.run_id, "AWS", e.resource_id, e.instance_type, e.instance_count, e.region_id, e.start_at,
                  e.end_at, e.billable_seconds) for e in r.executors],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO ml_run_metrics(run_id, key, step, ts, value) VALUES (?,?,?,?,?)",
                [(r.run_id, k, 0, ts, v) for k, ts, v in r.metrics],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO ml_run_params(run_id, key, value) VALUES (?,?,?)",
                [(r.run_id, k, v) for k, v in r.params.items()],
            )
            write_profile(conn, r.run_id, r.profile)
            n += 1 + len(r.executors) + len(r.metrics) + len(r.params) + len(r.profile)
    return n


def _vcpus(ctx: SyncContext) -> dict[str, float]:
    return {sku: float(v) for sku, v in ctx.store.conn.execute(
        "SELECT sku, max(vcpu) FROM prices WHERE provider_name=? AND vcpu > 0 GROUP BY sku", (PROVIDER,))}


def write_serving(ctx: SyncContext, resources: list[dict[str, Any]], regions: list[str], studio_regions: list[str],
                  metric_rows: list[tuple[str, str, str, float | None, float | None]], start: datetime,
                  end: datetime) -> int:
    """Replace the endpoints and notebooks of `regions` and the Studio apps of `studio_regions` (the
    regions whose listing succeeded) and their metrics in the window."""
    n = ctx.replace_resources(PROVIDER, [r for r in resources if r["resource_type"] != ml_serving.STUDIO_APP],
                              "region_id", regions, ml_serving.RESOURCE_TYPES)
    n += ctx.replace_resources(PROVIDER, [r for r in resources if r["resource_type"] == ml_serving.STUDIO_APP],
                               "region_id", studio_regions, (ml_serving.STUDIO_APP,))
    ids = [r["resource_id"] for r in resources]
    with ctx.store.transaction():
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" for _ in chunk)
            ctx.store.conn.execute(
                f"DELETE FROM metrics WHERE provider_name=? AND metric IN ('invocations', 'cpu') AND ts>=? AND ts<? "
                f"AND resource_id IN ({q})", (PROVIDER, timeutil.iso(start), timeutil.iso(end), *chunk))
        ctx.store.conn.executemany(
            "INSERT OR REPLACE INTO metrics(provider_name, resource_id, metric, ts, period_s, average, maximum, p99) "
            "VALUES (?,?,?,?,86400,?,?,NULL)", [(PROVIDER, *row) for row in metric_rows])
    return n + len(metric_rows)


def sync_sagemaker(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: SageMaker training jobs (with their per-host profiles), endpoints and notebook
    instances and Studio apps (with their CloudWatch metrics) of every region."""
    days = aws.options.ml_days
    since = ctx.now - timedelta(days=days)
    known = _known(ctx)
    vcpus = _vcpus(ctx)
    m_start, m_end = metric_window(ctx.now, aws.options.metrics_days)
    runs: list[Run] = []
    listed: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    serving: list[dict[str, Any]] = []
    serving_regions: list[str] = []
    studio_regions: list[str] = []
    metric_rows: list[tuple[str, str, str, float | None, float | None]] = []
    for region in aws.regions():
        ctx.progress(detail=f"sagemaker {region}")
        try:
            sm = aws.client("sagemaker", region)
            arns, rs = fetch_region_jobs(sm, region, since, known)
        except FETCH_ERRORS as exc:
            failed[region] = error_text(exc, aws.profile)
            continue
        cw = aws.client("cloudwatch", region)
        try:  # the jobs are kept when their CloudWatch profile cannot be read (e.g. no cloudwatch permission)
            profiles = ml_serving.fetch_job_profiles(cw, rs, vcpus, ctx.now)
            for r in rs:
                r.profile = profiles.get(r.run_id, [])
        except FETCH_ERRORS as exc:
            failed[f"{region} (training job profiles)"] = error_text(exc, aws.profile)
        listed[region] = arns
        runs.extend(rs)
        for part, fetch, done in (("endpoints and notebooks", ml_serving.fetch_serving, serving_regions),
                                  ("Studio apps", ml_serving.fetch_studio_apps, studio_regions)):
            try:
                res = fetch(sm, region)
                rows = ml_serving.fetch_serving_metrics(cw, res, m_start, m_end)
            except FETCH_ERRORS as exc:  # this part of the region keeps its previous rows
                failed[f"{region} ({part})"] = error_text(exc, aws.profile)
                continue
            serving.extend(res)
            done.append(region)
            metric_rows.extend(rows)
    n = write_runs(ctx, runs, listed, since) if listed else 0
    if serving_regions or studio_regions:
        n += write_serving(ctx, serving, serving_regions, studio_regions, metric_rows, m_start, m_end)
    if failed:
        ctx.add_rows(n)
        raise StepError(region_failures("sagemaker", failed))
    return n


__all__ = ["Executor", "Run", "build_run", "fetch_region_jobs", "primary_of", "sync_sagemaker", "task_of",
           "write_runs"]
