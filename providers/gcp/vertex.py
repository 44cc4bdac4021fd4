"""Vertex AI custom jobs as ML runs.

    GET /v1/projects/{p}/locations/{region}/customJobs?pageSize=100&filter=create_time>"..."  (+ pageToken)

on `{region}-aiplatform.googleapis.com` (the endpoint replaces it), for every project and every
region of `ml_regions`, jobs created in the last `ml_days` days.

A job becomes a run (table ml_runs, via providers.runs_jsonl.write_runs): run_id = the job's
resource name, task = its label "task" (else its display name without a trailing run number),
status from state (SUCCEEDED -> completed, FAILED/EXPIRED -> failed, CANCELLED -> stopped,
QUEUED/PENDING -> scheduled, RUNNING -> running), start/end = startTime/endTime, host = the region,
properties: labels (as tags), state, display name, project. One executor per worker pool:
instance_type = machineSpec.machineType, instance_count = replicaCount, accelerators in the
run's properties.

Cost (analysis.mlruns): billed when the export attributes the job: a job labelled with
`ml_label` (default "costdeck-run") carries that label into the billing export, and costs.py
gives those Vertex AI rows the resource id
//aiplatform.googleapis.com/projects/P/customJobs/label:VALUE, which is the executor's
resource_id here; otherwise price x duration from the prices table (unknown when no price is
known for the machine type).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs

from .client import Gcp
from .inventory import PROVIDER, project_failures, source_projects

STATUS = {"JOB_STATE_SUCCEEDED": "completed", "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
          "JOB_STATE_FAILED": "failed", "JOB_STATE_EXPIRED": "failed", "JOB_STATE_CANCELLED": "stopped",
          "JOB_STATE_CANCELLING": "stopped", "JOB_STATE_QUEUED": "scheduled", "JOB_STATE_PENDING": "scheduled",
          "JOB_STATE_RUNNING": "running"}
_RUN_NO = re.compile(r"[-_ ]?(run)?[-_ ]?\d+$")


def job_resource(project: str, label_value: str) -> str:
    """The resource id that ties a labelled job to its billing export rows."""
    return f"//aiplatform.googleapis.com/projects/{project}/customJobs/label:{label_value}"


def build_run(job: dict[str, Any], project: str, region: str, ml_label: str) -> RunRecord | None:
    name = job.get("name")
    start_s = job.get("startTime") or job.get("createTime")
    if not name or not start_s:
        return None
    labels = {str(k): str(v) for k, v in (job.get("labels") or {}).items()}
    display = str(job.get("displayName") or name.rsplit("/", 1)[-1])
    state = str(job.get("state") or "")
    status = STATUS.get(state, "running")
    start = timeutil.parse_instant(start_s)
    end = timeutil.parse_instant(job["endTime"]) if job.get("endTime") else None
    rid = job_resource(project, labels[ml_label]) if labels.get(ml_label) else None
    executors = []
    accelerators = []
    for pool in (job.get("jobSpec") or {}).get("workerPoolSpecs") or []:
        spec = pool.get("machineSpec") or {}
        mtype = spec.get("machineType")
        if not mtype:
            continue
        count = int(pool.get("replicaCount") or 1)
        if spec.get("acceleratorType"):
            accelerators.append({"type": spec.get("acceleratorType"), "count": int(spec.get("acceleratorCount") or 0),
                                 "machine_type": mtype, "replicas": count})
        executors.append(ExecutorRecord(instance_type=str(mtype), instance_count=count, provider_name=PROVIDER,
                                        region_id=region, resource_id=rid, start_at=start, end_at=end))
    task = labels.get("task") or (_RUN_NO.sub("", display) or display)
    return RunRecord(run_id=name, task=task, status=status, start_at=start, name=display, end_at=end, host=region,
                     properties={"tags": labels, "state": state, "project": project, "accelerators": accelerators,
                                 "kind": "vertex-custom-job"},
                     executors=executors)


def fetch(gcp: Gcp, project: str, region: str, since: str, ml_label: str) -> list[RunRecord]:
    api = gcp.aiplatform(region)
    out = []
    for job in api.pages("GET", f"/v1/projects/{project}/locations/{region}/customJobs", items="customJobs",
                         next_key="nextPageToken", token_param="pageToken",
                         params={"pageSize": 100, "filter": f'create_time>"{since}"'}, op="customJobs.list"):
        r = build_run(job, project, region, ml_label)
        if r is not None:
            out.append(r)
    return out


def write(ctx: SyncContext, runs: Sequence[RunRecord], listed: list[tuple[str, str]], since: str) -> int:
    with ctx.store.transaction():
        keep = {r.run_id for r in runs}
        for project, region in listed:
            prefix = f"projects/{project}/locations/{region}/customJobs/"
            for (run_id,) in ctx.store.conn.execute(
                "SELECT run_id FROM ml_runs WHERE source_id=? AND run_id LIKE ? AND start_at >= ?",
                (ctx.source_id, prefix + "%", since)).fetchall():
                if run_id not in keep:
                    ctx.store.conn.execute("DELETE FROM ml_runs WHERE run_id=?", (run_id,))
        return write_runs(ctx.store, ctx.source_id, runs, in_transaction=True)


def sync_vertex(ctx: SyncContext, gcp: Gcp) -> int:
    since = timeutil.iso(ctx.now - timedelta(days=gcp.options.ml_days))
    runs: list[RunRecord] = []
    listed: list[tuple[str, str]] = []
    failed: dict[str, str] = {}
    for project in source_projects(ctx, gcp):
        for region in gcp.options.ml_regions:
            ctx.progress(detail=f"Vertex AI {project} {region}")
            try:
                runs.extend(fetch(gcp, project, region, since, gcp.options.ml_label))
                listed.append((project, region))
            except HttpStepError as exc:
                failed[f"{project}/{region}"] = one_line(exc)
    n = write(ctx, runs, listed, since) if listed else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(project_failures("Vertex AI custom jobs", failed))
    return n


__all__ = ["build_run", "job_resource", "sync_vertex"]
