"""cost_source = "export": Cost Management FOCUS exports read from a storage container.

Large EA/MCA accounts export their cost details (FOCUS, `type = FocusCost`) to a storage
container; every run writes its part files and a `manifest.json` under
`{export_path}/{YYYYMMDD-YYYYMMDD}/{run id}/` (export_path = the export's root folder path and
name). The manifest (Cost Management exports, manifestVersion 2024-04-01) names the run
(`runInfo.runId`, `submittedTime`, `startDate`, `endDate`), the export (`exportConfig.type`,
`dataVersion`) and its part files (`blobs[].blobName`, `byteCount`, `dataRowCount`).

Per sync:

1. List the blobs under `export_path/` (Blob REST `List Blobs`, `restype=container&comp=list`,
   `NextMarker` pages): the manifests are the `.../manifest.json` blobs; their folder names the
   month (`YYYYMMDD-YYYYMMDD`).
2. For each month that overlaps the sync's cost window: read its runs' manifests and keep the
   NEWEST run (latest `submittedTime`); a month's older runs are superseded (an export re-run
   for late charges writes a new run of the whole month).
3. Download that run's part files to a temporary directory (each checked against the manifest's
   byteCount: a partial upload is refused with one line) and feed them to the FOCUS importer's
   reader (providers/focus), which aggregates them to daily grain inside DuckDB, out of core: the
   export's rows never pass through Python, only the daily rows do.
4. Write those daily rows with `ctx.write_costs` in ONE transaction over the whole months read
   (the window becomes [first month's first day, last month's end)): a month without any export
   run keeps its previous rows.

Access: Blob REST over httpx through providers.http.RestClient (every request counted, throttling
and 5xx retried, x-ms-version 2021-08-06) with a bearer token for `https://storage.azure.com/.default`
from DefaultAzureCredential. For an emulator (Azurite) only, with a loopback container URL, the
account key in COSTDECK_AZURE_STORAGE_KEY signs the requests (Shared Key); that variable is refused
with any other URL (exit 2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cache import CostRow
from providers.base import StepError, SyncContext
from providers.http import RestClient, emulator_token, is_loopback

from . import session as az_session
from .session import AzureSession

if TYPE_CHECKING:
    import httpx

KEY_ENV = "COSTDECK_AZURE_STORAGE_KEY"
STORAGE_SCOPE = "https://storage.azure.com/.default"
X_MS_VERSION = "2021-08-06"
_FOLDER = re.compile(r"/(\d{8})-(\d{8})/([^/]+)/manifest\.json$")


# -- Shared Key (emulator only) -------------------------------------------------------------------

def shared_key_signature(account: str, key: str, method: str, url: str, headers: dict[str, str]) -> str:
    """The `Authorization: SharedKey` header value of a Blob request (version 2009-09-19 and later)."""
    h = {k.lower(): v for k, v in headers.items()}
    length = h.get("content-length", "")
    parts = [method.upper(), h.get("content-encoding", ""), h.get("content-language", ""),
             "" if length in ("", "0") else length, h.get("content-md5", ""), h.get("content-type", ""),
             h.get("date", ""), h.get("if-modified-since", ""), h.get("if-match", ""), h.get("if-none-match", ""),
             h.get("if-unmodified-since", ""), h.get("range", "")]
    canon_headers = "".join(f"{k}:{' '.join(v.split())}\n" for k, v in sorted(h.items()) if k.startswith("x-ms-"))
    split = urlsplit(url)
    resource = f"/{account}{unquote(split.path) or '/'}"
    params: dict[str, list[str]] = defaultdict(list)
    for k, v in parse_qsl(split.query, keep_blank_values=True):
        params[k.lower()].append(v)
    for k in sorted(params):
        resource += f"\n{k}:{','.join(sorted(params[k]))}"
    to_sign = "\n".join(parts) + "\n" + canon_headers + resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


def _signing_transport(account: str, key: str) -> httpx.BaseTransport:
    import httpx

    class SharedKeyTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.headers["x-ms-date"] = format_datetime(datetime.now(UTC), usegmt=True)
            hdrs = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
            request.headers["Authorization"] = shared_key_signature(account, key, request.method, str(request.url),
                                                                    hdrs)
            return super().handle_request(request)

    return SharedKeyTransport()


# -- the container ---------------------------------------------------------------------------------

class Container:
    """List and read blobs of one container (Blob REST through RestClient)."""

    def __init__(self, az: AzureSession, url: str) -> None:
        self.url = url.rstrip("/")
        split = urlsplit(self.url)
        segments = [s for s in split.path.split("/") if s]
        key = emulator_token(KEY_ENV, self.url, az.source)
        transport = None
        token: Callable[[], str] | None = None
        if key is not None:  # an emulator: path-style URL http://host:port/ACCOUNT/CONTAINER
            if len(segments) != 2:
                raise StepError(f"export_container_url {self.url!r}: an emulator URL is "
                                "http://HOST:PORT/ACCOUNT/CONTAINER")
            transport = _signing_transport(segments[0], key)
        else:
            if is_loopback(self.url):
                raise StepError(f"export_container_url {self.url!r} is a loopback emulator: set {KEY_ENV} "
                                "to its account key")
            token = partial(az.token, STORAGE_SCOPE)
        base = f"{split.scheme}://{split.netloc}"
        self.path = split.path.rstrip("/")
        self.client = RestClient(base, label="Azure Blob Storage", token=token, counter=az.counter,
                                 max_attempts=az.options.max_attempts, transport=transport,
                                 sleep=lambda s: az_session.SLEEP(s), headers={"x-ms-version": X_MS_VERSION},
                                 auth_hint=f"source {az.source!r}: the credential needs Storage Blob Data Reader")

    def close(self) -> None:
        self.client.close()

    def list(self, prefix: str) -> list[dict[str, Any]]:
        """Every blob under `prefix`: name, size, last_modified."""
        out: list[dict[str, Any]] = []
        marker = ""
        for _ in range(100_000):
            params = {"restype": "container", "comp": "list", "prefix": prefix}
            if marker:
                params["marker"] = marker
            resp = self.client.request("GET", self.path, params=params, op="List Blobs")
            root = ET.fromstring(resp.content)
            for b in root.iter("Blob"):
                props = b.find("Properties")
                out.append({"name": b.findtext("Name") or "",
                            "size": int((props.findtext("Content-Length") if props is not None else None) or 0),
                            "last_modified": props.findtext("Last-Modified") if props is not None else None})
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return out
        raise StepError("Azure Blob Storage List Blobs: too many pages")

    def get(self, name: str) -> bytes:
        resp = self.client.request("GET", f"{self.path}/{name}", op="Get Blob")
        return resp.content

    def download(self, name: str, dest: Path) -> int:
        data = self.get(name)
        dest.write_bytes(data)
        return len(data)


# -- the step -------------------------------------------------------------------------------------

def _month(folder_start: str) -> date:
    return date(int(folder_start[:4]), int(folder_start[4:6]), 1)


def _next_month(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


def newest_runs(container: Container, prefix: str, window: tuple[date, date]) -> dict[date, dict[str, Any]]:
    """month -> the manifest (JSON) of its newest run, for the months overlapping the window."""
    lo, hi = window
    by_month: dict[date, list[str]] = defaultdict(list)
    for b in container.list(prefix):
        m = _FOLDER.search("/" + b["name"])
        if not m:
            continue
        month = _month(m.group(1))
        if month < hi and _next_month(month) > lo:
            by_month[month].append(b["name"])
    out: dict[date, dict[str, Any]] = {}
    for month, names in sorted(by_month.items()):
        best: tuple[str, dict[str, Any]] | None = None
        for name in names:
            try:
                manifest = json.loads(container.get(name))
            except ValueError:
                raise StepError(f"export manifest {name}: not JSON") from None
            ctype = str((manifest.get("exportConfig") or {}).get("type") or "FocusCost")
            if ctype.lower() != "focuscost":
                raise StepError(f"export manifest {name}: type {ctype!r}; costdeck reads FOCUS exports "
                                "(type FocusCost)")
            stamp = str((manifest.get("runInfo") or {}).get("submittedTime") or "")
            if best is None or stamp > best[0]:
                best = (stamp, manifest)
        if best is not None:
            out[month] = best[1]
    return out


def daily_rows(files: list[Path]) -> list[CostRow]:
    """The files read by the FOCUS importer's reader (DuckDB, daily grain) as cost rows."""
    from providers.focus.duck import DuckSession
    from providers.focus.files import ImportResult, sniff
    from providers.focus.read import read_file

    rows: list[CostRow] = []
    duck = DuckSession(None)
    try:
        duck.money_used = {}
        for p in files:
            f = sniff(p)
            f.source = "export"
            f.result = ImportResult(path=p, source_name="export", file_format=f.fmt, sha256=f.sha256)
            read_file(duck, f)
            cur = duck.execute(f"SELECT * FROM {f.table}")
            names = [d[0] for d in cur.description]
            for rec in cur.fetchall():
                r = dict(zip(names, rec, strict=True))
                rows.append(CostRow(
                    day=r["day"], provider_name=r["provider_name"], billing_account_id=r["billing_account_id"],
                    billing_account_name=r["billing_account_name"], sub_account_id=r["sub_account_id"],
                    sub_account_name=r["sub_account_name"], service_name=r["service_name"],
                    service_category=r["service_category"], region_id=r["region_id"], region_name=r["region_name"],
                    resource_id=r["resource_id"], resource_name=r["resource_name"], resource_type=r["resource_type"],
                    charge_category=r["charge_category"], pricing_category=r["pricing_category"],
                    commitment_discount_id=r["commitment_discount_id"],
                    commitment_discount_name=r["commitment_discount_name"],
                    commitment_discount_type=r["commitment_discount_type"],
                    commitment_discount_status=r["commitment_discount_status"],
                    billing_currency=r["billing_currency"] or "USD", tags=r["tags"],
                    billed_cost=int(r["billed"] or 0), effective_cost=int(r["effective"] or 0),
                    list_cost=int(r["list"] or 0), contracted_cost=int(r["contracted"] or 0),
                    pricing_quantity=r["pricing_quantity"], consumed_quantity=r["consumed_quantity"]))
    finally:
        duck.close()
    return rows


def sync_export(ctx: SyncContext, az: AzureSession) -> int:
    opts = az.options
    assert opts.export_container_url is not None  # the options' check()
    prefix = (opts.export_path.strip("/") + "/") if opts.export_path else ""
    container = Container(az, opts.export_container_url)
    tmp = Path(tempfile.mkdtemp(prefix="costdeck-azure-export-"))
    try:
        ctx.progress(f"listing {prefix or 'the container'}")
        runs = newest_runs(container, prefix, ctx.cost_window)
        if not runs:
            raise StepError(f"no FOCUS export run under {opts.export_container_url}/{prefix} for "
                            f"{ctx.cost_window[0]:%Y-%m}..{ctx.cost_window[1] - timedelta(days=1):%Y-%m}")
        files: list[Path] = []
        used: dict[str, str] = {}
        for month, manifest in runs.items():
            run = manifest.get("runInfo") or {}
            used[f"{month:%Y-%m}"] = str(run.get("runId") or "?")
            for i, blob in enumerate(manifest.get("blobs") or []):
                name = str(blob.get("blobName") or "")
                ctx.progress(f"downloading {name.rsplit('/', 1)[-1]} ({month:%Y-%m})")
                suffix = "".join(Path(name).suffixes[-2:]) or ".csv"
                dest = tmp / f"{month:%Y%m}-{i:04d}{suffix}"
                size = container.download(name, dest)
                want = blob.get("byteCount")
                if isinstance(want, int) and want != size:
                    raise StepError(f"export {name}: {size} bytes read, the manifest says {want} (a partial "
                                    "upload?); previous data kept")
                files.append(dest)
        rows = daily_rows(files)
        lo = min(runs)
        hi = _next_month(max(runs))
        rows = [r for r in rows if lo <= r.day < hi]
        ctx.detail["export_runs"] = used
        return ctx.write_costs(rows, window=(lo, hi))
    finally:
        container.close()
        shutil.rmtree(tmp, ignore_errors=True)
