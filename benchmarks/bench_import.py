"""Benchmark: FOCUS Parquet import vs DuckDB's bare read + daily aggregate of the same file.

Generates a realistic hourly FOCUS 1.2 Parquet export (default 2,000 resources x 90 days x
24 hours = 4.32M rows: 3 providers, 6 billing accounts, 40 sub accounts, 24 services,
8 regions, tags as JSON strings, some Savings Plan rows), then, each in its own
subprocess so peak RSS is isolated:

  import     providers.focus.import_files into a fresh cache (validation, rollup,
             tag canonicalisation, rounding, SQLite bulk write with the indexes rebuilt
             after it, summary and weekly rollups, ANALYZE)
  reference  DuckDB reading the same file and aggregating it to the same daily grain
             (GROUP BY day + the same 20 dimensions + tags, summing the same 6 columns)

Prints both times, the ratio (target <= 3) and each peak RSS (target < 1 GB).

    .venv/bin/python benchmarks/bench_import.py                  # full size
    .venv/bin/python benchmarks/bench_import.py --resources 200 --days 30
    .venv/bin/python benchmarks/bench_import.py --out /tmp/focus.parquet --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DIMS = (
    "ProviderName", "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "ServiceName",
    "ServiceCategory", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ChargeCategory",
    "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountType",
    "CommitmentDiscountStatus", "BillingCurrency", "Tags",
)
SUMS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity", "ConsumedQuantity")


def generate(path: Path, resources: int, days: int) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    hours = days * 24
    services = [
        ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machine"), ("Amazon Simple Storage Service", "Storage",
        "Bucket"), ("Amazon Relational Database Service", "Databases", "DB Instance"), ("AWS Lambda", "Compute",
        "Function"), ("Amazon Elastic Block Store", "Storage", "Volume"), ("Amazon CloudFront", "Networking",
        "Distribution"), ("Amazon SageMaker", "AI and Machine Learning", "Notebook"), ("Amazon DynamoDB",
        "Databases", "Table"),
        ("Virtual Machines", "Compute", "Virtual Machine"), ("Storage", "Storage", "Storage Account"),
        ("Azure SQL Database", "Databases", "Database"), ("Azure Kubernetes Service", "Compute", "Cluster"),
        ("Bandwidth", "Networking", "Network"), ("Azure Monitor", "Management and Governance", "Workspace"),
        ("Azure OpenAI", "AI and Machine Learning", "Account"), ("Key Vault", "Security", "Vault"),
        ("Compute Engine", "Compute", "Instance"), ("Cloud Storage", "Storage", "Bucket"), ("BigQuery",
        "Analytics", "Dataset"), ("Cloud SQL", "Databases", "Instance"), ("Vertex AI", "AI and Machine Learning",
        "Endpoint"), ("Cloud Run", "Compute", "Service"), ("Networking", "Networking", "Network"),
        ("Cloud Logging", "Management and Governance", "Bucket"),
    ]
    regions = [("us-east-1", "US East (N. Virginia)"), ("us-west-2", "US West (Oregon)"), ("eu-west-1",
               "Europe (Ireland)"), ("eastus", "East US"), ("westeurope", "West Europe"), ("us-central1",
               "Iowa"), ("europe-west1", "Belgium"), ("ap-southeast-1", "Asia Pacific (Singapore)")]
    con.execute("CREATE TABLE svc(i INT, name VARCHAR, cat VARCHAR, rtype VARCHAR)")
    con.executemany("INSERT INTO svc VALUES (?, ?, ?, ?)", [(i, *s) for i, s in enumerate(services)])
    con.execute("CREATE TABLE reg(i INT, id VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO reg VALUES (?, ?, ?)", [(i, *r) for i, r in enumerate(regions)])
    con.execute(f"""
        CREATE TABLE res AS
        SELECT r, r % 3 AS p, (r % 3) * 8 + (r // 3) % 8 AS s, r % 8 AS g, r % 40 AS sub,
               ['web', 'data', 'ml', 'platform', 'search', 'payments'][1 + r % 6] AS team,
               ['prod', 'staging', 'dev'][1 + (r // 7) % 3] AS env
        FROM range({resources}) t(r)""")
    q = f"""
    COPY (
      SELECT
        CAST((hash(r, h) % 1000000) / 1000000.0 * (1 + r % 7) AS DECIMAL(20, 10)) AS BilledCost,
        CAST((hash(r, h) % 1000000) / 1000000.0 * (1 + r % 7) * 0.9 AS DECIMAL(20, 10)) AS EffectiveCost,
        CAST((hash(r, h) % 1000000) / 1000000.0 * (1 + r % 7) * 1.2 AS DECIMAL(20, 10)) AS ListCost,
        CAST((hash(r, h) % 1000000) / 1000000.0 * (1 + r % 7) * 1.1 AS DECIMAL(20, 10)) AS ContractedCost,
        CAST(1 AS DECIMAL(20, 10)) AS PricingQuantity,
        CAST(1 AS DECIMAL(20, 10)) AS ConsumedQuantity,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS ProviderName,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS PublisherName,
        ['AWS', 'Microsoft', 'Google Cloud'][1 + p] AS InvoiceIssuerName,
        'acct-' || (p * 2 + sub % 2) AS BillingAccountId,
        'Billing ' || (p * 2 + sub % 2) AS BillingAccountName,
        'sub-' || lpad(CAST(sub AS VARCHAR), 4, '0') AS SubAccountId,
        'Team account ' || sub AS SubAccountName,
        svc.name AS ServiceName, svc.cat AS ServiceCategory,
        reg.id AS RegionId, reg.name AS RegionName, reg.id || 'a' AS AvailabilityZone,
        'res-' || lpad(CAST(r AS VARCHAR), 6, '0') || '-' || md5(CAST(r AS VARCHAR))[1:12] AS ResourceId,
        'name-' || r AS ResourceName, svc.rtype AS ResourceType,
        CASE WHEN r % 50 = 0 AND h % 24 = 0 THEN 'Tax' ELSE 'Usage' END AS ChargeCategory,
        CAST(NULL AS VARCHAR) AS ChargeClass,
        'Usage-Based' AS ChargeFrequency,
        'charge for ' || svc.name AS ChargeDescription,
        CASE WHEN r % 10 = 0 THEN 'Committed' ELSE 'Standard' END AS PricingCategory,
        'Hours' AS PricingUnit, 'Hours' AS ConsumedUnit,
        CASE WHEN r % 10 = 0 THEN 'sp-' || (r % 3) END AS CommitmentDiscountId,
        CASE WHEN r % 10 = 0 THEN 'Savings plan ' || (r % 3) END AS CommitmentDiscountName,
        CASE WHEN r % 10 = 0 THEN 'Savings Plan' END AS CommitmentDiscountType,
        CASE WHEN r % 10 = 0 THEN 'Used' END AS CommitmentDiscountStatus,
        CASE WHEN r % 10 = 0 THEN 'Spend' END AS CommitmentDiscountCategory,
        'USD' AS BillingCurrency,
        TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_hours(h) AS ChargePeriodStart,
        TIMESTAMPTZ '2025-01-01 01:00:00+00' + to_hours(h) AS ChargePeriodEnd,
        TIMESTAMPTZ '2025-01-01 00:00:00+00' AS BillingPeriodStart,
        TIMESTAMPTZ '2025-04-01 00:00:00+00' AS BillingPeriodEnd,
        'sku-' || s AS SkuId, 'sku-' || s || '-price' AS SkuPriceId,
        'Standard' AS BillingAccountType,
        CASE WHEN r % 4 = 0 THEN NULL
             ELSE '{{"team": "' || team || '", "env": "' || env || '", "app": "app-' || (r % 150) || '"}}' END AS Tags
      FROM res, range({hours}) t(h), svc, reg
      WHERE svc.i = res.s AND reg.i = res.g
    ) TO {"'" + str(path).replace("'", "''") + "'"} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)
    """
    con.execute(q)
    n = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    con.close()
    return int(n)


# -- children (each measured in its own process) -------------------------------------------
def child_import(file: str, db: str) -> dict[str, object]:
    from cache import Store
    from providers import focus

    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def progress(label: str, done: int, total: int | None) -> None:
        if done == 0:
            stages.append((label, round(time.perf_counter() - t0, 2)))

    with Store(db) as store:
        [res] = focus.import_files(store, [Path(file)], progress=progress)
        elapsed = time.perf_counter() - t0
        costs = store.conn.execute("SELECT count(*) FROM costs").fetchone()[0]
    return {"seconds": elapsed, "rows_in": res.input_rows, "rows_out": res.daily_rows, "costs": costs,
            "summary": res.summary(), "stages": stages}


def child_reference(file: str) -> dict[str, object]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    keys = ", ".join(f'"{c}"' for c in DIMS)
    sums = ", ".join(f'sum("{c}")' for c in SUMS)
    con.execute(
        f"CREATE TEMP TABLE ref AS SELECT CAST(ChargePeriodStart AS DATE) AS day, {keys}, {sums}, count(*) AS n "
        f"FROM read_parquet('{file}') GROUP BY ALL"
    )
    rows_out, rows_in = con.execute("SELECT count(*), sum(n) FROM ref").fetchone()
    return {"seconds": time.perf_counter() - t0, "rows_in": int(rows_in), "rows_out": int(rows_out)}


def peak_rss() -> int:
    """This process's peak RSS in bytes. Linux: VmHWM (ru_maxrss would carry over the parent's
    peak across fork+exec); elsewhere ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def run_child(args: list[str]) -> tuple[dict[str, object], int]:
    """Run this script as a child; return its JSON result and its peak RSS in bytes."""
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
    result = json.loads(proc.stdout)
    return result, int(result["peak_rss"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=2000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--out", type=Path, help="where to write the Parquet file (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument("--child-import", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--child-reference", metavar="FILE", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_import:
        print(json.dumps({**child_import(*a.child_import), "peak_rss": peak_rss()}))
        return
    if a.child_reference:
        print(json.dumps({**child_reference(a.child_reference), "peak_rss": peak_rss()}))
        return

    tmp = Path(tempfile.mkdtemp(prefix="costdeck-bench-"))
    file = a.out or tmp / "focus-hourly.parquet"
    t0 = time.perf_counter()
    if not file.exists() or not a.out:
        n = generate(file, a.resources, a.days)
        print(f"generated {file}: {n:,} hourly rows, {file.stat().st_size / 2**20:.0f} MiB "
              f"in {time.perf_counter() - t0:.1f}s")
    else:
        print(f"using existing {file}")
    ref, ref_rss = run_child(["--child-reference", str(file)])
    imp, imp_rss = run_child(["--child-import", str(file), str(tmp / "cache.db")])
    ratio = imp["seconds"] / ref["seconds"]  # type: ignore[operator]
    print(f"cpu cores            {os.cpu_count()}")
    print(f"rows in / out        {imp['rows_in']:,} / {imp['rows_out']:,} daily rows "
          f"(DuckDB reference: {ref['rows_in']:,} / {ref['rows_out']:,})")
    print(f"import               {imp['seconds']:.2f} s   peak RSS {imp_rss / 2**20:.0f} MiB")
    print(f"DuckDB reference     {ref['seconds']:.2f} s   peak RSS {ref_rss / 2**20:.0f} MiB")
    print(f"ratio                {ratio:.2f}x   (target <= 3x)   {'OK' if ratio <= 3 else 'MISSED'}")
    print(f"peak import memory   {'OK' if imp_rss < 2**30 else 'MISSED'} (target < 1 GiB)")
    print("import stages (s)    " + ", ".join(f"{lab} @{t}" for lab, t in imp["stages"]))  # type: ignore[union-attr]
    print(imp["summary"])
    if a.keep:
        print(f"kept {file} and {tmp / 'cache.db'}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
