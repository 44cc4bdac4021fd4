"""A loopback fake of Azure Resource Manager for the tests (ThreadingHTTPServer on 127.0.0.1, port 0).

It COMPUTES its answers from a seeded dataset, so a wrong query gives wrong numbers:

* Cost Management query (`POST /subscriptions/{id}/providers/Microsoft.CostManagement/query`):
  body shape and answer shape from the azure-rest-api-specs examples (stable/2023-11-01
  BillingAccountQuery.json and MCABillingProfileQueryGrouping.json; copies in
  tests/data/azure/): `type` ActualCost | AmortizedCost | Usage, `timeframe` Custom with
  `timePeriod` {from, to}, `granularity` Daily | None, at most 2 `aggregation`s (PreTaxCost, Cost,
  CostUSD; function Sum) and at most 2 `grouping`s (Dimension or TagKey), answered as
  `properties.columns` + `rows` (aggregates, group columns, UsageDate yyyymmdd, Currency) with a
  `nextLink` after `page_size` rows (POST the same body to it).
* Resource Manager lists (resources, VMs with instance views, disks, public IPs, snapshots, images),
  `nextLink` pages everywhere; Monitor metrics (per resource and metrics:getBatch); Advisor; reservations; mutations with
  Azure-AsyncOperation / Location polling.
* Faults on demand: `add_fault(path_part, status, times, headers)`, e.g. 429 with Retry-After
  and x-ms-ratelimit headers, 5xx, 403; `token` checked on every request (401 otherwise).

Every request is recorded in `requests` (method, path, query, body).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "fake-azure-token"
SUB1 = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
AGG_COLUMNS = ("PreTaxCost", "Cost", "CostUSD", "UsageQuantity")
ORDER_GUID = "aaaaaaaa-0000-0000-0000-000000000001"
RES_GUID = "bbbbbbbb-0000-0000-0000-000000000002"
RESERVATION = f"/providers/Microsoft.Capacity/reservationOrders/{ORDER_GUID}/reservations/{RES_GUID}"
SP_ORDER = "eeeeeeee-0000-0000-0000-000000000005"
SP_GUID = "ffffffff-0000-0000-0000-000000000006"
SAVINGS_PLAN = f"/providers/Microsoft.BillingBenefits/savingsPlanOrders/{SP_ORDER}/savingsPlans/{SP_GUID}"


@dataclass
class Usage:
    day: date
    sub: str
    rid: str  # "" for charges without a resource (purchases)
    service: str
    location: str
    pricing_model: str
    actual: Decimal
    amortized: Decimal
    currency: str = "USD"
    charge_type: str = "Usage"
    tags: dict[str, str] = field(default_factory=dict)
    reservation_id: str = ""  # the reservation or savings plan (benefit) GUID covering it
    quantity: Decimal = Decimal(0)  # UsageQuantity (hours for VMs)


@dataclass
class Fault:
    path_part: str
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any] | None
    method: str | None = None


def rg_of(rid: str) -> str:
    m = re.search(r"/resourceGroups/([^/]+)", rid, re.I)
    return m.group(1).lower() if m else ""


def arm_type_of(rid: str) -> str:
    parts = rid.strip("/").split("/")
    low = [p.lower() for p in parts]
    if "providers" not in low:
        return ""
    i = len(low) - 1 - low[::-1].index("providers")
    rest = parts[i + 1:]
    return "/".join([rest[0]] + rest[1::2]).lower()


class FakeAzure:
    def __init__(self, page_size: int = 7, query_page_size: int | None = None) -> None:
        self.page_size = page_size
        self.query_page_size = query_page_size or page_size
        self.usage: list[Usage] = []
        self.resources: dict[str, dict[str, Any]] = {}  # rid (as created) -> ARM JSON
        self.instance_views: dict[str, dict[str, Any]] = {}
        self.metrics: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.advisor: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.cpu_profile: dict[str, tuple[float, float]] = {}
        self.prices_auth: list[str | None] = []
        self.queries_answered = 0
        self.qpu_empty_every = 0  # every Nth query answer says the query units are used up (qpu-remaining 0)  # Authorization headers seen by the Retail Prices API  # VM id -> (CPU %, network bytes per hour)
        self.reservations: list[dict[str, Any]] = []
        self.reservation_daily: list[dict[str, Any]] = []
        self.savings_plans: list[dict[str, Any]] = []
        self.subs: dict[str, str] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.faults: list[Fault] = []
        self.operations: dict[str, dict[str, Any]] = {}  # async operation id -> {left, done, fail}
        self.lro_polls = 2  # polls a long-running operation answers "InProgress" before it ends
        self.lro_fail: set[str] = set()  # resource names whose next operation fails
        self.token = TOKEN
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- control ----------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _do(self) -> None:
                fake.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _do

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def add_fault(self, path_part: str, status: int, times: int = 1, headers: dict[str, str] | None = None,
                  code: str | None = None, message: str = "", method: str | None = None) -> None:
        body = {"error": {"code": code or f"Http{status}", "message": message or f"injected {status}"}}
        with self.lock:
            self.faults.append(Fault(path_part.lower(), status, times, headers or {}, body, method))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.prices_auth.clear()

    def count(self, path_part: str, method: str | None = None) -> int:
        return sum(1 for m, p, _, _ in self.requests if path_part.lower() in p.lower() and (method in (None, m)))

    # -- seeded totals (computed independently of the query engine) -----------------------------
    def total(self, by: str, cost_type: str, lo: date, hi: date) -> dict[str, Decimal]:
        """Sum of the seed in [lo, hi) by sub | service | location, for ActualCost or AmortizedCost."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for u in self.usage:
            if lo <= u.day < hi:
                key = {"sub": u.sub, "service": u.service, "location": u.location}[by]
                out[key] += u.actual if cost_type == "ActualCost" else u.amortized
        return dict(out)

    # -- HTTP --------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        body = json.loads(raw) if raw else None
        method = h.command
        with self.lock:
            self.requests.append((method, path, query, body))
            fault = next((f for f in self.faults if f.path_part in (path.lower() + "?" + parts.query.lower())
                          and f.times != 0 and f.method in (None, method)), None)
            if fault is not None and fault.times > 0:
                fault.times -= 1
        if path.lower() == "/api/retail/prices":  # the public Retail Prices API: no token, no api-version
            self.prices_auth.append(h.headers.get("Authorization"))
            return self._send(h, 200, self.retail_prices(path, query))
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, {"error": {"code": "ExpiredAuthenticationToken",
                                                 "message": "The access token expiry UTC time is in the past."}})
        if fault is not None:
            return self._send(h, fault.status, fault.body, fault.headers)
        if "api-version" not in query:
            return self._send(h, 400, {"error": {"code": "MissingApiVersionParameter",
                                                 "message": "The api-version query parameter is required."}})
        try:
            status, data, headers = self.route(method, path, query, body)
        except BadRequest as exc:
            status, data, headers = 400, {"error": {"code": "BadRequest", "message": str(exc)}}, {}
        self._send(h, status, data, headers)

    def _send(self, h: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if data is None else json.dumps(data, default=float).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def next_link(self, path: str, query: dict[str, list[str]], offset: int) -> str:
        q = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
        q["$skiptoken"] = base64.urlsafe_b64encode(str(offset).encode()).decode()
        return f"{self.url}{path}?{urlencode(q)}"

    def page(self, items: list[Any], path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        tok = query.get("$skiptoken", [None])[0]
        off = int(base64.urlsafe_b64decode(tok).decode()) if tok else 0
        out: dict[str, Any] = {"value": items[off:off + self.page_size]}
        if off + self.page_size < len(items):
            out["nextLink"] = self.next_link(path, query, off + self.page_size)
        return out

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
        low = path.lower().rstrip("/")
        m = re.fullmatch(r"/subscriptions/([^/]+)/providers/microsoft\.costmanagement/query", low)
        if m and method == "POST":
            self.queries_answered += 1
            left = 0 if self.qpu_empty_every and self.queries_answered % self.qpu_empty_every == 0 else 50
            headers = {"x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": f"QueryUsage={left}",
                       "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed": "1"}
            if not left:
                headers["x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"] = "4"
            return 200, self.query(m.group(1), body, path, query), headers
        m = re.fullmatch(r"/subscriptions/([^/]+)", low)
        if m and method == "GET":
            sub = m.group(1)
            if sub not in self.subs:
                return 404, {"error": {"code": "SubscriptionNotFound", "message": f"{sub} not found"}}, {}
            return 200, {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "displayName": self.subs[sub],
                         "state": "Enabled"}, {}
        m = re.fullmatch(r"/subscriptions/([^/]+)/resources", low)
        if m and method == "GET":
            items = [{k: r[k] for k in ("id", "name", "type", "location", "tags") if k in r}
                     for rid, r in sorted(self.resources.items()) if rid.lower().startswith(f"/subscriptions/{m.group(1)}/")]
            return 200, self.page(items, path, query), {}
        extra = getattr(self, "route_more", None)
        if extra is not None:
            got = extra(method, path, low, query, body)
            if got is not None:
                return got  # type: ignore[no-any-return]
        return 404, {"error": {"code": "ResourceNotFound", "message": f"no route for {method} {path}"}}, {}

    # -- Cost Management query ----------------------------------------------------------------
    def query(self, sub: str, body: Any, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("a query definition is required")
        ctype = body.get("type")
        if ctype not in ("ActualCost", "AmortizedCost", "Usage"):
            raise BadRequest(f"invalid type {ctype!r}")
        if body.get("timeframe") != "Custom":
            raise BadRequest("only timeframe Custom is emulated")
        tp = body.get("timePeriod") or {}
        lo = datetime.fromisoformat(tp["from"]).astimezone(UTC).date()
        hi = datetime.fromisoformat(tp["to"]).astimezone(UTC).date()
        if (hi - lo).days > 366:
            raise BadRequest("the time period cannot exceed one year")
        ds = body.get("dataset") or {}
        gran = ds.get("granularity", "None")
        if gran not in ("Daily", "None"):
            raise BadRequest(f"invalid granularity {gran!r}")
        aggs = ds.get("aggregation") or {}
        if not 1 <= len(aggs) <= 2:
            raise BadRequest("between 1 and 2 aggregations are allowed")
        cols = []
        for spec in aggs.values():
            if spec.get("function") != "Sum" or spec.get("name") not in AGG_COLUMNS:
                raise BadRequest(f"invalid aggregation {spec!r}")
            cols.append(spec["name"])
        groups = ds.get("grouping") or []
        if len(groups) > 2:
            raise BadRequest("at most 2 grouping clauses are allowed")
        sums: dict[tuple[Any, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(cols))
        flt = ds.get("filter")
        for u in self.usage:
            if u.sub != sub or not lo <= u.day <= hi:
                continue
            if flt and not self._match(u, flt):
                continue
            amount = u.amortized if ctype == "AmortizedCost" else u.actual
            key: list[Any] = []
            for g in groups:
                key.extend(self._dim(u, g))
            if gran == "Daily":
                key.append(int(u.day.strftime("%Y%m%d")))
            key.append(u.currency)
            acc = sums[tuple(key)]
            for i, c in enumerate(cols):
                if c == "UsageQuantity":
                    acc[i] += u.quantity
                else:
                    acc[i] += amount * (Decimal("1.1") if c == "CostUSD" and u.currency == "EUR" else 1)
        columns = [{"name": c, "type": "Number"} for c in cols]
        for g in groups:
            if g.get("type") == "TagKey":
                columns += [{"name": "TagKey", "type": "String"}, {"name": "TagValue", "type": "String"}]
            else:
                columns.append({"name": g["name"], "type": "String"})
        if gran == "Daily":
            columns.append({"name": "UsageDate", "type": "Number"})
        columns.append({"name": "Currency", "type": "String"})
        rows = [[float(v) for v in vals] + list(k) for k, vals in sorted(sums.items(), key=lambda kv: str(kv[0]))]
        tok = query.get("$skiptoken", [None])[0]
        off = int(base64.urlsafe_b64decode(tok).decode()) if tok else 0
        size = self.query_page_size
        props: dict[str, Any] = {"nextLink": None, "columns": columns, "rows": rows[off:off + size]}
        if off + size < len(rows):
            props["nextLink"] = self.next_link(path, query, off + size)
        return {"id": f"subscriptions/{sub}/providers/Microsoft.CostManagement/Query/00000000-0000-0000-0000-00000000q",
                "name": "00000000-0000-0000-0000-00000000q", "type": "microsoft.costmanagement/Query",
                "properties": props}

    def _match(self, u: Usage, f: dict[str, Any]) -> bool:
        """The query filter (and / or / dimensions / tags with operator In)."""
        if "and" in f:
            return all(self._match(u, x) for x in f["and"])
        if "or" in f:
            return any(self._match(u, x) for x in f["or"])
        if "dimensions" in f:
            d = f["dimensions"]
            if d.get("operator") != "In":
                raise BadRequest("only operator In is emulated")
            [value] = self._dim(u, {"type": "Dimension", "name": d["name"]})
            return value in d["values"]
        if "tags" in f:
            t = f["tags"]
            return u.tags.get(t["name"]) in t["values"]
        raise BadRequest(f"invalid filter {f!r}")

    @staticmethod
    def _dim(u: Usage, g: dict[str, Any]) -> list[Any]:
        name = str(g.get("name"))
        if g.get("type") == "TagKey":
            return [name, u.tags.get(name, "")]
        if g.get("type") != "Dimension":
            raise BadRequest(f"invalid grouping type {g.get('type')!r}")
        key = name.lower()
        table = {
            "resourceid": u.rid.lower(), "resourcegroup": rg_of(u.rid), "resourcegroupname": rg_of(u.rid),
            "servicename": u.service, "metercategory": u.service, "resourcelocation": u.location,
            "pricingmodel": u.pricing_model, "chargetype": u.charge_type, "resourcetype": arm_type_of(u.rid),
            "subscriptionid": u.sub, "reservationid": u.reservation_id,
        }
        if key not in table:
            raise BadRequest(f"invalid dimension {name!r}")
        return [table[key]]


class BadRequest(Exception):
    pass


# -- the seeded estate ----------------------------------------------------------------------------------

def _rid(sub: str, rg: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{kind}/{name}"


def vm_json(sub: str, rg: str, name: str, location: str, size: str, os_disk: str, tags: dict[str, str]) -> dict[str, Any]:
    rid = _rid(sub, rg, "Microsoft.Compute/virtualMachines", name)
    return {
        "id": rid, "name": name, "type": "Microsoft.Compute/virtualMachines", "location": location, "tags": tags,
        "properties": {
            "vmId": f"0000{zlib.crc32(name.encode()) % 10**8:08d}-0000-0000-0000-000000000000",
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"osDisk": {"osType": "Linux", "name": os_disk, "createOption": "FromImage",
                                          "managedDisk": {"id": _rid(sub, rg, "Microsoft.Compute/disks", os_disk),
                                                          "storageAccountType": "Premium_LRS"},
                                          "diskSizeGB": 128}, "dataDisks": []},
            "networkProfile": {"networkInterfaces": [
                {"id": _rid(sub, rg, "Microsoft.Network/networkInterfaces", f"{name}-nic")}]},
            "provisioningState": "Succeeded", "timeCreated": "2025-06-01T10:00:00+00:00",
        },
    }


def instance_view(power: str, since: str) -> dict[str, Any]:
    return {"statuses": [
        {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
         "time": since},
        {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
    ]}


def disk_json(sub: str, rg: str, name: str, location: str, size: int, sku: str, state: str,
              managed_by: str | None, created: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": _rid(sub, rg, "Microsoft.Compute/disks", name), "name": name, "type": "Microsoft.Compute/disks",
        "location": location, "tags": tags or {}, "sku": {"name": sku, "tier": sku.split("_")[0]},
        "properties": {"diskSizeGB": size, "diskState": state, "timeCreated": created,
                       "provisioningState": "Succeeded", "creationData": {"createOption": "Empty"}},
    }
    if managed_by:
        d["managedBy"] = managed_by
    return d


def seed(fake: FakeAzure, today: date, days: int = 45) -> None:
    """A small but real estate: two subscriptions, VMs in every power state, disks, IPs, a snapshot,
    an image, daily usage for `days` days before `today` (with a reservation and purchases)."""
    fake.subs = {SUB1: "Production", SUB2: "Development"}
    R: dict[str, dict[str, Any]] = {}
    ivs: dict[str, dict[str, Any]] = {}
    created = "2025-01-10T08:00:00+00:00"
    vms = [  # sub, rg, name, location, size, power, tags
        (SUB1, "rg-web", "vm-web-1", "westeurope", "Standard_D4s_v5", "running", {"team": "web", "env": "prod"}),
        (SUB1, "rg-batch", "vm-stopped-1", "westeurope", "Standard_E8s_v5", "stopped", {"team": "batch"}),
        (SUB1, "rg-batch", "vm-idle-1", "eastus", "Standard_D8s_v5", "running", {"team": "batch"}),
        (SUB1, "rg-old", "vm-dealloc-1", "westeurope", "Standard_D2s_v5", "deallocated", {"team": "old"}),
        (SUB2, "rg-dev", "vm-dev-1", "eastus", "Standard_B2s", "running", {"team": "dev", "env": "dev"}),
    ]
    for sub, rg, name, loc, size, power, tags in vms:
        vm = vm_json(sub, rg, name, loc, size, f"{name}-os", tags)
        R[vm["id"]] = vm
        ivs[vm["id"]] = instance_view(power, (datetime.combine(today, datetime.min.time(), UTC)
                                              - timedelta(days=20)).isoformat())
        d = disk_json(sub, rg, f"{name}-os", loc, 128, "Premium_LRS", "Reserved" if power == "running" else "Attached",
                      vm["id"], created, tags)
        R[d["id"]] = d
    orphan = disk_json(SUB1, "rg-old", "disk-orphan-1", "westeurope", 512, "Premium_LRS", "Unattached", None, created,
                       {"team": "old"})
    orphan["properties"]["lastOwnershipUpdateTime"] = "2026-01-05T10:00:00+00:00"
    R[orphan["id"]] = orphan
    for name, owner in (("pip-web-1", "vm-web-1"), ("pip-unused-1", None)):
        rid = _rid(SUB1, "rg-network", "Microsoft.Network/publicIPAddresses", name)
        props: dict[str, Any] = {"publicIPAllocationMethod": "Static", "ipAddress": "198.51.100.7" if owner else
                                 "198.51.100.8", "provisioningState": "Succeeded"}
        if owner:
            props["ipConfiguration"] = {"id": _rid(SUB1, "rg-web", "Microsoft.Network/networkInterfaces",
                                                   f"{owner}-nic") + "/ipConfigurations/ipconfig1"}
        R[rid] = {"id": rid, "name": name, "type": "Microsoft.Network/publicIPAddresses", "location": "westeurope",
                  "tags": {}, "sku": {"name": "Standard", "tier": "Regional"}, "properties": props}
    snap = _rid(SUB1, "rg-old", "Microsoft.Compute/snapshots", "snap-old-1")
    R[snap] = {"id": snap, "name": "snap-old-1", "type": "Microsoft.Compute/snapshots", "location": "westeurope",
               "tags": {}, "sku": {"name": "Standard_LRS"},
               "properties": {"diskSizeGB": 256, "timeCreated": "2025-02-01T00:00:00+00:00",
                              "creationData": {"createOption": "Copy", "sourceResourceId": _rid(
                                  SUB1, "rg-old", "Microsoft.Compute/disks", "disk-gone-1")},
                              "provisioningState": "Succeeded"}}
    snap_img = _rid(SUB1, "rg-old", "Microsoft.Compute/snapshots", "snap-img-1")
    R[snap_img] = {**R[snap], "id": snap_img, "name": "snap-img-1"}
    img = _rid(SUB1, "rg-old", "Microsoft.Compute/images", "img-old-1")
    R[img] = {"id": img, "name": "img-old-1", "type": "Microsoft.Compute/images", "location": "westeurope", "tags": {},
              "properties": {"provisioningState": "Succeeded", "storageProfile": {"osDisk": {
                  "osType": "Linux", "snapshot": {"id": snap_img}, "diskSizeGB": 256}}}}
    fake.resources, fake.instance_views = R, ivs
    fake.reservations = [{
        "id": RESERVATION, "name": f"{ORDER_GUID}/{RES_GUID}", "type": "Microsoft.Capacity/reservationOrders/reservations",
        "location": "westeurope", "etag": 3, "sku": {"name": "Standard_D4s_v5"},
        "properties": {"reservedResourceType": "VirtualMachines", "instanceFlexibility": "On",
                       "displayName": "VM_RI_D4s_v5", "appliedScopeType": "Shared", "quantity": 1,
                       "provisioningState": "Succeeded", "displayProvisioningState": "Succeeded",
                       "effectiveDateTime": "2025-09-01T10:00:00Z", "benefitStartTime": "2025-09-01T10:00:00Z",
                       "expiryDateTime": "2026-09-01T10:00:00Z", "term": "P1Y", "billingPlan": "Monthly",
                       "userFriendlyAppliedScopeType": "Shared"}},
        {"id": "/providers/Microsoft.Capacity/reservationOrders/cccccccc-0000-0000-0000-000000000003/reservations/"
               "dddddddd-0000-0000-0000-000000000004", "name": "other", "sku": {"name": "Standard_B2s"},
         "location": "eastus", "type": "Microsoft.Capacity/reservationOrders/reservations",
         "properties": {"appliedScopeType": "Single", "appliedScopes": ["/subscriptions/99999999-9999-9999-9999-999999999999"],
                        "quantity": 2, "term": "P1Y", "displayProvisioningState": "Succeeded"}}]
    fake.savings_plans = [{
        "id": SAVINGS_PLAN, "name": SP_GUID, "type": "Microsoft.BillingBenefits/savingsPlanOrders/savingsPlans",
        "sku": {"name": "Compute_Savings_Plan"},
        "properties": {"displayName": "Compute_SP_1", "provisioningState": "Succeeded",
                       "displayProvisioningState": "Succeeded", "billingScopeId": f"/subscriptions/{SUB1}",
                       "term": "P1Y", "billingPlan": "P1M", "appliedScopeType": "Shared",
                       "userFriendlyAppliedScopeType": "Shared",
                       "commitment": {"grain": "Hourly", "currencyCode": "USD", "amount": 0.25},
                       "effectiveDateTime": "2025-12-01T00:00:00Z", "benefitStartTime": "2025-12-01T00:00:00Z",
                       "expiryDateTime": "2026-12-01T00:00:00Z"}}]
    web, idle = (_rid(SUB1, rg, "Microsoft.Compute/virtualMachines", n) for rg, n in (("rg-web", "vm-web-1"),
                                                                                   ("rg-batch", "vm-idle-1")))
    fake.cpu_profile = {web: (12.0, 5e7), idle: (1.2, 2e3),
                        _rid(SUB2, "rg-dev", "Microsoft.Compute/virtualMachines", "vm-dev-1"): (30.0, 1e7)}
    fake.advisor = defaultdict(list)
    for target, problem, saving, current, to in (
            (idle, "Right-size or shutdown underutilized virtual machines", "220.50", "Standard_D8s_v5", "Shutdown"),
            (web, "Right-size or shutdown underutilized virtual machines", "70.08", "Standard_D4s_v5",
             "Standard_D2s_v5"),
            (web, "Consider virtual machine reserved instance to save over your on-demand costs", "41.00",
             "Standard_D4s_v5", None),
            (_rid(SUB2, "rg-dev", "Microsoft.Compute/virtualMachines", "vm-dev-1"),
             "Consider virtual machine reserved instance to save over your on-demand costs", "9.50",
             "Standard_B2s", None)):
        ext = {"savingsAmount": saving, "savingsCurrency": "USD", "currentSku": current}
        if to:
            ext["targetSku"] = to
        fake.advisor[target.split("/")[2]].append({
            "id": f"{target}/providers/Microsoft.Advisor/recommendations/{zlib.crc32((problem + target).encode()) % 10**12:012d}",
            "name": f"{zlib.crc32((problem + target).encode()) % 10**12:012d}", "type": "Microsoft.Advisor/recommendations",
            "properties": {"category": "Cost", "impact": "High", "impactedField": "Microsoft.Compute/virtualMachines",
                           "impactedValue": target.rsplit("/", 1)[-1], "lastUpdated": "2026-03-14T08:00:00Z",
                           "recommendationTypeId": "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
                           "shortDescription": {"problem": problem, "solution": problem},
                           "extendedProperties": ext,
                           "resourceMetadata": {"resourceId": target.lower(), "source": None}}})
    fake.advisor[SUB1].append({"id": f"{web}/providers/Microsoft.Advisor/recommendations/sec", "name": "sec",
                               "type": "Microsoft.Advisor/recommendations",
                               "properties": {"category": "Security", "impact": "High",
                                              "resourceMetadata": {"resourceId": web},
                                              "shortDescription": {"problem": "not cost", "solution": ""}}})

    def rid(sub: str, rg: str, kind: str, name: str) -> str:
        return _rid(sub, rg, kind, name)

    vmk, dk = "Microsoft.Compute/virtualMachines", "Microsoft.Compute/disks"
    U = fake.usage
    U.clear()
    for i in range(days):
        d = today - timedelta(days=days - i)
        k = Decimal(d.day) / 1000  # a little daily variation
        web = rid(SUB1, "rg-web", vmk, "vm-web-1")
        if d.day % 5 == 0:  # half the day under a reservation: two pricing models for one (day, resource)
            U.append(Usage(d, SUB1, web, "Virtual Machines", "westeurope", "OnDemand", Decimal("2.304") + k,
                           Decimal("2.304") + k))
            U.append(Usage(d, SUB1, web, "Virtual Machines", "westeurope", "Reservation", Decimal(0),
                           Decimal("1.555555"), reservation_id=RES_GUID))
            U.append(Usage(d, SUB1, "", "Virtual Machines", "westeurope", "Reservation", Decimal(0),
                           Decimal("1.555555"), charge_type="UnusedReservation", reservation_id=RES_GUID))
        else:
            U.append(Usage(d, SUB1, "", "Virtual Machines", "westeurope", "Reservation", Decimal(0),
                           Decimal("3.11111"), charge_type="UnusedReservation", reservation_id=RES_GUID))
        if d.day % 5 != 0:
            U.append(Usage(d, SUB1, web, "Virtual Machines", "westeurope", "OnDemand", Decimal("4.608") + k,
                           Decimal("4.608") + k))
        U.append(Usage(d, SUB1, web, "Bandwidth", "westeurope", "OnDemand", Decimal("0.123457"), Decimal("0.123457")))
        U.append(Usage(d, SUB1, rid(SUB1, "rg-batch", vmk, "vm-stopped-1"), "Virtual Machines", "westeurope",
                       "OnDemand", Decimal("12.096"), Decimal("12.096")))
        U.append(Usage(d, SUB1, rid(SUB1, "rg-batch", vmk, "vm-idle-1"), "Virtual Machines", "eastus", "OnDemand",
                       Decimal("9.216") + k, Decimal("9.216") + k))
        if d.day % 4 == 0:  # 12 more hours of it covered by the savings plan (amortized at the plan's rate)
            U.append(Usage(d, SUB1, rid(SUB1, "rg-batch", vmk, "vm-idle-1"), "Virtual Machines", "eastus",
                           "SavingsPlan", Decimal(0), Decimal("2.5"), reservation_id=SP_GUID, quantity=Decimal(12)))
        for rg, name, loc in (("rg-web", "vm-web-1-os", "westeurope"), ("rg-batch", "vm-stopped-1-os", "westeurope"),
                              ("rg-batch", "vm-idle-1-os", "eastus"), ("rg-old", "vm-dealloc-1-os", "westeurope"),
                              ("rg-old", "disk-orphan-1", "westeurope")):
            amt = Decimal("2.522581") if "orphan" in name else Decimal("0.630645")
            U.append(Usage(d, SUB1, rid(SUB1, rg, dk, name), "Storage", loc, "OnDemand", amt, amt))
        for name in ("pip-web-1", "pip-unused-1"):
            U.append(Usage(d, SUB1, rid(SUB1, "rg-network", "Microsoft.Network/publicIPAddresses", name),
                           "Virtual Network", "westeurope", "OnDemand", Decimal("0.12"), Decimal("0.12")))
        U.append(Usage(d, SUB1, snap, "Storage", "westeurope", "OnDemand", Decimal("0.42"), Decimal("0.42")))
        if d.day == 1:  # a reservation purchase and a support charge: no resource id, two models, two locations
            U.append(Usage(d, SUB1, "", "Virtual Machines", "", "Reservation", Decimal("500.00"), Decimal(0),
                           charge_type="Purchase"))
            U.append(Usage(d, SUB1, "", "Azure Support", "global", "OnDemand", Decimal("29.00"), Decimal("29.00")))
        dev = rid(SUB2, "rg-dev", vmk, "vm-dev-1")
        U.append(Usage(d, SUB2, dev, "Virtual Machines", "eastus", "OnDemand", Decimal("0.9984"), Decimal("0.9984")))
        U.append(Usage(d, SUB2, rid(SUB2, "rg-dev", dk, "vm-dev-1-os"), "Storage", "eastus", "OnDemand",
                       Decimal("0.630645"), Decimal("0.630645")))


# -- Resource Manager lists, metrics, advisor, reservations, mutations ----------------------------------

_LISTS = {
    "microsoft.compute/virtualmachines": "microsoft.compute/virtualmachines",
    "microsoft.compute/disks": "microsoft.compute/disks",
    "microsoft.network/publicipaddresses": "microsoft.network/publicipaddresses",
    "microsoft.compute/snapshots": "microsoft.compute/snapshots",
    "microsoft.compute/images": "microsoft.compute/images",
}


def _route_more(self: FakeAzure, method: str, path: str, low: str, query: dict[str, list[str]],
                body: Any) -> tuple[int, Any, dict[str, str]] | None:
    m = re.fullmatch(r"/subscriptions/([^/]+)/providers/(microsoft\.\w+/\w+)", low)
    if m and method == "GET" and m.group(2) in _LISTS:
        sub, kind = m.group(1), m.group(2)
        items = [r for rid, r in sorted(self.resources.items())
                 if rid.lower().startswith(f"/subscriptions/{sub}/") and r["type"].lower() == kind]
        if kind.endswith("virtualmachines") and query.get("statusOnly", [""])[0] == "true":
            items = [{"id": r["id"], "name": r["name"], "type": r["type"], "location": r["location"],
                      "properties": {"instanceView": self.instance_views.get(r["id"], {"statuses": []})}}
                     for r in items]
        return 200, self.page(items, path, query), {}
    got = self.mutations(method, path, low, query, body)
    if got is not None:
        return got  # type: ignore[no-any-return]
    if low == "/providers/microsoft.billingbenefits/savingsplans" and method == "GET":
        return 200, self.page(self.savings_plans, path, query), {}
    m = re.fullmatch(r"(/providers/microsoft\.billingbenefits/savingsplanorders/[^/]+/savingsplans/[^/]+)/providers/"
                     r"microsoft\.costmanagement/benefitutilizationsummaries", low)
    if m and method == "GET":
        return 200, self.page(self.benefit_summaries(m.group(1), query), path, query), {}
    if low == "/providers/microsoft.capacity/reservations" and method == "GET":
        return 200, self.page(self.reservations, path, query), {}
    m = re.fullmatch(r"/providers/microsoft\.capacity/reservationorders/([^/]+)/providers/microsoft\.consumption/"
                     r"reservationsummaries", low)
    if m and method == "GET":
        return 200, self.page(self.reservation_summaries(m.group(1), query), path, query), {}
    m = re.fullmatch(r"/subscriptions/([^/]+)/providers/microsoft\.compute/skus", low)
    if m and method == "GET":
        loc = re.search(r"location eq '([a-z0-9]+)'", query.get("$filter", [""])[0])
        skus = [{"resourceType": "virtualMachines", "name": sku, "tier": "Standard",
                 "size": sku.removeprefix("Standard_"), "family": fam, "locations": [loc.group(1) if loc else "eastus"],
                 "capabilities": [{"name": "vCPUs", "value": str(v)}, {"name": "MemoryGB", "value": str(mem)},
                                  {"name": "PremiumIO", "value": "True"}]}
                for sku, (_, v, mem, fam) in sorted(SIZES.items())]
        skus.append({"resourceType": "disks", "name": "Premium_LRS", "tier": "Premium", "capabilities": []})
        return 200, self.page(skus, path, query), {}
    m = re.fullmatch(r"(/subscriptions/.+)/providers/microsoft\.insights/metrics", low)
    if m and method == "GET":
        return 200, self.monitor(m.group(1), query), {}
    m = re.fullmatch(r"/subscriptions/([^/]+)/metrics:getbatch", low)
    if m and method == "POST":
        return 200, self.monitor_batch(m.group(1), query, body), {}
    m = re.fullmatch(r"/subscriptions/([^/]+)/providers/microsoft\.advisor/recommendations", low)
    if m and method == "GET":
        flt = query.get("$filter", [""])[0]
        items = [r for r in self.advisor.get(m.group(1), [])
                 if "category eq 'cost'" not in flt.lower() or r["properties"]["category"] == "Cost"]
        return 200, self.page(items, path, query), {}
    return None


def _monitor(self: FakeAzure, rid_low: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """Azure Monitor metrics (api-version 2023-10-01 shape), hourly points computed from `cpu_profile`."""
    if query.get("interval", [""])[0] != "PT1H":
        raise BadRequest("only interval PT1H is emulated")
    names = query.get("metricnames", [""])[0].split(",")
    lo_s, hi_s = query["timespan"][0].split("/")
    lo = datetime.fromisoformat(lo_s.replace("Z", "+00:00"))
    hi = datetime.fromisoformat(hi_s.replace("Z", "+00:00"))
    rid = next((r for r in self.resources if r.lower() == rid_low), None)
    if rid is None:
        raise BadRequest(f"no resource {rid_low}")
    cpu, net = self.cpu_profile.get(rid, (0.0, 0.0))
    value = []
    for name in names:
        data = []
        t = lo
        while t < hi:
            h = t.hour
            if name == "Percentage CPU":
                data.append({"timeStamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "average": cpu + (h % 4) * 0.25,
                             "maximum": cpu * 2 + h % 3})
            else:
                data.append({"timeStamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "total": net * (1.0 if name == "Network In Total" else 0.5)})
            t += timedelta(hours=1)
        value.append({"id": f"{rid}/providers/Microsoft.Insights/metrics/{name}", "type": "Microsoft.Insights/metrics",
                      "name": {"value": name, "localizedValue": name},
                      "unit": "Percent" if name == "Percentage CPU" else "Bytes",
                      "timeseries": [{"metadatavalues": [], "data": data}], "errorCode": "Success"})
    return {"cost": len(names) * 720, "timespan": query["timespan"][0], "interval": "PT1H",
            "value": value, "namespace": "Microsoft.Compute/virtualMachines",
            "resourceregion": self.resources[rid]["location"]}


def _monitor_batch(self: FakeAzure, sub: str, query: dict[str, list[str]], body: Any) -> dict[str, Any]:
    """The metrics batch API (`metrics:getBatch`, api-version 2023-10-01): up to 50 resources of one
    subscription and region; each answer item holds the per-resource API's metric objects."""
    ids = body.get("resourceids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or len(ids) > 50:
        raise BadRequest("resourceids: 1 to 50 resource ids are required")
    if query.get("metricnamespace", [""])[0].lower() != "microsoft.compute/virtualmachines":
        raise BadRequest("metricnamespace Microsoft.Compute/virtualMachines is required")
    for key in ("starttime", "endtime", "metricnames"):
        if key not in query:
            raise BadRequest(f"{key} is required")
    one = {**query, "timespan": [f"{query['starttime'][0]}/{query['endtime'][0]}"]}
    regions = set()
    values = []
    for rid in ids:
        found = _find(self, str(rid).lower())
        if found is None or not found.lower().startswith(f"/subscriptions/{sub}/"):
            raise BadRequest(f"{rid} is not a resource of subscription {sub}")
        regions.add(self.resources[found]["location"])
        got = self.monitor(found.lower(), one)
        values.append({"starttime": query["starttime"][0], "endtime": query["endtime"][0], "interval": "PT1H",
                       "namespace": "Microsoft.Compute/virtualMachines", "resourceregion": got["resourceregion"],
                       "resourceid": found, "value": got["value"]})
    if len(regions) > 1:
        raise BadRequest(f"the resources of one batch must be in one region (got {', '.join(sorted(regions))})")
    return {"values": values}


FakeAzure.monitor = _monitor  # type: ignore[attr-defined]
FakeAzure.monitor_batch = _monitor_batch  # type: ignore[attr-defined]

_ONE = re.compile(r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.\w+/\w+/[^/]+")


def _find(self: FakeAzure, low: str) -> str | None:
    return next((r for r in self.resources if r.lower() == low), None)


def _start_op(self: FakeAzure, sub: str, name: str, done: Any, location_only: bool = False) -> dict[str, str]:
    op = f"op-{len(self.operations) + 1:04d}"
    self.operations[op] = {"left": self.lro_polls, "done": done, "fail": name in self.lro_fail}
    self.lro_fail.discard(name)
    base = f"{self.url}/subscriptions/{sub}/providers/Microsoft.Compute/locations/westeurope"
    headers = {"Location": f"{base}/operationResults/{op}?api-version=2024-03-01", "Retry-After": "1"}
    if not location_only:
        headers["Azure-AsyncOperation"] = f"{base}/operations/{op}?api-version=2024-03-01"
    return headers


def _poll(self: FakeAzure, op_id: str) -> str:
    op = self.operations[op_id]
    if op["left"] > 0:
        op["left"] -= 1
        return "InProgress"
    if op["fail"]:
        return "Failed"
    if op["done"] is not None:
        op["done"]()
        op["done"] = None
    return "Succeeded"


def _mutations(self: FakeAzure, method: str, path: str, low: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any, dict[str, str]] | None:
    m = re.fullmatch(r"/subscriptions/[^/]+/providers/microsoft\.compute/locations/[^/]+/(operations|operationresults)"
                     r"/([^/]+)", low)
    if m and method == "GET":
        status = _poll(self, m.group(2))
        if m.group(1) == "operations":
            out: dict[str, Any] = {"name": m.group(2), "status": status, "startTime": "2026-03-15T12:00:00Z"}
            if status == "Failed":
                out["error"] = {"code": "OperationNotAllowed", "message": "injected failure"}
            return 200, out, ({"Retry-After": "1"} if status == "InProgress" else {})
        if status == "InProgress":
            return 202, None, {"Retry-After": "1", "Location": f"{self.url}{path}?api-version=2024-03-01"}
        if status == "Failed":
            return 409, {"error": {"code": "OperationNotAllowed", "message": "injected failure"}}, {}
        return 204, None, {}
    m = re.fullmatch(f"({_ONE.pattern})/instanceview", low)
    if m and method == "GET":
        rid = _find(self, m.group(1))
        if rid is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": "not found"}}, {}
        return 200, self.instance_views.get(rid, {"statuses": []}), {}
    m = re.fullmatch(f"({_ONE.pattern})/deallocate", low)
    if m and method == "POST":
        rid = _find(self, m.group(1))
        if rid is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": "not found"}}, {}

        def dealloc(rid: str = rid) -> None:
            self.instance_views[rid] = instance_view("deallocated", "2026-03-15T12:00:00+00:00")

        return 202, None, _start_op(self, rid.split("/")[2], rid.rsplit("/", 1)[-1], dealloc)
    if not _ONE.fullmatch(low):
        return None
    rid = _find(self, low)
    if method == "GET":
        if rid is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": f"The Resource '{path}' was not found."}}, {}
        return 200, self.resources[rid], {}
    if method == "DELETE":
        if rid is None:
            return 204, None, {}

        def gone(rid: str = rid) -> None:
            self.resources.pop(rid, None)

        kind = rid.split("/")[-2].lower()
        return 202, None, _start_op(self, rid.split("/")[2], rid.rsplit("/", 1)[-1], gone,
                                    location_only=kind == "publicipaddresses")
    if method == "PUT" and "/microsoft.compute/snapshots/" in low:
        src = _find(self, str(((body or {}).get("properties") or {}).get("creationData", {}).get(
            "sourceResourceId", "")).lower())
        if src is None:
            raise BadRequest("creationData.sourceResourceId: no such disk")
        name = path.rsplit("/", 1)[-1]
        snap = {"id": path, "name": name, "type": "Microsoft.Compute/snapshots", "location": body.get("location"),
                "tags": body.get("tags") or {}, "properties": {
                    "creationData": {"createOption": "Copy", "sourceResourceId": src},
                    "diskSizeGB": self.resources[src]["properties"].get("diskSizeGB"),
                    "provisioningState": "Creating", "timeCreated": "2026-03-15T12:00:00+00:00"}}
        self.resources[path] = snap

        def ready(path: str = path) -> None:
            self.resources[path]["properties"]["provisioningState"] = "Succeeded"

        return 201, snap, _start_op(self, path.split("/")[2], name, ready)
    return None


FakeAzure.mutations = _mutations  # type: ignore[attr-defined]

# VM sizes: name -> (Linux pay-as-you-go USD/h in eastus, vCPUs, memory GiB, family); westeurope costs 10 % more
SIZES: dict[str, tuple[str, int, int, str]] = {
    "Standard_D2s_v5": ("0.096", 2, 8, "standardDSv5Family"), "Standard_D4s_v5": ("0.192", 4, 16, "standardDSv5Family"),
    "Standard_D8s_v5": ("0.384", 8, 32, "standardDSv5Family"), "Standard_E4s_v5": ("0.252", 4, 32, "standardESv5Family"),
    "Standard_E8s_v5": ("0.504", 8, 64, "standardESv5Family"), "Standard_B2s": ("0.0416", 2, 4, "standardBSFamily"),
    "Standard_B1s": ("0.0104", 1, 1, "standardBSFamily"),
}
REGION_FACTOR = {"eastus": Decimal("1"), "westeurope": Decimal("1.1")}


def size_price(sku: str, region: str) -> Decimal:
    return Decimal(SIZES[sku][0]) * REGION_FACTOR[region]


def _retail_prices(self: FakeAzure, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """Azure Retail Prices API answer (Items, NextPageLink), computed for the filter's region."""
    flt = query.get("$filter", [""])[0]
    m = re.search(r"armRegionName eq '([a-z0-9]+)'", flt)
    if "serviceName eq 'Virtual Machines'" not in flt or m is None or "priceType eq 'Consumption'" not in flt:
        raise BadRequest("unsupported filter")
    region = m.group(1)
    items = []
    for sku, (_, _, _, family) in sorted(SIZES.items()):
        price = size_price(sku, region)
        short = sku.removeprefix("Standard_").replace("_", " ")
        base = {"currencyCode": "USD", "tierMinimumUnits": 0.0, "armRegionName": region, "location": region,
                "effectiveStartDate": "2024-01-01T00:00:00Z", "serviceName": "Virtual Machines",
                "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
                "isPrimaryMeterRegion": True, "armSkuName": sku}
        items.append({**base, "retailPrice": float(price), "unitPrice": float(price), "skuName": short,
                      "meterName": short, "productName": f"Virtual Machines {family} Series"})
        items.append({**base, "retailPrice": float(price * 2), "unitPrice": float(price * 2), "skuName": short,
                      "meterName": short, "productName": f"Virtual Machines {family} Series Windows"})
        items.append({**base, "retailPrice": float(price / 5), "unitPrice": float(price / 5),
                      "skuName": f"{short} Spot", "meterName": f"{short} Spot",
                      "productName": f"Virtual Machines {family} Series"})
    tok = query.get("$skip", ["0"])[0]
    off = int(tok)
    size = self.page_size
    out: dict[str, Any] = {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                           "Items": items[off:off + size], "Count": len(items[off:off + size])}
    if off + size < len(items):
        out["NextPageLink"] = f"{self.url}{path}?{urlencode({'$filter': flt, '$skip': off + size})}"
    return out


FakeAzure.retail_prices = _retail_prices  # type: ignore[attr-defined]


def _reservation_summaries(self: FakeAzure, order: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Consumption reservation summaries (grain daily), computed from the seed's reservation usage:
    the reservation covers 12 of its 24 hours on the days the web VM uses it, none on the others."""
    if query.get("grain", [""])[0] != "daily":
        raise BadRequest("grain must be daily")
    m = re.fullmatch(r"properties/usageDate ge (\S+) and properties/usageDate le (\S+)", query.get("$filter", [""])[0])
    if m is None:
        raise BadRequest("bad $filter")
    lo, hi = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
    out = []
    for r in self.reservations:
        if order not in r["id"].lower():
            continue
        guid = r["id"].rsplit("/", 1)[-1]
        days = sorted({u.day for u in self.usage if u.reservation_id == guid and lo <= u.day <= hi})
        for d in days:
            used = 12 if any(u.reservation_id == guid and u.day == d and u.charge_type == "Usage"
                             for u in self.usage) else 0
            out.append({"id": f"{r['id']}/providers/Microsoft.Consumption/reservationSummaries/{d:%Y%m%d}",
                        "name": f"{d:%Y%m%d}", "type": "Microsoft.Consumption/reservationSummaries", "tags": None,
                        "properties": {"reservationOrderId": order, "reservationId": guid,
                                       "skuName": r["sku"]["name"], "reservedHours": 24, "usageDate":
                                       f"{d.isoformat()}T00:00:00Z", "usedHours": used,
                                       "minUtilizationPercentage": 0, "avgUtilizationPercentage": used * 100 / 24,
                                       "maxUtilizationPercentage": 100 if used else 0, "kind": "Reservation",
                                       "purchasedQuantity": 1, "remainingQuantity": 0, "totalReservedQuantity": 1,
                                       "usedQuantity": used / 24, "utilizedPercentage": used * 100 / 24}})
    return out


FakeAzure.reservation_summaries = _reservation_summaries  # type: ignore[attr-defined]


def _benefit_summaries(self: FakeAzure, plan_low: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Cost Management benefit utilization summaries (daily) of a savings plan: the amortized cost of
    the usage it covered over its daily commitment (hourly amount x 24)."""
    if query.get("grainParameter", [""])[0] != "Daily":
        raise BadRequest("grainParameter must be Daily")
    m = re.fullmatch(r"properties/usageDate ge '(\S+)' and properties/usageDate le '(\S+)'",
                     query.get("$filter", [""])[0])
    if m is None:
        raise BadRequest("bad $filter")
    lo, hi = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
    sp = next(p for p in self.savings_plans if p["id"].lower() == plan_low)
    guid = sp["id"].rsplit("/", 1)[-1]
    daily = Decimal(str(sp["properties"]["commitment"]["amount"])) * 24
    out = []
    d = lo
    while d <= hi:
        used = sum((u.amortized for u in self.usage if u.reservation_id == guid and u.day == d), Decimal(0))
        pct = float(used * 100 / daily)
        out.append({"kind": "SavingsPlan", "id": f"{sp['id']}/providers/Microsoft.CostManagement/"
                    f"benefitUtilizationSummaries/{d:%Y%m%d}", "name": f"{d:%Y%m%d}",
                    "type": "Microsoft.CostManagement/benefitUtilizationSummaries",
                    "properties": {"armSkuName": "Compute_Savings_Plan", "benefitId": sp["id"],
                                   "benefitOrderId": sp["id"].split("/")[-3], "benefitType": "SavingsPlan",
                                   "usageDate": f"{d.isoformat()}T00:00:00Z", "avgUtilizationPercentage": pct,
                                   "minUtilizationPercentage": 0.0, "maxUtilizationPercentage": pct}})
        d += timedelta(days=1)
    return out


FakeAzure.benefit_summaries = _benefit_summaries  # type: ignore[attr-defined]


FakeAzure.route_more = _route_more  # type: ignore[attr-defined]
