"""BigQuery jobs.query over REST: run one query, wait for it, page its rows, count its bytes.

    POST /bigquery/v2/projects/{p}/queries        (jobs.query: QueryRequest -> QueryResponse)
    GET  /bigquery/v2/projects/{p}/queries/{job}  (jobs.getQueryResults: ?pageToken&maxResults&timeoutMs)
    GET  /bigquery/v2/projects/{p}/jobs/{job}     (jobs.get: statistics, when the job finished while polled)

* A job that is not complete within `timeoutMs` answers `jobComplete: false` with its
  jobReference; getQueryResults is polled (it waits server-side up to timeoutMs; between polls
  we back off 0.5 s doubling to 5 s, through the injectable sleep) until it completes, at most
  `MAX_POLLS` times, then the step fails with one line.
* Rows come back as {"f": [{"v": "..."}]} with every value a string (NUMERIC included): they
  are returned as {column: str | None}; money is converted to exact nanos by the caller.
* `totalBytesProcessed` / `totalBytesBilled` of every job (from the QueryResponse, or from
  jobs.get statistics for a job that completed while polled: getQueryResults has no billed bytes) are added to the sync's counters
  (the cost of looking); a dry run returns its estimate without running anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from providers.base import StepError, SyncContext

from . import client as _client
from .client import Gcp

TIMEOUT_MS = 10_000
MAX_POLLS = 400


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _request(gcp: Gcp, sql: str, *, dry_run: bool = False) -> dict[str, Any]:
    o = gcp.options
    body: dict[str, Any] = {"query": sql, "useLegacySql": False, "maxResults": o.page_rows, "timeoutMs": TIMEOUT_MS,
                            "formatOptions": {"useInt64Timestamp": True},
                            "labels": {"costdeck": "sync"}}
    if dry_run:
        body["dryRun"] = True
    if o.location:
        body["location"] = o.location
    if o.max_bytes_billed:
        body["maximumBytesBilled"] = str(o.max_bytes_billed)
    return body


def dry_run(gcp: Gcp, sql: str) -> int:
    """The bytes BigQuery estimates the query would process (nothing runs, nothing is billed)."""
    path = f"/bigquery/v2/projects/{gcp.options.job_project}/queries"
    resp = gcp.bigquery.post(path, _request(gcp, sql, dry_run=True), op="jobs.query (dry run)")
    return _int(resp.get("totalBytesProcessed"))


def query(ctx: SyncContext | None, gcp: Gcp, sql: str, what: str = "query") -> Iterator[dict[str, str | None]]:
    """Run `sql` and yield its rows as {column: value}."""
    bq = gcp.bigquery
    project = gcp.options.job_project
    resp = bq.post(f"/bigquery/v2/projects/{project}/queries", _request(gcp, sql), op="jobs.query")
    ref = resp.get("jobReference") or {}
    job_id = ref.get("jobId")
    location = ref.get("location") or gcp.options.location
    polls = 0
    delay = 0.5
    while not resp.get("jobComplete"):
        if not job_id:
            raise StepError(f"BigQuery {what}: the job is not complete and has no jobReference")
        polls += 1
        if polls > MAX_POLLS:
            raise StepError(f"BigQuery {what}: job {job_id} still running after {MAX_POLLS} polls; try again later")
        if ctx is not None:
            ctx.progress(f"BigQuery {what}: job running (poll {polls})")
        _client._sleep(delay)
        delay = min(5.0, delay * 2)
        resp = bq.get(f"/bigquery/v2/projects/{project}/queries/{job_id}", op="jobs.getQueryResults",
                      params=_params(location, gcp.options.page_rows, None))
    errors = resp.get("errors")
    if errors and isinstance(errors, list) and isinstance(errors[0], dict) and not resp.get("rows"):
        msg = " ".join(str(errors[0].get("message") or errors[0].get("reason") or "").split())[:200]
        raise StepError(f"BigQuery {what} failed: {msg}")
    processed, billed = _int(resp.get("totalBytesProcessed")), resp.get("totalBytesBilled")
    if billed is None and job_id:
        # getQueryResults carries no totalBytesBilled: the job's statistics do (jobs.get)
        stats = bq.get(f"/bigquery/v2/projects/{project}/jobs/{job_id}", op="jobs.get",
                       params={"location": location} if location else None).get("statistics") or {}
        processed = _int(stats.get("totalBytesProcessed")) or processed
        billed = (stats.get("query") or {}).get("totalBytesBilled")
    gcp.add_bytes(processed, _int(billed))
    fields = [f.get("name") for f in (resp.get("schema") or {}).get("fields") or []]
    seen: set[str] = set()
    page = 1
    while True:
        for r in resp.get("rows") or []:
            cells = r.get("f") or []
            yield {name: (c.get("v") if isinstance(c, dict) else None) for name, c in zip(fields, cells, strict=False)}
        token = resp.get("pageToken")
        if not token:
            return
        if token in seen:
            raise StepError(f"BigQuery {what}: the server repeated a pageToken; stopped")
        seen.add(token)
        page += 1
        if ctx is not None:
            ctx.progress(f"BigQuery {what}: results page {page}")
        resp = bq.get(f"/bigquery/v2/projects/{project}/queries/{job_id}", op="jobs.getQueryResults",
                      params=_params(location, gcp.options.page_rows, token))
        if not fields:
            fields = [f.get("name") for f in (resp.get("schema") or {}).get("fields") or []]


def _params(location: str | None, max_results: int, token: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"maxResults": max_results, "timeoutMs": TIMEOUT_MS}
    if location:
        p["location"] = location
    if token:
        p["pageToken"] = token
    return p


__all__ = ["dry_run", "query"]
