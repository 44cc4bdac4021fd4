"""Benchmark: 13 months of 20,000 resources, whole commands as a user runs them, vs DuckDB.

Generates a FOCUS 1.2 Parquet export at DAILY grain (default 20,000 resources x 395 days =
7.9M rows: 3 providers, 12 sub accounts, 40 services, 8 regions, 4 tag sets, every mandatory
FOCUS column), then, each measured as a whole process (start-up and imports included):

  import          `costdeck --db CACHE import FILE`: wall time, peak RSS (VmHWM of the child
                  via wait4's ru_maxrss), cache size on disk
  reference       DuckDB aggregating the same file to daily grain into a table (same keys,
                  same sums), and the same `GROUP BY <dim>` over the 13 months on that table
  report spend    `costdeck --db CACHE report spend --by DIM --format json` for every Spend
                  dimension over the whole range (median of --runs), plus a 30-day and a
                  one-month range for service_name
  interactions    what the Spend view computes on each key press (`analysis.spend.build_table`:
                  group-by, previous period, per-group series, chart) for 16 group-bys, ranges,
                  drill-downs and filters, in process on the cache (min of 3; target 300 ms)
  first frame     `costdeck --db CACHE` to its first full Overview frame (bench_startup's probe)

and prints each figure with its ratio to DuckDB in the same run.

    .venv/bin/python benchmarks/bench_scale.py                         # full size (several minutes)
    .venv/bin/python benchmarks/bench_scale.py --resources 2000 --days 120   # quick
    .venv/bin/python benchmarks/bench_scale.py --out /tmp/scale.parquet --db /tmp/scale.db --keep
    .venv/bin/python benchmarks/bench_scale.py --db /tmp/scale.db --reports-only   # reuse a cache
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

START = "2025-01-01"
BY = ("provider_name", "billing_account_id", "sub_account_id", "service_name", "service_category", "region_id",
      "resource_type", "charge_category", "resource_id", "tag:team")
KEYS = ("ProviderName", "BillingAccountId", "SubAccountId", "ServiceName", "ServiceCategory", "RegionId",
        "ResourceId", "ResourceType", "ChargeCategory", "PricingCategory", "CommitmentDiscountId",
        "CommitmentDiscountStatus", "BillingCurrency", "Tags")
SUMS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
REF_COLUMN = {"provider_name": "ProviderName", "billing_account_id": "BillingAccountId",
              "sub_account_id": "SubAccountId", "service_name": "ServiceName",
              "service_category": "ServiceCategory", "region_id": "RegionId", "resource_type": "ResourceType",
              "charge_category": "ChargeCategory", "resource_id": "ResourceId",
              "tag:team": "json_extract_string(Tags, '$.team')"}
CATEGORIES = ("Compute", "Storage", "Databases", "Networking", "Analytics", "AI and Machine Learning",
              "Management and Governance", "Security")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eastus", "westeurope", "us-central1", "europe-west1",
           "ap-southeast-1")
TAGSETS = ('{"team": "web", "env": "prod"}', '{"team": "data", "env": "prod"}',
           '{"team": "ml", "env": "staging"}', None)


def generate(path: Path, resources: int, days: int) -> int:
    """The daily FOCUS 1.2 file. Amounts are DECIMAL with 10 places (sub-cent digits on purpose)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE svc AS SELECT i, 'Service ' || lpad(CAST(i AS VARCHAR), 2, '0') AS name, "
                f"{list(CATEGORIES)}[1 + i % 8] AS cat, 'Type ' || (i % 13) AS rtype FROM range(40) t(i)")
    con.execute(f"CREATE TABLE reg AS SELECT i, {list(REGIONS)}[1 + i] AS id FROM range(8) t(i)")
    tags = ", ".join("NULL" if t is None else "'" + t + "'" for t in TAGSETS)
    con.execute(f"""
        CREATE TABLE res AS
        SELECT r, r % 3 AS p, CAST(hash(r + 1000003) % 40 AS BIGINT) AS s,
               CAST(hash(r + 2000003) % 8 AS BIGINT) AS g, CAST(hash(r + 3000017) % 12 AS BIGINT) AS sub,
               [{tags}][1 + CAST(hash(r + 4000037) % 4 AS BIGINT)] AS tags
        FROM range({resources}) t(r)""")
    amount = "(hash(r, d) % 1000000) / 1000000.0 * (1 + r % 7)"
    con.execute(f"""
    COPY (
      SELECT
        CAST({amount} AS DECIMAL(20, 10)) AS BilledCost,
        CAST({amount} * 0.9 AS DECIMAL(20, 10)) AS EffectiveCost,
        CAST({amount} * 1.2 AS DECIMAL(20, 10)) AS ListCost,
        CAST({amount} * 1.1 AS DECIMAL(20, 10)) AS ContractedCost,
        CAST(1.5 AS DECIMAL(20, 10)) AS ListUnitPrice, CAST(1.4 AS DECIMAL(20, 10)) AS ContractedUnitPrice,
        CAST(24 AS DECIMAL(20, 10)) AS PricingQuantity, CAST(24 AS DECIMAL(20, 10)) AS ConsumedQuantity,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS ProviderName,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS PublisherName,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS InvoiceIssuerName,
        'acct-' || p AS BillingAccountId, 'Billing ' || p AS BillingAccountName, 'Standard' AS BillingAccountType,
        'sub-' || lpad(CAST(sub AS VARCHAR), 2, '0') AS SubAccountId, 'Team account ' || sub AS SubAccountName,
        'Subscription' AS SubAccountType,
        svc.name AS ServiceName, svc.cat AS ServiceCategory, CAST(NULL AS VARCHAR) AS ServiceSubcategory,
        reg.id AS RegionId, reg.id AS RegionName, reg.id || 'a' AS AvailabilityZone,
        'res-' || lpad(CAST(r AS VARCHAR), 6, '0') AS ResourceId, 'name-' || r AS ResourceName,
        svc.rtype AS ResourceType,
        CASE WHEN r % 500 = 0 THEN 'Tax' ELSE 'Usage' END AS ChargeCategory,
        CAST(NULL AS VARCHAR) AS ChargeClass, 'Usage-Based' AS ChargeFrequency,
        'charge for ' || svc.name AS ChargeDescription,
        CASE WHEN r % 10 = 0 THEN 'Committed' ELSE 'Standard' END AS PricingCategory,
        'Hours' AS PricingUnit, 'Hours' AS ConsumedUnit,
        CASE WHEN r % 10 = 0 THEN 'sp-' || (r % 3) END AS CommitmentDiscountId,
        CASE WHEN r % 10 = 0 THEN 'Savings plan ' || (r % 3) END AS CommitmentDiscountName,
        CASE WHEN r % 10 = 0 THEN 'Savings Plan' END AS CommitmentDiscountType,
        CASE WHEN r % 10 = 0 THEN 'Used' END AS CommitmentDiscountStatus,
        CASE WHEN r % 10 = 0 THEN 'Spend' END AS CommitmentDiscountCategory,
        'USD' AS BillingCurrency, 'USD' AS PricingCurrency,
        TIMESTAMPTZ '{START} 00:00:00+00' + to_days(CAST(d AS INTEGER)) AS ChargePeriodStart,
        TIMESTAMPTZ '{START} 00:00:00+00' + to_days(CAST(d + 1 AS INTEGER)) AS ChargePeriodEnd,
        date_trunc('month', TIMESTAMPTZ '{START} 00:00:00+00' + to_days(CAST(d AS INTEGER))) AS BillingPeriodStart,
        date_trunc('month', TIMESTAMPTZ '{START} 00:00:00+00' + to_days(CAST(d AS INTEGER))) + INTERVAL 1 MONTH
            AS BillingPeriodEnd,
        'sku-' || s AS SkuId, 'sku-' || s || '-price' AS SkuPriceId,
        tags AS Tags
      FROM res, range({days}) t(d), svc, reg
      WHERE svc.i = res.s AND reg.i = res.g
    ) TO '{str(path).replace("'", "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)""")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')").fetchone()[0]
    con.close()
    return int(n)


def run(cmd: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one whole command."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, cwd=REPO, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-400:]}")
    return wall, proc.stdout.decode()


def child_rss(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and the child's own peak RSS (wait4), for one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-400:]}")
    return wall, ru.ru_maxrss * 1024


def reference(file: Path) -> dict[str, float]:
    """DuckDB: aggregate to daily grain into a table, then each group-by over the whole range."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    keys = ", ".join(f'"{k}"' for k in KEYS)
    sums = ", ".join(f'sum("{c}") AS "{c}"' for c in SUMS)
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE daily AS SELECT CAST(ChargePeriodStart AS DATE) AS day, {keys}, {sums} "
                f"FROM read_parquet('{file}') GROUP BY ALL")
    out = {"aggregate": time.perf_counter() - t0}
    for by in BY:
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            con.execute(f"SELECT {REF_COLUMN[by]} AS k, BillingCurrency, sum(BilledCost) AS c FROM daily "
                        "GROUP BY ALL ORDER BY c DESC").fetchall()
            ts.append(time.perf_counter() - t0)
        out[by] = statistics.median(ts)
    con.close()
    return out


def frame_seconds(db: Path, runs: int) -> list[float]:
    """Process start to the first full Overview frame, as bench_startup.py measures it."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_startup

    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", bench_startup.APP_CODE, str(db)], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t0)
    return ts


INTERACTIONS_CODE = r"""
import json, sqlite3, sys, time
from datetime import date, timedelta
sys.path.insert(0, sys.argv[2])
from analysis.spend import build_table
from cache import queries as q
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
first, last = q.data_range(conn)
end = last + timedelta(days=1)
svc = q.spend_by(conn, "service_name", first, end)[0].value
sub = q.spend_by(conn, "sub_account_id", first, end)[0].value
cases = [
    ("by service, 30 days, per day (the first screen)", "service_name", 30, "day", {}),
    ("by service, 13 months, per day", "service_name", 0, "day", {}),
    ("by service, 13 months, per month", "service_name", 0, "month", {}),
    ("by resource, 30 days, per day", "resource_id", 30, "day", {}),
    ("by resource, 13 months, per week", "resource_id", 0, "week", {}),
    ("by tag team, 90 days, per day", "tag:team", 90, "day", {}),
    ("provider AWS > by service, 30 days", "service_name", 30, "day", {"provider_name": "AWS"}),
    ("provider AWS > by service, 106 days", "service_name", 106, "day", {"provider_name": "AWS"}),
    ("provider AWS > by service, 13 months, per day", "service_name", 0, "day", {"provider_name": "AWS"}),
    ("provider AWS > by region, 13 months, per week", "region_id", 0, "week", {"provider_name": "AWS"}),
    ("service > by resource, 30 days", "resource_id", 30, "day", {"service_name": svc}),
    ("service > by resource, 13 months, per day", "resource_id", 0, "day", {"service_name": svc}),
    ("AWS > service > by region, 90 days", "region_id", 90, "day", {"provider_name": "AWS", "service_name": svc}),
    ("sub account > by service, 13 months, per day", "service_name", 0, "day", {"sub_account_id": sub}),
    ("tag team=web > by service, 90 days", "service_name", 90, "day", {"tag:team": "web"}),
    ("tag team=web > by resource, 30 days", "resource_id", 30, "day", {"tag:team": "web"}),
]
out = []
for label, by, days, grain, filters in cases:
    since = first if days == 0 else end - timedelta(days=days)
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        build_table(conn, by, since, end, "billed", grain, filters)
        ts.append(time.perf_counter() - t0)
    out.append((label, min(ts)))
print(json.dumps(out))
"""


def interactions(db: Path) -> list[tuple[str, float]]:
    """Spend interactions in process: `analysis.spend.build_table` (group-by, previous period,
    per-group series, chart), what the Spend view computes on each key press; min of 3."""
    import json

    proc = subprocess.run([sys.executable, "-c", INTERACTIONS_CODE, str(db), str(REPO)], capture_output=True,
                          cwd=REPO, check=True)
    return [(label, t) for label, t in json.loads(proc.stdout)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=395)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, help="the Parquet file (reused when it exists)")
    ap.add_argument("--db", type=Path, help="the cache (reused with --reports-only)")
    ap.add_argument("--reports-only", action="store_true", help="skip generate/import; time reports on --db")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="costdeck-scale-"))
    file = a.out or tmp / "scale-daily.parquet"
    db = a.db or tmp / "cache.db"
    exe = [sys.executable, "-m", "tui.cli"] if not (REPO / ".venv/bin/costdeck").exists() else \
        [str(REPO / ".venv/bin/costdeck")]
    print(f"cpu cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    if not file.exists() and not a.reports_only:
        t0 = time.perf_counter()
        n = generate(file, a.resources, a.days)
        print(f"generated {n:,} daily rows, {file.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s")
    imported = None
    if not a.reports_only:
        # Before the reference: a child forked from a parent that has run DuckDB over the file
        # would count the parent's gigabytes in its own peak RSS.
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        wall, rss = child_rss([*exe, "--db", str(db), "import", str(file)])
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
        imported = (wall, rss, size)
    ref = reference(file) if file.exists() else {}
    if ref:
        print(f"DuckDB aggregate into a table   {ref['aggregate']:.2f} s")
    if imported:
        wall, rss, size = imported
        ratio = f"{wall / ref['aggregate']:.1f}x DuckDB" if ref else ""
        print(f"import (whole command)          {wall:.1f} s   peak RSS {rss / 2**20:.0f} MiB   "
              f"cache {size / 2**20:.0f} MiB   {ratio}")
    print(f"{'report spend --by (13 months)':32}{'median':>9}{'min':>9}{'max':>9}{'DuckDB':>9}{'ratio':>8}")
    for by in BY:
        ts = [run([*exe, "--db", str(db), "report", "spend", "--by", by, "--format", "json"])[0]
              for _ in range(a.runs)]
        r = ref.get(by)
        print(f"{by:32}{statistics.median(ts):9.3f}{min(ts):9.3f}{max(ts):9.3f}"
              f"{(f'{r:9.3f}' if r else ''):>9}{(f'{statistics.median(ts) / r:7.2f}x' if r else ''):>8}")
    for label, extra in (("service_name, 30 days", ["--since", "2026-01-01", "--until", "2026-01-31"]),
                         ("service_name, one month", ["--since", "2025-06-01", "--until", "2025-07-01"])):
        ts = [run([*exe, "--db", str(db), "report", "spend", "--by", "service_name", "--format", "json", *extra])[0]
              for _ in range(a.runs)]
        print(f"{label:32}{statistics.median(ts):9.3f}{min(ts):9.3f}{max(ts):9.3f}")
    print(f"{'Spend interaction (in process)':52}{'ms':>8}")
    worst = 0.0
    for label, t in interactions(db):
        worst = max(worst, t)
        print(f"{label:52}{t * 1000:8.0f}")
    print(f"{'slowest Spend interaction':52}{worst * 1000:8.0f}   (target 300)")
    ts = frame_seconds(db, a.runs)
    print(f"{'first Overview frame':32}{statistics.median(ts):9.3f}{min(ts):9.3f}{max(ts):9.3f}")
    if a.keep or a.db or a.out:
        print(f"kept {file} and {db}")
    if not a.keep:
        if not a.out:
            file.unlink(missing_ok=True)
        if not a.db:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
