"""A loopback fake of the Google Cloud APIs costdeck calls, built from the documented shapes.

One ThreadingHTTPServer on 127.0.0.1 (port 0) answers, with the paths of the real hosts (the
adapter's `endpoint` replaces every Google API host, paths unchanged):

* BigQuery v2 (shapes: the bigquery v2 discovery document, jobs.query / jobs.getQueryResults;
  QueryRequest, QueryResponse, GetQueryResultsResponse, TableRow {f:[{v}]}):
  `POST /bigquery/v2/projects/{p}/queries` and `GET /bigquery/v2/projects/{p}/queries/{jobId}`
  REALLY execute the SQL costdeck sends: it is parsed as BigQuery SQL by sqlglot, the billing
  export table names are mapped to the seeded DuckDB table (an unknown table is a 404 "Not
  found: Table"), NUMERIC becomes DECIMAL(38, 9) as in BigQuery, and the query runs in DuckDB
  against a table with the export's nested schema (service/sku/project/location/resource
  STRUCTs, labels and credits as ARRAY<STRUCT>, usage_start_time, _PARTITIONTIME, ...). A wrong
  query gives wrong numbers. Values come back as strings, as BigQuery's JSON does. Bytes
  processed = rows in the partitions the query's _PARTITIONTIME predicates keep x ROW_BYTES;
  billed = at least 10 MiB, rounded up to the MiB. dryRun answers the estimate only.
  `pending_polls` makes each job answer jobComplete:false that many times first; results are
  paged at min(maxResults, page_cap) rows with pageToken.
* Compute Engine v1: aggregated instances/disks/addresses/commitments, global snapshots/images
  (nextPageToken paging at `compute_page` items), single GETs, the mutations costdeck's
  executor makes (disks createSnapshot / delete, addresses delete, snapshots delete, images
  delete, instances stop) returning Operations that are DONE after `operation_polls` GETs/waits.
* Cloud Monitoring v3 timeSeries.list, Recommender v1 recommendations.list and Vertex AI v1
  customJobs.list, from the seeded world.

Faults: `add_fault(pattern, status, reason=..., times=n, retry_after=...)` answers a request
whose "METHOD path" matches the regex with a Google error body. Every request is recorded in
`received` (method, path, query, body). Tokens: Authorization Bearer must be in `tokens`; the
token "expired" gets 401 UNAUTHENTICATED.
Reference shapes: the BigQuery v2 and Recommender v1 discovery subsets copied into tests/data/gcp/
(with their origin in its README; tests/test_gcp_shapes.py checks the fake's answers against them);
nothing is read outside the repo.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROW_BYTES = 1500
MIB = 1 << 20
TOKEN = "fake-gcp-token"

EXPORT_DDL = """CREATE TABLE export_detailed (
  billing_account_id VARCHAR,
  service STRUCT(id VARCHAR, description VARCHAR),
  sku STRUCT(id VARCHAR, description VARCHAR),
  usage_start_time TIMESTAMPTZ,
  usage_end_time TIMESTAMPTZ,
  project STRUCT(id VARCHAR, number VARCHAR, name VARCHAR, labels STRUCT(key VARCHAR, value VARCHAR)[],
                 ancestry_numbers VARCHAR),
  labels STRUCT(key VARCHAR, value VARCHAR)[],
  system_labels STRUCT(key VARCHAR, value VARCHAR)[],
  location STRUCT(location VARCHAR, country VARCHAR, region VARCHAR, zone VARCHAR),
  resource STRUCT(name VARCHAR, global_name VARCHAR),
  export_time TIMESTAMPTZ,
  cost DOUBLE,
  currency VARCHAR,
  currency_conversion_rate DOUBLE,
  usage STRUCT(amount DOUBLE, unit VARCHAR, amount_in_pricing_units DOUBLE, pricing_unit VARCHAR),
  credits STRUCT(name VARCHAR, amount DOUBLE, full_name VARCHAR, id VARCHAR, type VARCHAR)[],
  invoice STRUCT(month VARCHAR),
  cost_type VARCHAR,
  cost_at_list DOUBLE,
  _PARTITIONTIME TIMESTAMPTZ
)"""

DETAILED = "billing-admin.billing_export.gcp_billing_export_resource_v1_010101_ABCDEF_123456"
STANDARD = "billing-admin.billing_export.gcp_billing_export_v1_010101_ABCDEF_123456"
BILLING_ACCOUNT = "010101-ABCDEF-123456"


@dataclass
class Line:
    """One seeded export row (money as decimal strings with at most 6 places: exact as FLOAT64)."""

    day: date
    project: str
    service: str
    sku: str
    cost: str
    region: str | None = "us-central1"
    zone: str | None = None
    resource: tuple[str, str] | None = None  # (name, global_name)
    labels: dict[str, str] = field(default_factory=dict)
    credits: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, amount)
    cost_at_list: str | None = None
    cost_type: str = "regular"
    hour: int = 0
    export_lag_days: int = 1
    currency: str = "USD"
    location: str | None = None  # location.location when there is no region ("us" multi-region, "global")

    @property
    def where(self) -> str:
        return self.region or self.location or "global"


PROJECT_NAMES = {"shop-prod": "Shop (prod)", "ml-research": "ML Research", "data-lake": "Data Lake"}
SERVICE_IDS = {"Compute Engine": "6F81-5844-456A", "Cloud Storage": "95FF-2EF5-5EA1", "BigQuery": "24E6-581D-38E5",
               "Vertex AI": "C7E2-9256-1C43", "Networking": "E505-1604-58F8"}


class FakeGcp:
    def __init__(self) -> None:
        import duckdb

        self.db = duckdb.connect(":memory:")
        self.db.execute("SET TimeZone='UTC'")
        self.db.execute(EXPORT_DDL)
        self.db.execute("CREATE VIEW export_standard AS SELECT * EXCLUDE (resource) FROM export_detailed")
        self.tables = {DETAILED: "export_detailed", STANDARD: "export_standard"}
        self.lines: list[Line] = []
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.tokens = {TOKEN}
        self.row_bytes = ROW_BYTES
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pending_polls = 0
        self.page_cap = 10_000
        self.compute_page = 3
        self.operation_polls = 1
        self.operations: dict[str, dict[str, Any]] = {}
        self.fail_ops: set[str] = set()  # target names whose operations end DONE with an error
        # the world: per project, Compute resources (real v1 shapes) and the other APIs' data
        self.instances: dict[str, list[dict[str, Any]]] = {}
        self.disks: dict[str, list[dict[str, Any]]] = {}
        self.addresses: dict[str, list[dict[str, Any]]] = {}
        self.snapshots: dict[str, list[dict[str, Any]]] = {}
        self.images: dict[str, list[dict[str, Any]]] = {}
        self.commitments: dict[str, list[dict[str, Any]]] = {}
        self.series: dict[str, list[dict[str, Any]]] = {}  # project -> timeSeries (all metrics)
        self.recommendations: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.custom_jobs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.machine_types: list[dict[str, Any]] = []  # offered in every zone
        self.skus: list[dict[str, Any]] = []  # Cloud Billing Catalog, Compute Engine service
        self.server: ThreadingHTTPServer | None = None

    # -- seeding ---------------------------------------------------------------------------
    def add_lines(self, lines: list[Line]) -> None:
        rows = []
        for ln in lines:
            start = datetime(ln.day.year, ln.day.month, ln.day.day, ln.hour, tzinfo=UTC)
            end = start + timedelta(hours=1)
            exported = start + timedelta(days=ln.export_lag_days, hours=2)
            part = datetime(exported.year, exported.month, exported.day, tzinfo=UTC)
            rows.append((
                BILLING_ACCOUNT,
                {"id": SERVICE_IDS.get(ln.service, "0000-0000-0000"), "description": ln.service},
                {"id": f"SKU-{abs(hash(ln.sku)) % 10000:04d}", "description": ln.sku},
                start, end,
                {"id": ln.project, "number": str(100000 + len(ln.project)), "name": PROJECT_NAMES.get(ln.project, ln.project),
                 "labels": [], "ancestry_numbers": "/1234/"},
                [{"key": k, "value": v} for k, v in ln.labels.items()],
                [],
                {"location": ln.where, "country": "US" if ln.region else None, "region": ln.region,
                 "zone": ln.zone},
                {"name": ln.resource[0], "global_name": ln.resource[1]} if ln.resource else {"name": None, "global_name": None},
                exported,
                float(ln.cost), ln.currency, 1.0,
                {"amount": 1.0, "unit": "seconds", "amount_in_pricing_units": 1.0, "pricing_unit": "hour"},
                [{"name": n, "amount": float(a), "full_name": n, "id": f"{t}-{n}"[:40], "type": t}
                 for t, n, a in ln.credits],
                {"month": ln.day.strftime("%Y%m")},
                ln.cost_type,
                float(ln.cost_at_list) if ln.cost_at_list is not None else None,
                part,
            ))
        import pyarrow as pa

        names = [r[0] for r in self.db.execute("DESCRIBE export_detailed").fetchall()]
        types = {r[0]: r[1] for r in self.db.execute("DESCRIBE export_detailed").fetchall()}
        batch = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])  # noqa: F841 - read by DuckDB
        cols = ", ".join(f'CAST("{n}" AS {types[n]})' for n in names)
        with self.lock:
            self.db.execute(f"INSERT INTO export_detailed SELECT {cols} FROM batch")
            self.lines.extend(lines)

    # -- expected figures (from the seed, in Decimal) ------------------------------------------
    def expected(self, by: str, metric: str, lo: date, hi: date) -> dict[str | None, Decimal]:
        out: dict[str | None, Decimal] = {}
        for ln in self.lines:
            if not lo <= ln.day < hi:
                continue
            key = {"sub_account_id": ln.project, "service_name": ln.service, "region_id": ln.where}[by]
            v = Decimal(ln.cost)
            if metric == "effective":
                v += sum((Decimal(a) for _, _, a in ln.credits), Decimal(0))
            out[key] = out.get(key, Decimal(0)) + v
        return out

    # -- faults and records ------------------------------------------------------------------
    def add_fault(self, pattern: str, status: int, *, reason: str | None = None, times: int = 1,
                  retry_after: str | None = None, message: str = "injected") -> None:
        with self.lock:
            self.faults.append({"re": re.compile(pattern), "status": status, "reason": reason, "times": times,
                                "retry_after": retry_after, "message": message})

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.received.clear()
        self.pending_polls = 0

    def calls(self, pattern: str) -> list[dict[str, Any]]:
        rx = re.compile(pattern)
        return [r for r in self.received if rx.search(f"{r['method']} {r['path']}")]

    def _fault(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            for f in self.faults:
                if f["times"] != 0 and f["re"].search(key):
                    if f["times"] > 0:
                        f["times"] -= 1
                    return f
        return None

    # -- BigQuery ------------------------------------------------------------------------------
    def transpile(self, sql: str) -> tuple[str, str | None]:
        """(DuckDB SQL, DuckDB SQL counting the rows of the partitions scanned)."""
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read="bigquery")
        local: str | None = None
        for t in list(tree.find_all(exp.Table)):
            parts = [p for p in (t.catalog, t.db, t.name) if p]
            full = ".".join(parts)
            if full in self.tables:
                local = self.tables[full]
                t.replace(exp.to_table(local).as_(t.alias) if t.alias else exp.to_table(local))
            elif len(parts) == 3:
                raise LookupError(f"Not found: Table {full} was not found in location US")
        for dt in list(tree.find_all(exp.DataType)):
            if dt.this == exp.DataType.Type.DECIMAL and not dt.expressions:
                dt.replace(exp.DataType.build("DECIMAL(38, 9)"))
        count_sql = None
        if local is not None:
            conds = []
            for sel in tree.find_all(exp.Select):
                frm = sel.args.get("from") or sel.args.get("from_")
                if frm is None or not any(isinstance(x, exp.Table) and x.name == local for x in frm.find_all(exp.Table)):
                    continue
                where = sel.args.get("where")
                if where is None:
                    continue
                for c in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
                    if any(col.name.upper() in ("_PARTITIONTIME", "_PARTITIONDATE") for col in c.find_all(exp.Column)):
                        conds.append(c.sql(dialect="duckdb"))
            count_sql = f"SELECT count(*) FROM {local}" + (f" WHERE {' AND '.join(conds)}" if conds else "")
        return tree.sql(dialect="duckdb"), count_sql

    def run_sql(self, sql: str) -> dict[str, Any]:
        duck, count_sql = self.transpile(sql)
        cur = self.db.cursor()
        try:
            cur.execute("SET TimeZone='UTC'")
            scanned = cur.execute(count_sql).fetchone()[0] if count_sql else 0
            res = cur.execute(duck)
            desc = res.description or []
            data = res.fetchall()
        finally:
            cur.close()
        fields = [{"name": d[0], "type": _bq_type(str(d[1])), "mode": "NULLABLE"} for d in desc]
        rows = [{"f": [{"v": _cell(v)} for v in row]} for row in data]
        processed = scanned * self.row_bytes
        billed = 0 if processed == 0 else max(10 * MIB, math.ceil(processed / MIB) * MIB)
        return {"fields": fields, "rows": rows, "processed": processed, "billed": billed}

    def bq_query(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("useLegacySql", True):
            return 400, _err(400, "invalidQuery", "Legacy SQL: set useLegacySql false")
        try:
            result = self.run_sql(str(body.get("query") or ""))
        except LookupError as exc:
            return 404, _err(404, "notFound", str(exc), "NOT_FOUND")
        except Exception as exc:  # noqa: BLE001 - a query the fake cannot run is an invalidQuery
            return 400, _err(400, "invalidQuery", " ".join(str(exc).split())[:300], "INVALID_ARGUMENT")
        if body.get("dryRun"):
            return 200, {"kind": "bigquery#queryResponse", "jobComplete": True, "totalBytesProcessed": str(result["processed"]),
                         "schema": {"fields": result["fields"]}, "cacheHit": False}
        job_id = "job_" + uuid.uuid4().hex[:16]
        job = {"result": result, "pending": self.pending_polls, "project": project,
               "max": int(body.get("maxResults") or 10_000)}
        self.jobs[job_id] = job
        ref = {"projectId": project, "jobId": job_id, "location": body.get("location") or "US"}
        if job["pending"] > 0:
            return 200, {"kind": "bigquery#queryResponse", "jobReference": ref, "jobComplete": False}
        return 200, self._page(job, ref, 0, job["max"], query=True)

    def _page(self, job: dict[str, Any], ref: dict[str, Any], offset: int, max_results: int, *,
              query: bool = False) -> dict[str, Any]:
        res = job["result"]
        n = max(1, min(max_results, self.page_cap))
        rows = res["rows"][offset:offset + n]
        out: dict[str, Any] = {
            "kind": "bigquery#queryResponse" if query else "bigquery#getQueryResultsResponse",
            "jobReference": ref, "jobComplete": True, "schema": {"fields": res["fields"]},
            "rows": rows, "totalRows": str(len(res["rows"])), "totalBytesProcessed": str(res["processed"]),
            "cacheHit": False,
        }
        if query:
            out["totalBytesBilled"] = str(res["billed"])
        if offset + n < len(res["rows"]):
            out["pageToken"] = f"tok{offset + n}"
        return out

    def bq_results(self, project: str, job_id: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None or job["project"] != project:
            return 404, _err(404, "notFound", f"Not found: Job {project}:{job_id}", "NOT_FOUND")
        ref = {"projectId": project, "jobId": job_id, "location": q.get("location", "US")}
        with self.lock:
            if job["pending"] > 0:
                job["pending"] -= 1
                return 200, {"kind": "bigquery#getQueryResultsResponse", "jobReference": ref, "jobComplete": False}
        token = q.get("pageToken")
        offset = int(token[3:]) if token and token.startswith("tok") else 0
        return 200, self._page(job, ref, offset, int(q.get("maxResults") or job["max"]))

    def bq_job(self, project: str, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None or job["project"] != project:
            return 404, _err(404, "notFound", f"Not found: Job {project}:{job_id}", "NOT_FOUND")
        res = job["result"]
        done = job["pending"] <= 0
        return 200, {"kind": "bigquery#job", "id": f"{project}:US.{job_id}",
                     "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
                     "status": {"state": "DONE" if done else "RUNNING"},
                     "statistics": {"totalBytesProcessed": str(res["processed"]),
                                    "query": {"totalBytesProcessed": str(res["processed"]),
                                              "totalBytesBilled": str(res["billed"]), "cacheHit": False}}}

    # -- HTTP ---------------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body in one write (no 40 ms delayed-ACK stall per request)
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def _go(self, method: str) -> None:
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with fake.lock:
                    fake.received.append({"method": method, "path": parts.path, "query": q, "body": body})
                status, payload, headers = fake.handle(method, parts.path, q, body, self.headers.get("Authorization"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._go("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._go("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._go("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, method: str, path: str, q: dict[str, str], body: Any,
               auth: str | None) -> tuple[int, Any, dict[str, str]]:
        key = f"{method} {path}"
        f = self._fault(key)
        if f is not None:
            hdrs = {"Retry-After": f["retry_after"]} if f["retry_after"] else {}
            status_name = {429: "RESOURCE_EXHAUSTED", 403: "PERMISSION_DENIED", 500: "INTERNAL",
                           503: "UNAVAILABLE"}.get(f["status"], "FAILED_PRECONDITION")
            return f["status"], _err(f["status"], f["reason"] or status_name.lower(), f["message"], status_name), hdrs
        token = (auth or "").removeprefix("Bearer ").strip()
        if token == "expired" or token not in self.tokens:
            return 401, _err(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 "
                             "access token, login cookie or other valid authentication credential.",
                             "UNAUTHENTICATED"), {}
        for rx, meth, fn in self.routes():
            m = rx.fullmatch(path)
            if m and meth == method:
                status, payload = fn(q, body, *m.groups())
                return status, payload, {}
        return 404, _err(404, "notFound", f"no route {key}", "NOT_FOUND"), {}

    def routes(self) -> list[tuple[re.Pattern[str], str, Any]]:
        P = r"([a-z][a-z0-9-]+)"  # noqa: N806
        S = r"([^/]+)"  # noqa: N806
        return [
            (re.compile(rf"/bigquery/v2/projects/{P}/queries"), "POST", lambda q, b, p: self.bq_query(p, b or {})),
            (re.compile(rf"/bigquery/v2/projects/{P}/queries/{S}"), "GET", lambda q, b, p, j: self.bq_results(p, j, q)),
            (re.compile(rf"/bigquery/v2/projects/{P}/jobs/{S}"), "GET", lambda q, b, p, j: self.bq_job(p, j)),
            (re.compile(rf"/compute/v1/projects/{P}/aggregated/{S}"), "GET", self.aggregated),
            (re.compile(rf"/compute/v1/projects/{P}/global/(snapshots|images)"), "GET", self.global_list),
            (re.compile(rf"/compute/v1/projects/{P}/global/(snapshots|images)/{S}"), "GET", self.global_get),
            (re.compile(rf"/compute/v1/projects/{P}/global/(snapshots|images)/{S}"), "DELETE", self.global_delete),
            (re.compile(rf"/compute/v1/projects/{P}/zones/{S}/(disks|instances)/{S}"), "GET", self.zonal_get),
            (re.compile(rf"/compute/v1/projects/{P}/zones/{S}/disks/{S}"), "DELETE", self.disk_delete),
            (re.compile(rf"/compute/v1/projects/{P}/zones/{S}/disks/{S}/createSnapshot"), "POST", self.disk_snapshot),
            (re.compile(rf"/compute/v1/projects/{P}/zones/{S}/instances/{S}/stop"), "POST", self.instance_stop),
            (re.compile(rf"/compute/v1/projects/{P}/regions/{S}/addresses/{S}"), "GET", self.address_get),
            (re.compile(rf"/compute/v1/projects/{P}/regions/{S}/addresses/{S}"), "DELETE", self.address_delete),
            (re.compile(rf"/compute/v1/projects/{P}/(zones|regions|global)/?([^/]*)/operations/{S}"), "GET",
             lambda q, b, p, scope, where, op: self.operation(op)),
            (re.compile(rf"/compute/v1/projects/{P}/(zones|regions|global)/?([^/]*)/operations/{S}/wait"), "POST",
             lambda q, b, p, scope, where, op: self.operation(op)),
            (re.compile(rf"/compute/v1/projects/{P}/zones/{S}/machineTypes"), "GET",
             lambda q, b, p, z: _paged(q, [{**m, "zone": z} for m in self.machine_types], "items", 4, "maxResults")),
            (re.compile(r"/v1/services/6F81-5844-456A/skus"), "GET", lambda q, b: _paged(q, self.skus, "skus", 3)),
            (re.compile(rf"/v3/projects/{P}/timeSeries"), "GET", self.time_series),
            (re.compile(rf"/v1/projects/{P}/locations/{S}/recommenders/{S}/recommendations"), "GET", self.recommend),
            (re.compile(rf"/v1/projects/{P}/locations/{S}/customJobs"), "GET", self.jobs_list),
        ]

    # -- Compute --------------------------------------------------------------------------------
    def _store(self, kind: str) -> dict[str, list[dict[str, Any]]]:
        return {"instances": self.instances, "disks": self.disks, "addresses": self.addresses,
                "commitments": self.commitments, "snapshots": self.snapshots, "images": self.images}[kind]

    def aggregated(self, q: dict[str, str], body: Any, project: str, kind: str) -> tuple[int, Any]:
        items = self._store(kind).get(project, []) if kind in ("instances", "disks", "addresses", "commitments") else None
        if items is None:
            return 404, _err(404, "notFound", f"unknown collection {kind}", "NOT_FOUND")
        start = int(q.get("pageToken", "0") or 0)
        n = min(int(q.get("maxResults") or 500), self.compute_page)
        page = items[start:start + n]
        grouped: dict[str, Any] = {}
        for it in page:
            scope = "zones/" + it["zone"].rsplit("/", 1)[-1] if "zone" in it else "regions/" + it["region"].rsplit("/", 1)[-1]
            grouped.setdefault(scope, {kind: []})[kind].append(it)
        grouped.setdefault("zones/asia-east1-a", {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no "
                                                               "results for scope 'zones/asia-east1-a' on this page.",
                                                               "data": [{"key": "scope", "value": "zones/asia-east1-a"}]}})
        out: dict[str, Any] = {"kind": f"compute#{kind[:-1]}AggregatedList", "id": f"projects/{project}/aggregated/{kind}",
                               "items": grouped, "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/aggregated/{kind}"}
        if start + n < len(items):
            out["nextPageToken"] = str(start + n)
        return 200, out

    def global_list(self, q: dict[str, str], body: Any, project: str, kind: str) -> tuple[int, Any]:
        items = self._store(kind).get(project, [])
        start = int(q.get("pageToken", "0") or 0)
        n = min(int(q.get("maxResults") or 500), self.compute_page)
        out: dict[str, Any] = {"kind": f"compute#{kind[:-1]}List", "items": items[start:start + n]}
        if start + n < len(items):
            out["nextPageToken"] = str(start + n)
        return 200, out

    def _find(self, kind: str, project: str, name: str) -> dict[str, Any] | None:
        return next((x for x in self._store(kind).get(project, []) if x["name"] == name), None)

    def global_get(self, q: dict[str, str], body: Any, project: str, kind: str, name: str) -> tuple[int, Any]:
        x = self._find(kind, project, name)
        return (200, x) if x else (404, _err(404, "notFound", f"The resource '{kind}/{name}' was not found", "NOT_FOUND"))

    def zonal_get(self, q: dict[str, str], body: Any, project: str, zone: str, kind: str, name: str) -> tuple[int, Any]:
        return self.global_get(q, body, project, kind, name)

    def address_get(self, q: dict[str, str], body: Any, project: str, region: str, name: str) -> tuple[int, Any]:
        return self.global_get(q, body, project, "addresses", name)

    def _op(self, project: str, scope: str, kind: str, target: str, effect: Any) -> dict[str, Any]:
        op_id = "operation-" + uuid.uuid4().hex[:12]
        op = {"kind": "compute#operation", "id": str(len(self.operations) + 1), "name": op_id, "operationType": kind,
              "targetLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{target}", "status": "RUNNING",
              "progress": 0, "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/{scope}/operations/{op_id}"}
        if "/" in scope:
            op[scope.split("/")[0][:-1]] = f"https://www.googleapis.com/compute/v1/projects/{project}/{scope}"
        self.operations[op_id] = {"op": op, "polls": self.operation_polls, "effect": effect}
        return copy.deepcopy(op)

    def operation(self, op_id: str) -> tuple[int, Any]:
        rec = self.operations.get(op_id)
        if rec is None:
            return 404, _err(404, "notFound", f"operation {op_id} not found", "NOT_FOUND")
        with self.lock:
            if rec["polls"] > 0:
                rec["polls"] -= 1
                return 200, copy.deepcopy(rec["op"])
            if rec["op"]["status"] != "DONE":
                if rec["op"]["targetLink"].rsplit("/", 1)[-1] in self.fail_ops:
                    rec["op"]["error"] = {"errors": [{"code": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                                                      "message": "injected operation failure"}]}
                else:
                    rec["effect"]()
                rec["op"].update(status="DONE", progress=100)
        return 200, copy.deepcopy(rec["op"])

    def _remove(self, kind: str, project: str, name: str) -> None:
        lst = self._store(kind).get(project, [])
        lst[:] = [x for x in lst if x["name"] != name]

    def global_delete(self, q: dict[str, str], body: Any, project: str, kind: str, name: str) -> tuple[int, Any]:
        if not self._find(kind, project, name):
            return self.global_get(q, body, project, kind, name)
        return 200, self._op(project, "global", "delete", f"global/{kind}/{name}", lambda: self._remove(kind, project, name))

    def disk_delete(self, q: dict[str, str], body: Any, project: str, zone: str, name: str) -> tuple[int, Any]:
        d = self._find("disks", project, name)
        if not d:
            return self.global_get(q, body, project, "disks", name)
        if d.get("users"):
            return 400, _err(400, "resourceInUseByAnotherResource", f"The disk resource '{name}' is already being used",
                             "FAILED_PRECONDITION")
        return 200, self._op(project, f"zones/{zone}", "delete", f"zones/{zone}/disks/{name}",
                             lambda: self._remove("disks", project, name))

    def disk_snapshot(self, q: dict[str, str], body: Any, project: str, zone: str, name: str) -> tuple[int, Any]:
        d = self._find("disks", project, name)
        if not d:
            return self.global_get(q, body, project, "disks", name)
        snap_name = (body or {}).get("name") or f"{name}-snap"

        def make() -> None:
            self.snapshots.setdefault(project, []).append({
                "kind": "compute#snapshot", "id": str(uuid.uuid4().int % 10**18), "name": snap_name, "status": "READY",
                "sourceDisk": d["selfLink"], "diskSizeGb": d.get("sizeGb"), "storageBytes": "0",
                "creationTimestamp": "2025-03-15T04:00:00.000-07:00",
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/global/snapshots/{snap_name}"})
        return 200, self._op(project, f"zones/{zone}", "createSnapshot", f"zones/{zone}/disks/{name}", make)

    def instance_stop(self, q: dict[str, str], body: Any, project: str, zone: str, name: str) -> tuple[int, Any]:
        inst = self._find("instances", project, name)
        if not inst:
            return self.global_get(q, body, project, "instances", name)
        return 200, self._op(project, f"zones/{zone}", "stop", f"zones/{zone}/instances/{name}",
                             lambda: inst.update(status="TERMINATED"))

    def address_delete(self, q: dict[str, str], body: Any, project: str, region: str, name: str) -> tuple[int, Any]:
        a = self._find("addresses", project, name)
        if not a:
            return self.global_get(q, body, project, "addresses", name)
        return 200, self._op(project, f"regions/{region}", "delete", f"regions/{region}/addresses/{name}",
                             lambda: self._remove("addresses", project, name))

    # -- Monitoring, Recommender, Vertex AI -------------------------------------------------------
    def time_series(self, q: dict[str, str], body: Any, project: str) -> tuple[int, Any]:
        flt = q.get("filter", "")
        m = re.search(r'metric\.type\s*=\s*"([^"]+)"', flt)
        if not m:
            return 400, _err(400, "badRequest", "filter must name a metric.type", "INVALID_ARGUMENT")
        metric = m.group(1)
        aligner = q.get("aggregation.perSeriesAligner", "ALIGN_NONE")
        period = q.get("aggregation.alignmentPeriod", "")
        start = q.get("interval.startTime")
        end = q.get("interval.endTime")
        if not start or not end:
            return 400, _err(400, "badRequest", "interval.startTime and interval.endTime are required", "INVALID_ARGUMENT")
        lo, hi = _ts(start), _ts(end)
        out = []
        for s in self.series.get(project, []):
            if s["metric"]["type"] != metric:
                continue
            if period != "3600s":
                return 400, _err(400, "badRequest", "the fake supports alignmentPeriod 3600s only", "INVALID_ARGUMENT")
            fn = {"ALIGN_MEAN": lambda xs: sum(xs) / len(xs), "ALIGN_MAX": max, "ALIGN_RATE": lambda xs: sum(xs) / 3600.0}
            if aligner not in fn:
                return 400, _err(400, "badRequest", f"unsupported aligner {aligner}", "INVALID_ARGUMENT")
            if "hourly" not in s:  # the raw points bucketed by hour once
                buckets: dict[datetime, list[float]] = {}
                for t, v in s["raw"]:
                    buckets.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(v)
                s["hourly"] = sorted(buckets.items(), reverse=True)
            # an aligned point covers (start, end]: the hour's raw points fall inside [lo, hi)
            points = [{"interval": {"startTime": _iso(b), "endTime": _iso(b + timedelta(hours=1))},
                       "value": {"doubleValue": fn[aligner](xs)}} for b, xs in s["hourly"] if lo <= b and b + timedelta(hours=1) <= hi]
            out.append({"metric": s["metric"], "resource": s["resource"], "metricKind": "GAUGE",
                        "valueType": "DOUBLE", "points": points})
        return _paged(q, out, "timeSeries", 2)

    def recommend(self, q: dict[str, str], body: Any, project: str, location: str, rec: str) -> tuple[int, Any]:
        items = self.recommendations.get((project, location, rec), [])
        return _paged(q, items, "recommendations", 2)

    def jobs_list(self, q: dict[str, str], body: Any, project: str, location: str) -> tuple[int, Any]:
        return _paged(q, self.custom_jobs.get((project, location), []), "customJobs", 2)


def _paged(q: dict[str, str], items: list[Any], key: str, size: int, size_param: str = "pageSize") -> tuple[int, Any]:
    start = int(q.get("pageToken", "0") or 0)
    n = min(int(q.get(size_param) or size), size)
    out: dict[str, Any] = {key: items[start:start + n]} if items else {}
    if start + n < len(items):
        out["nextPageToken"] = str(start + n)
    return 200, out


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _err(code: int, reason: str, message: str, status: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status or "",
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def _bq_type(duck: str) -> str:
    d = duck.upper()
    if d.startswith("DECIMAL"):
        return "NUMERIC"
    if d in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT"):
        return "INTEGER"
    if d in ("DOUBLE", "FLOAT"):
        return "FLOAT"
    if d.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    if d == "DATE":
        return "DATE"
    if d == "BOOLEAN":
        return "BOOLEAN"
    return "STRING"


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):
        return str(int(v.timestamp() * 1_000_000))
    return str(v)


def iter_days(lo: date, hi: date) -> Iterator[date]:
    d = lo
    while d < hi:
        yield d
        d += timedelta(days=1)


__all__ = ["BILLING_ACCOUNT", "DETAILED", "STANDARD", "TOKEN", "FakeGcp", "Line", "iter_days"]


# -- a seeded world: two projects' Compute inventory, utilization, advice, CUDs and Vertex AI jobs ----------

API = "https://www.googleapis.com/compute/v1/projects"


def _ts_pacific(t: datetime) -> str:
    """Compute's creationTimestamp format (RFC 3339 with the Pacific offset)."""
    return (t - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S.000-07:00")


def instance(project: str, zone: str, name: str, mtype: str, status: str, disks: list[str], *, created: datetime,
             spot: bool = False, labels: dict[str, str] | None = None, stopped: datetime | None = None,
             ip: str | None = None) -> dict[str, Any]:
    inst: dict[str, Any] = {
        "kind": "compute#instance", "id": str(abs(hash((project, name))) % 10**18), "name": name,
        "zone": f"{API}/{project}/zones/{zone}", "machineType": f"{API}/{project}/zones/{zone}/machineTypes/{mtype}",
        "status": status, "creationTimestamp": _ts_pacific(created), "cpuPlatform": "Intel Cascade Lake",
        "scheduling": {"provisioningModel": "SPOT" if spot else "STANDARD", "preemptible": False,
                       "automaticRestart": not spot, "onHostMaintenance": "TERMINATE" if spot else "MIGRATE"},
        "disks": [{"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": "READ_WRITE", "boot": i == 0,
                   "deviceName": d, "index": i, "source": f"{API}/{project}/zones/{zone}/disks/{d}"}
                  for i, d in enumerate(disks)],
        "networkInterfaces": [{"name": "nic0", "network": f"{API}/{project}/global/networks/default",
                               "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "natIP": ip}] if ip else []}],
        "labels": labels or {}, "selfLink": f"{API}/{project}/zones/{zone}/instances/{name}",
    }
    if stopped is not None:
        inst["lastStopTimestamp"] = _ts_pacific(stopped)
    return inst


def disk(project: str, zone: str, name: str, size: int, users: list[str], *, created: datetime,
         dtype: str = "pd-balanced", image: str | None = None, detached: datetime | None = None,
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "kind": "compute#disk", "id": str(abs(hash((project, "disk", name))) % 10**18), "name": name,
        "zone": f"{API}/{project}/zones/{zone}", "sizeGb": str(size), "status": "READY",
        "type": f"{API}/{project}/zones/{zone}/diskTypes/{dtype}", "creationTimestamp": _ts_pacific(created),
        "users": [f"{API}/{project}/zones/{zone}/instances/{u}" for u in users], "labels": labels or {},
        "selfLink": f"{API}/{project}/zones/{zone}/disks/{name}",
    }
    if image:
        d["sourceImage"] = f"{API}/{project}/global/images/{image}"
    if detached is not None:
        d["lastDetachTimestamp"] = _ts_pacific(detached)
    return d


def address(project: str, region: str, name: str, ip: str, user: str | None, *, created: datetime) -> dict[str, Any]:
    a: dict[str, Any] = {
        "kind": "compute#address", "id": str(abs(hash((project, "addr", name))) % 10**18), "name": name, "address": ip,
        "region": f"{API}/{project}/regions/{region}", "status": "IN_USE" if user else "RESERVED",
        "addressType": "EXTERNAL", "networkTier": "PREMIUM", "creationTimestamp": _ts_pacific(created),
        "selfLink": f"{API}/{project}/regions/{region}/addresses/{name}",
    }
    if user:
        a["users"] = [f"{API}/{project}/zones/{region}-a/instances/{user}"]
    return a


def snapshot(project: str, name: str, source_zone: str, source_disk: str, size: int, *,
             created: datetime) -> dict[str, Any]:
    return {"kind": "compute#snapshot", "id": str(abs(hash((project, "snap", name))) % 10**18), "name": name,
            "status": "READY", "sourceDisk": f"{API}/{project}/zones/{source_zone}/disks/{source_disk}",
            "diskSizeGb": str(size), "storageBytes": str(size * 300_000_000), "storageLocations": ["us"],
            "creationTimestamp": _ts_pacific(created), "selfLink": f"{API}/{project}/global/snapshots/{name}"}


def image(project: str, name: str, size: int, *, created: datetime, family: str = "base") -> dict[str, Any]:
    return {"kind": "compute#image", "id": str(abs(hash((project, "img", name))) % 10**18), "name": name,
            "family": family, "status": "READY", "diskSizeGb": str(size), "archiveSizeBytes": str(size * 10**8),
            "creationTimestamp": _ts_pacific(created), "selfLink": f"{API}/{project}/global/images/{name}"}


def cpu_series(project: str, zone: str, name: str, level: float, now: datetime, days: int = 35) -> list[dict[str, Any]]:
    """Raw CPU (fraction) and network (bytes per sample) points, two per hour, for `days` days."""
    base = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=days)
    cpu, rx, tx = [], [], []
    t = base
    k = 0
    while t < now:
        for minute, wobble in ((15, 0.8), (45, 1.2)):
            at = t + timedelta(minutes=minute)
            cpu.append((at, min(1.0, level * wobble)))
            rx.append((at, level * 2e8 * wobble))
            tx.append((at, level * 1e8 * wobble))
        t += timedelta(hours=1)
        k += 1
    res = {"type": "gce_instance", "labels": {"project_id": project, "zone": zone,
                                              "instance_id": str(abs(hash((project, name))) % 10**18)}}
    return [{"metric": {"type": mt, "labels": {"instance_name": name}}, "resource": res, "raw": pts}
            for mt, pts in (("compute.googleapis.com/instance/cpu/utilization", cpu),
                            ("compute.googleapis.com/instance/network/received_bytes_count", rx),
                            ("compute.googleapis.com/instance/network/sent_bytes_count", tx))]


def recommendation(project: str, location: str, recommender: str, rid: str, units: int, *,
                   description: str, ops: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Recommender v1 Recommendation (recommender v1 discovery: Recommendation, CostProjection, Money)."""
    return {
        "name": f"projects/{project}/locations/{location}/recommenders/{recommender}/recommendations/{uuid.uuid4()}",
        "description": description, "recommenderSubtype": "STOP_VM" if "instance.Idle" in recommender else "CHANGE",
        "lastRefreshTime": "2025-03-14T06:00:00Z", "priority": "P2", "etag": '"abc"',
        "primaryImpact": {"category": "COST", "costProjection": {
            "cost": {"currencyCode": "USD", "units": str(-units), "nanos": -500_000_000}, "duration": "2592000s"}},
        "stateInfo": {"state": "ACTIVE"}, "targetResources": [rid],
        "content": {"operationGroups": [{"operations": ops or [
            {"action": "test", "resourceType": "compute.googleapis.com/Instance", "resource": rid, "path": "/status",
             "value": "RUNNING"}]}]},
    }


def custom_job(project: str, region: str, job_id: str, name: str, state: str, start: datetime,
               end: datetime | None, labels: dict[str, str], mtype: str = "n1-standard-8", replicas: int = 1,
               gpu: tuple[str, int] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"machineType": mtype}
    if gpu:
        spec.update(acceleratorType=gpu[0], acceleratorCount=gpu[1])
    job: dict[str, Any] = {
        "name": f"projects/{project}/locations/{region}/customJobs/{job_id}", "displayName": name, "state": state,
        "createTime": _iso(start - timedelta(minutes=3)), "startTime": _iso(start), "updateTime": _iso(end or start),
        "labels": labels,
        "jobSpec": {"workerPoolSpecs": [{"machineSpec": spec, "replicaCount": str(replicas),
                                         "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
                                         "containerSpec": {"imageUri": "us-docker.pkg.dev/p/train:1"}}]},
    }
    if end:
        job["endTime"] = _iso(end)
    return job


def sku(desc: str, regions: list[str], units: int, nanos: int, unit: str = "h",
        usage: str = "OnDemand") -> dict[str, Any]:
    """A Cloud Billing Catalog Sku (cloudbilling v1: Sku, Category, PricingInfo, TierRate, Money)."""
    return {"name": f"services/6F81-5844-456A/skus/{abs(hash(desc + usage)) % 10**12:012d}",
            "skuId": f"{abs(hash(desc + usage)) % 10**4:04X}-0000-0000", "description": desc,
            "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                         "resourceGroup": "CPU" if "Core" in desc else "RAM", "usageType": usage},
            "serviceRegions": regions,
            "pricingInfo": [{"pricingExpression": {"usageUnit": unit, "displayQuantity": 1,
                                                   "tieredRates": [{"startUsageAmount": 0, "unitPrice": {
                                                       "currencyCode": "USD", "units": str(units), "nanos": nanos}}]},
                             "currencyConversionRate": 1, "effectiveTime": "2025-03-01T00:00:00Z"}]}


def seed_catalog(fake: FakeGcp) -> None:
    """Machine types (n2/e2/n1 standard sizes) and their core/RAM SKUs (list prices of us-central1)."""
    for series, sizes, ratio in (("n2-standard", (2, 4, 8, 16), 4), ("e2-standard", (2, 4, 8), 4),
                                 ("n1-standard", (1, 2, 4, 8), 3.75), ("e2-medium", (), 0)):
        for n in sizes:
            fake.machine_types.append({"kind": "compute#machineType", "name": f"{series}-{n}", "guestCpus": n,
                                       "memoryMb": int(n * ratio * 1024), "isSharedCpu": False})
    fake.machine_types.append({"kind": "compute#machineType", "name": "e2-medium", "guestCpus": 2,
                               "memoryMb": 4096, "isSharedCpu": True})
    us, eu = ["us-central1", "us-east1"], ["europe-west4"]
    fake.skus += [
        sku("N2 Instance Core running in Americas", us, 0, 31_611_000),
        sku("N2 Instance Ram running in Americas", us, 0, 4_237_000, unit="GiBy.h"),
        sku("E2 Instance Core running in Americas", us, 0, 21_811_590),
        sku("E2 Instance Ram running in Americas", us, 0, 2_923_300, unit="GiBy.h"),
        sku("N1 Predefined Instance Core running in EMEA", eu, 0, 34_802_000),
        sku("N1 Predefined Instance Ram running in EMEA", eu, 0, 4_664_000, unit="GiBy.h"),
        sku("N1 Predefined Instance Core running in Americas", us, 0, 31_611_000),
        sku("N1 Predefined Instance Ram running in Americas", us, 0, 4_237_000, unit="GiBy.h"),
        sku("N2 Instance Core running in Americas", us, 0, 7_650_000, usage="Preemptible"),
        sku("Commitment v1: N2 Cpu in Americas for 1 Year", us, 0, 19_915_000, usage="Commit1Yr"),
    ]


def reset_world(fake: FakeGcp, now: datetime) -> None:
    """The world as seed_world left it (after a test changed it): same server, same URL."""
    for store in (fake.instances, fake.disks, fake.addresses, fake.snapshots, fake.images, fake.commitments,
                  fake.series, fake.recommendations, fake.custom_jobs):
        store.clear()  # type: ignore[attr-defined]
    fake.machine_types.clear()
    fake.skus.clear()
    fake.operations.clear()
    fake.fail_ops.clear()
    fake.clear()
    seed_world(fake, now)


def seed_world(fake: FakeGcp, now: datetime) -> None:
    d = lambda days: now - timedelta(days=days)  # noqa: E731
    p, z = "shop-prod", "us-central1-a"
    fake.instances[p] = [
        instance(p, z, "web-1", "n2-standard-4", "RUNNING", ["web-1"], created=d(200), labels={"team": "web"},
                 ip="34.1.2.3"),
        instance(p, z, "batch-1", "n2-standard-8", "RUNNING", ["batch-1"], created=d(120), labels={"team": "data"}),
        instance(p, z, "old-vm", "e2-standard-4", "TERMINATED", ["old-vm", "old-vm-data"], created=d(300),
                 stopped=d(40), labels={"team": "web"}),
        instance(p, z, "spot-1", "e2-standard-2", "RUNNING", ["spot-1"], created=d(50), spot=True),
        instance(p, z, "sleepy", "e2-medium", "SUSPENDED", ["sleepy"], created=d(90), stopped=d(10)),
        instance(p, z, "api-1", "n2-standard-8", "RUNNING", ["api-1"], created=d(100), labels={"team": "web"}),
    ]
    fake.disks[p] = [
        disk(p, z, "web-1", 50, ["web-1"], created=d(200), image="img-used"),
        disk(p, z, "batch-1", 100, ["batch-1"], created=d(120)),
        disk(p, z, "old-vm", 20, ["old-vm"], created=d(300)),
        disk(p, z, "old-vm-data", 200, ["old-vm"], created=d(300), dtype="pd-ssd"),
        disk(p, z, "spot-1", 10, ["spot-1"], created=d(50)),
        disk(p, z, "sleepy", 10, ["sleepy"], created=d(90)),
        disk(p, z, "api-1", 30, ["api-1"], created=d(100)),
        disk(p, z, "old-data", 500, [], created=d(150), detached=d(60), dtype="pd-standard", labels={"team": "web"}),
    ]
    fake.addresses[p] = [address(p, "us-central1", "web-ip", "34.1.2.3", "web-1", created=d(200)),
                         address(p, "us-central1", "idle-ip", "34.9.9.9", None, created=d(90))]
    fake.snapshots[p] = [snapshot(p, "web-1-nightly", z, "web-1", 50, created=d(2)),
                         snapshot(p, "snap-orphan", z, "deleted-disk", 300, created=d(200))]
    fake.images[p] = [image(p, "img-used", 50, created=d(250)), image(p, "img-old", 30, created=d(400))]
    fake.commitments[p] = [{
        "kind": "compute#commitment", "id": "77001", "name": "cud-n2", "region": f"{API}/{p}/regions/us-central1",
        "status": "ACTIVE", "plan": "TWELVE_MONTH", "type": "GENERAL_PURPOSE_N2", "category": "MACHINE",
        "startTimestamp": _ts_pacific(d(100)), "endTimestamp": _ts_pacific(d(100) + timedelta(days=365)),
        "resources": [{"type": "VCPU", "amount": "8"}, {"type": "MEMORY", "amount": "32768"}],
        "selfLink": f"{API}/{p}/regions/us-central1/commitments/cud-n2"}]
    fake.series[p] = (cpu_series(p, z, "web-1", 0.45, now) + cpu_series(p, z, "batch-1", 0.01, now)
                      + cpu_series(p, z, "spot-1", 0.01, now) + cpu_series(p, z, "api-1", 0.15, now))
    web1 = "//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/web-1"
    batch1 = "//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/batch-1"
    fake.recommendations[(p, z, "google.compute.instance.IdleResourceRecommender")] = [
        recommendation(p, z, "google.compute.instance.IdleResourceRecommender", batch1, 180,
                       description="Save cost by stopping Idle VM 'batch-1'.")]
    fake.recommendations[(p, z, "google.compute.instance.MachineTypeRecommender")] = [
        recommendation(p, z, "google.compute.instance.MachineTypeRecommender", web1, 60,
                       description="Save cost by changing machine type from n2-standard-4 to n2-standard-2.",
                       ops=[{"action": "test", "resource": web1, "path": "/machineType",
                             "value": f"zones/{z}/machineTypes/n2-standard-4"},
                            {"action": "replace", "resource": web1, "path": "/machineType",
                             "value": f"zones/{z}/machineTypes/n2-standard-2"}])]
    fake.recommendations[(p, z, "google.compute.disk.IdleResourceRecommender")] = [
        recommendation(p, z, "google.compute.disk.IdleResourceRecommender",
                       "//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/disks/old-data", 20,
                       description="Save cost by snapshotting and then deleting idle persistent disk 'old-data'.")]
    seed_catalog(fake)
    m, mz = "ml-research", "europe-west4-a"
    fake.instances[m] = [instance(m, mz, "notebook", "n1-standard-8", "RUNNING", ["notebook"], created=d(30),
                                  labels={"team": "ml"})]
    fake.disks[m] = [disk(m, mz, "notebook", 200, ["notebook"], created=d(30))]
    fake.series[m] = cpu_series(m, mz, "notebook", 0.3, now)
    fake.custom_jobs[(m, "europe-west4")] = [
        custom_job(m, "europe-west4", "1001", "resnet-run-1", "JOB_STATE_SUCCEEDED", d(3), d(3) + timedelta(hours=5),
                   {"costdeck-run": "resnet-1", "task": "resnet"}, gpu=("NVIDIA_TESLA_T4", 1)),
        custom_job(m, "europe-west4", "1002", "resnet-run-2", "JOB_STATE_FAILED", d(2), d(2) + timedelta(hours=1),
                   {"task": "resnet"}, replicas=2),
        custom_job(m, "europe-west4", "1003", "bert-1", "JOB_STATE_RUNNING", now - timedelta(hours=2), None,
                   {"task": "bert"}),
    ]
