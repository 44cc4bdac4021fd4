"""`generate`: run the generators in their fixed order, then write everything in ONE transaction.

The order of the generator calls in `_build` is part of the output: every generator draws from the
same `random.Random(seed)`, and some read what earlier ones made (commitments allocate the fleets'
hours, support is a share of all AWS usage so far, the audit log names resources). Writing goes
through the store's normal write path (`replace_costs`, `replace_where`) after wiping every table;
`generate` refuses a cache that holds anything but a previous demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cache import Store, timeutil
from cache.money import fmt

from ..errors import InputError
from . import admin, anomalies, commitments, fleets, inventory, kubernetes, loose, ml, mlops, services
from .catalog import ACCOUNTS, AWS, DEMO_KIND, K8S, N_DAYS, PROVIDERS
from .core import Gen

# Tables the demo wipes, children before parents (foreign keys are on).
_WIPE_FIRST = ("ml_profiles", "ml_executors", "ml_run_metrics", "ml_run_params", "ml_runs", "tag_index", "costs",
               "sync_runs", "imports")


@dataclass(slots=True)
class DemoSummary:
    as_of: date
    seed: int
    days: int
    providers: int
    accounts: int
    services: int
    regions: int
    cost_rows: int
    resources: int
    runs: int
    total_billed: int  # nano-units, USD
    k8s_rows: int = 0  # Kubernetes allocation rows (a lens on the AWS bill, not in total_billed)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"demo as of {self.as_of} (seed {self.seed}): {self.days} days, {self.providers} providers, "
            f"{self.accounts} accounts, {self.services} services, {self.regions} regions, "
            f"{self.cost_rows:,} cost rows, "
            + (f"1 Kubernetes cluster ({self.k8s_rows:,} allocation rows), " if self.k8s_rows else "")
            + f"{self.resources} resources, {self.runs} ML runs, "
            f"{fmt(self.total_billed, 'USD')} billed"
        )


@dataclass(slots=True)
class _Tables:
    """The rows `_build` returns besides those accumulated on `Gen`."""

    source_ids: dict[str, int]  # provider -> sources.id
    commitments: list[dict[str, Any]]
    commitment_usage: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    sync_runs: list[dict[str, Any]]
    exclusions: list[dict[str, Any]]
    budgets: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def generate(store: Store, as_of: date, seed: int = 7) -> DemoSummary:
    """(Re)generate the demo snapshot ending on `as_of` (inclusive) into `store`, atomically."""
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    _refuse_real_data(store)  # fail fast; checked again inside the write transaction
    snap = min(datetime.combine(as_of, time(6), tzinfo=UTC), timeutil.now())
    g = Gen(as_of, seed, snap)
    t = _build(g)
    n_costs, counts = _write(store, g, t)

    all_rows = [r for p in PROVIDERS for r in g.costs[p]]
    return DemoSummary(
        as_of=as_of,
        seed=seed,
        days=N_DAYS,
        providers=len({r.provider_name for r in all_rows}),
        accounts=len({r.sub_account_id for r in all_rows}),
        services=len({r.service_name for r in all_rows}),
        regions=len({r.region_id for r in all_rows if r.region_id}),
        cost_rows=n_costs,
        resources=len(g.resources),
        runs=len(g.ml_runs),
        total_billed=sum(r.billed_cost for r in all_rows),
        k8s_rows=len(g.k8s_allocations),
        anomalies=g.anomalies,
        table_rows=counts,
    )


def _build(g: Gen) -> _Tables:
    """Every generator, in the one order that gives the same snapshot for the same seed and as_of."""
    anomalies.plan(g)
    fleets.build(g)
    commitments.plan(g)
    alloc = commitments.allocate(g)
    fleets.instance_costs(g, alloc)
    ami_users = inventory.build(g)
    loose.build(g, ami_users)
    services.managed(g)
    ml.runs(g)
    mlops.build(g)
    kubernetes.allocation(g)
    services.flows(g)
    commitment_rows, usage = commitments.rows(g)
    prices = admin.prices(g)
    sources, runs = admin.sources_and_runs(g)
    month0 = g.as_of.replace(day=1)
    mtd_prod = sum(r.billed_cost for r in g.costs[AWS]
                   if r.day >= month0 and r.sub_account_id == ACCOUNTS["prod"].sub_id)
    # the ML team's month so far, and where it is heading at its run rate of the last 14 days
    ml_days = [r for rows in g.costs.values() for r in rows if isinstance(r.tags, dict) and r.tags.get("team") == "ml"]
    mtd_ml = sum(r.billed_cost for r in ml_days if r.day >= month0)
    last14 = sum(r.billed_cost for r in ml_days if r.day > g.as_of - timedelta(days=14))
    rest = ((month0 + timedelta(days=32)).replace(day=1) - g.as_of).days - 1
    exclusions, budgets, actions = admin.admin_tables(
        g, {"prod": mtd_prod, "ml": mtd_ml, "ml_projected": mtd_ml + last14 * rest // 14})

    # source ids: resources, commitments and ML runs belong to their provider's source
    src_id = {p: s["id"] for p, s in zip(PROVIDERS, sources, strict=True)}
    for r in g.resources:
        r["source_id"] = src_id[r["provider_name"]]
    for c in commitment_rows:
        c["source_id"] = src_id[c["provider_name"]]
    for a in g.k8s_allocations:
        a["source_id"] = src_id[K8S]
    ml_src = {e["run_id"]: src_id[e["provider_name"]] for e in g.ml_executors}
    for run in g.ml_runs:
        run["source_id"] = ml_src[run["run_id"]]
    return _Tables(src_id, commitment_rows, usage, prices, sources, runs, exclusions, budgets, actions)


def _write(store: Store, g: Gen, t: _Tables) -> tuple[int, dict[str, int]]:
    """Wipe the cache and write the snapshot in one transaction. Returns (cost rows written, table counts)."""
    with store.transaction():
        _refuse_real_data(store)
        _wipe(store)
        store.replace_where("sources", "1=1", (), t.sources)
        store.replace_where("sync_runs", "1=1", (), t.sync_runs)
        n_costs = 0
        for p in PROVIDERS:
            n_costs += store.replace_costs(t.source_ids[p], g.costs[p], in_transaction=True)
        store.replace_where("resources", "1=1", (), g.resources)
        store.replace_where("metrics", "1=1", (), g.metrics)
        store.replace_where("prices", "1=1", (), t.prices)
        store.replace_where("commitments", "1=1", (), t.commitments)
        store.replace_where("commitment_usage", "1=1", (), t.commitment_usage)
        store.replace_where("k8s_allocations", "1=1", (), _with_tagsets(store, g.k8s_allocations))
        store.replace_where("ml_runs", "1=1", (), g.ml_runs)
        store.replace_where("ml_executors", "1=1", (), g.ml_executors)
        store.replace_where("ml_run_metrics", "1=1", (), g.ml_metrics)
        store.replace_where("ml_run_params", "1=1", (), g.ml_params)
        store.replace_where("ml_profiles", "1=1", (), g.ml_profiles)
        store.replace_where("budgets", "1=1", (), t.budgets)
        store.replace_where("exclusions", "1=1", (), t.exclusions)
        store.replace_where("actions", "1=1", (), t.actions)
        store.set_meta("demo", "1")
        store.set_meta("demo_as_of", g.as_of.isoformat())
        store.set_meta("demo_seed", str(g.seed))
        store.set_meta("demo_anomalies", json.dumps(g.anomalies, sort_keys=True))
        store.touch_snapshot(g.snap)
        return n_costs, store.table_counts()


def _with_tagsets(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Allocation rows with their labels as a tag set id (labels are tag keys)."""
    out = []
    for r in rows:
        rec = {k: v for k, v in r.items() if k != "labels"}
        rec["tagset"] = store.tagset_id(r["labels"]) if r.get("labels") else None
        out.append(rec)
    return out


def _wipe(store: Store) -> None:
    """Delete every row of every table except meta.schema_version (inside the caller's transaction)."""
    conn = store.conn
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    order = [t for t in _WIPE_FIRST if t in tables] + [t for t in tables if t not in _WIPE_FIRST]
    for t in order:
        if t == "meta":
            conn.execute("DELETE FROM meta WHERE key <> 'schema_version'")
        else:
            conn.execute(f'DELETE FROM "{t}"')
    # the store caches dimension and tag-set ids; they are gone now
    store.clear_caches()


def _refuse_real_data(store: Store) -> None:
    conn = store.conn
    real = conn.execute("SELECT name, kind FROM sources WHERE kind <> ? ORDER BY name", (DEMO_KIND,)).fetchall()
    if real:
        names = ", ".join(f"{r[0]} ({r[1]})" for r in real[:5])
        raise InputError(
            f"{store.path}: the cache holds real data (sources: {names}); refusing to overwrite it with the demo "
            "(use another --db)"
        )
    orphan = conn.execute(
        "SELECT count(*) FROM costs WHERE source_id NOT IN (SELECT id FROM sources)"
    ).fetchone()[0]
    if orphan:
        raise InputError(f"{store.path}: the cache holds cost rows of no known source; refusing to overwrite it")
