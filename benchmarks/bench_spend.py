"""Benchmark: Spend group-bys over the SQLite cache vs DuckDB on the same data.

Builds caches of N resources x 90 days of daily cost rows (default: 2,000 and 20,000
resources; written directly through the store's bulk path: `bulk_costs`,
`insert_cost_tuples`, `rebuild_summary`, `analyze`), then times
`cache.queries.spend_by` for every Spend dimension over the 90 days (median of
--runs) and the same group-by run by DuckDB (in-memory copy of the same tables, same
SQL shape: the coarse dimensions, resource_type included, from cost_summary, the others from
the daily costs table: DuckDB gets no weekly rollup) as the
reference engine. Targets: < 50 ms at 2,000 resources, < 200 ms at 20,000.

    .venv/bin/python benchmarks/bench_spend.py
    .venv/bin/python benchmarks/bench_spend.py --resources 2000 --runs 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cache import Store  # noqa: E402
from cache import queries as q  # noqa: E402
from cache.schema import SUMMARY_DIMS  # noqa: E402

BY = ("provider_name", "billing_account_id", "sub_account_id", "service_name", "service_category", "region_id",
      "resource_type", "resource_id", "tag:team")
START = date(2025, 1, 1)
DAYS = 90

SERVICES = [("Amazon EC2", "Compute", "Virtual Machine"), ("Amazon S3", "Storage", "Bucket"),
            ("Amazon RDS", "Databases", "DB Instance"), ("AWS Lambda", "Compute", "Function"),
            ("Amazon EBS", "Storage", "Volume"), ("Amazon CloudFront", "Networking", "Distribution"),
            ("Amazon SageMaker", "AI and Machine Learning", "Notebook"), ("Amazon DynamoDB", "Databases", "Table"),
            ("Virtual Machines", "Compute", "Virtual Machine"), ("Azure SQL Database", "Databases", "Database"),
            ("Azure Kubernetes Service", "Compute", "Cluster"), ("Azure OpenAI", "AI and Machine Learning",
            "Account"), ("Compute Engine", "Compute", "Instance"), ("Cloud Storage", "Storage", "Bucket"),
            ("BigQuery", "Analytics", "Dataset"), ("Vertex AI", "AI and Machine Learning", "Endpoint")]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eastus", "westeurope", "us-central1", "europe-west1",
           "ap-southeast-1"]
TEAMS = ["web", "data", "ml", "platform", "search", "payments"]


def build(path: Path, resources: int) -> int:
    """N resources x 90 days, one daily row each (plus a Tax row per account per day)."""
    with Store(path) as store, store.transaction():
        sid = store.ensure_source("bench", "focus")
        dim = store.dim_id
        providers = [dim("provider", p) for p in ("AWS", "Microsoft", "Google Cloud")]
        usage, tax = dim("charge_category", "Usage"), dim("charge_category", "Tax")
        standard = dim("pricing_category", "Standard")
        usd = dim("currency", "USD")
        res_cols = []
        for r in range(resources):
            p = r % 3
            s = (p * 5 + (r // 3) % 5) % len(SERVICES)
            svc, cat, rtype = SERVICES[s]
            sub = r % 60
            res_cols.append((
                providers[p],
                dim("billing_account", f"acct-{p * 2 + sub % 2}", f"Billing {p * 2 + sub % 2}"),
                dim("sub_account", f"sub-{sub:04d}", f"Team account {sub}"),
                dim("service", svc, None, cat),
                dim("service_category", cat),
                dim("region", REGIONS[r % len(REGIONS)]),
                dim("resource", f"res-{r:07d}", f"name-{r}", rtype),
                dim("resource_type", rtype),
                store.tagset_id({"team": TEAMS[r % 6], "env": ("prod", "dev", "staging")[r % 3],
                                 "app": f"app-{r % 300}"}) if r % 5 else None,
            ))
        n = 0
        with store.bulk_costs():  # as the importer: indexes rebuilt after the insert
            for d in range(DAYS):
                day = (START + timedelta(days=d)).isoformat()
                batch = []
                for r, (pv, ba, sa, sv, sc, rg, rs, rt, tg) in enumerate(res_cols):
                    cost = ((r * 7919 + d * 104729) % 1_000_000) * (1 + r % 7) * 13
                    batch.append((sid, day, pv, ba, sa, sv, sc, rg, rs, rt, usage, standard, None, None, usd, tg,
                                  cost, cost * 9 // 10, cost * 6 // 5, cost * 11 // 10, 24.0, 24.0))
                batch.append((sid, day, providers[0], res_cols[0][1], res_cols[0][2], res_cols[0][3], res_cols[0][4],
                              None, None, None, tax, None, None, None, usd, None, 1_234_567, 1_234_567, 0, 0, None, None))
                store.insert_cost_tuples(batch)
                n += len(batch)
            store.rebuild_summary(sid)  # cost_summary and cost_weekly
        store.touch_snapshot()
        store.analyze()  # sampled planner statistics, as replace_costs and the importer do
    return n


def time_sqlite(path: Path, by: str, runs: int) -> tuple[float, int]:
    with Store(path, readonly=True) as store:
        until = START + timedelta(days=DAYS)
        q.spend_by(store.conn, by, START, until)  # warm the page cache
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            groups = q.spend_by(store.conn, by, START, until)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(groups)


def duckdb_copy(path: Path):  # type: ignore[no-untyped-def]
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    with Store(path, readonly=True) as store:
        for table in ("costs", "cost_summary", "dims", "tag_index"):
            cur = store.conn.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cur.description]
            cols = list(zip(*cur.fetchall(), strict=True)) or [[] for _ in names]
            con.register(f"_{table}", pa.table({n: list(c) for n, c in zip(names, cols, strict=True)}))
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM _{table}")
            con.unregister(f"_{table}")
    return con


def time_duckdb(con, by: str, runs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    since, until = START.isoformat(), (START + timedelta(days=DAYS)).isoformat()
    if by.startswith("tag:"):
        sql = f"""SELECT g.value, cur.value, g.cost FROM (
                    SELECT t.value AS value, c.currency AS currency, sum(c.billed) AS cost FROM costs c
                    LEFT JOIN tag_index t ON t.tagset_id = c.tagset AND t.key = '{by[4:]}'
                    WHERE c.day >= ? AND c.day < ? GROUP BY t.value, c.currency) g
                  LEFT JOIN dims cur ON cur.id = g.currency ORDER BY g.cost DESC, g.value"""
    else:
        col = q.DIMENSIONS[by]
        table = "cost_summary" if col in SUMMARY_DIMS else "costs"
        sql = f"""SELECT d.value, d.label, cur.value, g.cost FROM (
                    SELECT c.{col} AS k, c.currency AS currency, sum(c.billed) AS cost FROM {table} c
                    WHERE c.day >= ? AND c.day < ? GROUP BY c.{col}, c.currency) g
                  LEFT JOIN dims d ON d.id = g.k LEFT JOIN dims cur ON cur.id = g.currency
                  ORDER BY g.cost DESC, d.value"""
    con.execute(sql, [since, until]).fetchall()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = con.execute(sql, [since, until]).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(rows)


def bench(resources: int, runs: int, target_ms: float, tmp: Path) -> dict[str, object]:
    path = tmp / f"spend-{resources}.db"
    t0 = time.perf_counter()
    n = build(path, resources)
    print(f"\n{resources:,} resources x {DAYS} days: {n:,} cost rows, "
          f"{path.stat().st_size / 2**20:.0f} MiB (built in {time.perf_counter() - t0:.1f}s)")
    con = duckdb_copy(path)
    print(f"{'group by':20} {'SQLite ms':>10} {'DuckDB ms':>10} {'ratio':>7} {'groups':>7}  target < {target_ms:.0f} ms")
    out = {}
    for by in BY:
        ms, groups = time_sqlite(path, by, runs)
        dms, dgroups = time_duckdb(con, by, runs)
        assert groups == dgroups, (by, groups, dgroups)
        flag = "OK" if ms < target_ms else "MISSED"
        print(f"{by:20} {ms:10.1f} {dms:10.1f} {ms / dms:6.1f}x {groups:7}  {flag}")
        out[by] = {"sqlite_ms": round(ms, 1), "duckdb_ms": round(dms, 1), "groups": groups}
    con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, nargs="*", default=[2000, 20000])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="costdeck-bench-") as tmp:
        for n in a.resources:
            results[n] = bench(n, a.runs, 50.0 if n <= 2000 else 200.0, Path(tmp))
    if a.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
