"""The cache schema and its forward migrations.

Each migration is a list of SQL statements; `MIGRATIONS[i]` brings a cache from
version i to version i + 1. A cache whose `meta.schema_version` is newer than
`SCHEMA_VERSION` is refused (see `store.CacheVersionError`).

Money columns are INTEGER nano-units of the billing currency (1 USD = 1_000_000_000):
sums are exact integer arithmetic, never float.
Days are TEXT 'YYYY-MM-DD' (UTC); instants are TEXT ISO-8601 with '+00:00'.
"""

from __future__ import annotations

# Dimensions of the coarse daily summary table (everything but resource grain).
SUMMARY_DIMS = (
    "provider",
    "billing_account",
    "sub_account",
    "service",
    "service_category",
    "region",
    "resource_type",  # since v3: a low-cardinality attribute of the resource, kept in the summary
    "charge_category",
    "currency",
)

# Dimension columns of the costs fact table (ids; tagset = tag set id) and of its weekly rollup.
# The ids point into the `dims` dictionary table (tagset into `tagsets`): group-bys run over
# integers and only the groups shown are joined back to their names.
COST_DIMS = (
    "provider",
    "billing_account",
    "sub_account",
    "service",
    "service_category",
    "region",
    "resource",
    "resource_type",
    "charge_category",
    "pricing_category",
    "commitment",
    "commitment_status",
    "currency",
    "tagset",
)

# Dimensions of the daily PAIR series (`cost_daily_pairs`, schema v8): a coarse Spend table
# filtered on one of them and grouped by another (the first drill-down) reads days x groups rows.
PAIR_DIMS = tuple(d for d in SUMMARY_DIMS if d != "currency")


def pair_rollup_sql(src: str) -> str:
    """SELECT the cost_daily_pairs rows (dim, value, by_dim, day, by_value, currency, source_id,
    billed, effective, list, contracted, n) of `src`, a relation of daily coarse rows (columns
    source_id, day, SUMMARY_DIMS, the 4 amounts and n). Ids are 0 where not set (key columns of a
    WITHOUT ROWID table cannot be NULL). Each unordered pair is grouped once, then written both
    ways round. Plain SQL that SQLite and DuckDB both run."""
    half = " UNION ALL ".join(
        f"SELECT '{a}' AS dim, coalesce({a}, 0) AS value, '{b}' AS by_dim, day, coalesce({b}, 0) AS by_value, "
        f"coalesce(currency, 0) AS currency, source_id, sum(billed) AS billed, sum(effective) AS effective, "
        f"sum(list) AS list, sum(contracted) AS contracted, sum(n) AS n FROM {src} "
        f"GROUP BY source_id, day, {a}, {b}, currency"
        for i, a in enumerate(PAIR_DIMS) for b in PAIR_DIMS[i + 1:]
    )
    amounts = "currency, source_id, billed, effective, list, contracted, n"
    return (f"WITH costdeck_half AS MATERIALIZED ({half}) "
            f"SELECT dim, value, by_dim, day, by_value, {amounts} FROM costdeck_half UNION ALL "
            f"SELECT by_dim, by_value, dim, day, value, {amounts} FROM costdeck_half")


_V1 = [
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'partial')),
        window_start TEXT,
        window_end TEXT,
        rows INTEGER NOT NULL DEFAULT 0,
        api_calls INTEGER NOT NULL DEFAULT 0,
        billed_api_calls INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER,
        error TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX sync_runs_source ON sync_runs(source_id, started_at)",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        focus_version TEXT,
        input_rows INTEGER NOT NULL,
        daily_rows INTEGER NOT NULL,
        imported_at TEXT NOT NULL
    )""",
    "CREATE INDEX imports_sha ON imports(sha256)",
    """CREATE TABLE dims (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        label TEXT,
        extra TEXT,
        UNIQUE (kind, value)
    )""",
    """CREATE TABLE tagsets (
        id INTEGER PRIMARY KEY,
        json TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE tag_index (
        tagset_id INTEGER NOT NULL REFERENCES tagsets(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (key, tagset_id)
    ) WITHOUT ROWID""",
    # The spend fact table at DAILY grain. One row per (source, day, dimension ids, tag set).
    """CREATE TABLE costs (
        source_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        provider INTEGER,
        billing_account INTEGER,
        sub_account INTEGER,
        service INTEGER,
        service_category INTEGER,
        region INTEGER,
        resource INTEGER,
        resource_type INTEGER,
        charge_category INTEGER,
        pricing_category INTEGER,
        commitment INTEGER,
        commitment_status INTEGER,
        currency INTEGER,
        tagset INTEGER,
        billed INTEGER NOT NULL DEFAULT 0,
        effective INTEGER NOT NULL DEFAULT 0,
        list INTEGER NOT NULL DEFAULT 0,
        contracted INTEGER NOT NULL DEFAULT 0,
        pricing_quantity REAL,
        consumed_quantity REAL
    )""",
    "CREATE INDEX costs_source_day ON costs(source_id, day)",
    "CREATE INDEX costs_day_resource ON costs(day, resource, currency, billed, effective, list)",
    "CREATE INDEX costs_resource_day ON costs(resource, day)",
    # Coarse daily totals, maintained on every write of costs (same transaction).
    """CREATE TABLE cost_summary (
        source_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        provider INTEGER,
        billing_account INTEGER,
        sub_account INTEGER,
        service INTEGER,
        service_category INTEGER,
        region INTEGER,
        charge_category INTEGER,
        currency INTEGER,
        billed INTEGER NOT NULL,
        effective INTEGER NOT NULL,
        list INTEGER NOT NULL,
        contracted INTEGER NOT NULL,
        n INTEGER NOT NULL
    )""",
    "CREATE INDEX cost_summary_day ON cost_summary(day)",
    "CREATE INDEX cost_summary_source_day ON cost_summary(source_id, day)",
    # Inventory.
    """CREATE TABLE resources (
        source_id INTEGER NOT NULL,
        provider_name TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        resource_name TEXT,
        resource_type TEXT NOT NULL,
        billing_account_id TEXT,
        sub_account_id TEXT,
        region_id TEXT,
        state TEXT,
        attached_to TEXT,
        size TEXT,
        instance_type TEXT,
        lifecycle TEXT,
        created_at TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        properties TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (provider_name, resource_id)
    )""",
    "CREATE INDEX resources_type ON resources(resource_type, state)",
    """CREATE TABLE metrics (
        provider_name TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        ts TEXT NOT NULL,
        period_s INTEGER NOT NULL,
        average REAL,
        maximum REAL,
        p99 REAL,
        PRIMARY KEY (provider_name, resource_id, metric, ts)
    ) WITHOUT ROWID""",
    """CREATE TABLE prices (
        provider_name TEXT NOT NULL,
        region_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        pricing_model TEXT NOT NULL DEFAULT 'on-demand',
        unit TEXT NOT NULL DEFAULT 'Hrs',
        price_nanos INTEGER NOT NULL,
        currency TEXT NOT NULL DEFAULT 'USD',
        vcpu REAL,
        memory_gib REAL,
        family TEXT,
        generation TEXT,
        source TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (provider_name, region_id, sku, pricing_model)
    ) WITHOUT ROWID""",
    """CREATE TABLE commitments (
        provider_name TEXT NOT NULL,
        commitment_id TEXT NOT NULL,
        commitment_type TEXT NOT NULL,
        name TEXT,
        billing_account_id TEXT,
        sub_account_id TEXT,
        region_id TEXT,
        scope TEXT,
        instance_type TEXT,
        instance_count INTEGER,
        hourly_commitment_nanos INTEGER,
        upfront_nanos INTEGER,
        payment_option TEXT,
        term_months INTEGER,
        start_at TEXT,
        end_at TEXT,
        state TEXT,
        source_id INTEGER,
        properties TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (provider_name, commitment_id)
    )""",
    """CREATE TABLE commitment_usage (
        provider_name TEXT NOT NULL,
        commitment_id TEXT NOT NULL,
        day TEXT NOT NULL,
        committed_nanos INTEGER,
        used_nanos INTEGER,
        unused_nanos INTEGER,
        on_demand_equivalent_nanos INTEGER,
        utilization_pct REAL,
        coverage_pct REAL,
        PRIMARY KEY (provider_name, commitment_id, day)
    ) WITHOUT ROWID""",
    """CREATE TABLE ml_runs (
        source_id INTEGER,
        run_id TEXT NOT NULL PRIMARY KEY,
        task TEXT NOT NULL,
        name TEXT,
        status TEXT NOT NULL,
        start_at TEXT NOT NULL,
        end_at TEXT,
        host TEXT,
        primary_metric TEXT,
        primary_value REAL,
        exit_code INTEGER,
        properties TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX ml_runs_task ON ml_runs(task, start_at)",
    """CREATE TABLE ml_executors (
        run_id TEXT NOT NULL REFERENCES ml_runs(run_id) ON DELETE CASCADE,
        provider_name TEXT,
        resource_id TEXT,
        instance_type TEXT NOT NULL,
        instance_count INTEGER NOT NULL DEFAULT 1,
        region_id TEXT,
        start_at TEXT,
        end_at TEXT,
        billable_seconds INTEGER
    )""",
    "CREATE INDEX ml_executors_run ON ml_executors(run_id)",
    """CREATE TABLE ml_run_metrics (
        run_id TEXT NOT NULL REFERENCES ml_runs(run_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        step INTEGER NOT NULL DEFAULT 0,
        ts TEXT,
        value REAL NOT NULL,
        PRIMARY KEY (run_id, key, step)
    ) WITHOUT ROWID""",
    """CREATE TABLE ml_run_params (
        run_id TEXT NOT NULL REFERENCES ml_runs(run_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE recommendations (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT 'costdeck',
        provider_name TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        resource_name TEXT,
        resource_type TEXT,
        billing_account_id TEXT,
        sub_account_id TEXT,
        region_id TEXT,
        category TEXT NOT NULL DEFAULT 'cost' CHECK (category IN ('cost', 'security')),
        detail TEXT NOT NULL DEFAULT '{}',
        monthly_saving_nanos INTEGER NOT NULL DEFAULT 0,
        saving_basis TEXT,
        currency TEXT NOT NULL DEFAULT 'USD',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'snoozed', 'applied')),
        status_reason TEXT,
        snoozed_until TEXT,
        UNIQUE (rule, provider_name, resource_id)
    )""",
    """CREATE TABLE exclusions (
        id INTEGER PRIMARY KEY,
        provider_name TEXT,
        resource_id TEXT,
        rule TEXT,
        reason TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE budgets (
        name TEXT PRIMARY KEY,
        amount_nanos INTEGER NOT NULL,
        currency TEXT NOT NULL DEFAULT 'USD',
        period TEXT NOT NULL DEFAULT 'month',
        filter TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        provider_name TEXT,
        sub_account_id TEXT,
        region_id TEXT,
        resource_id TEXT,
        dry_run INTEGER NOT NULL,
        result TEXT NOT NULL,
        error TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE anomalies (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        dimension TEXT NOT NULL,
        dim_value TEXT NOT NULL,
        expected_nanos INTEGER NOT NULL,
        actual_nanos INTEGER NOT NULL,
        score REAL NOT NULL,
        detected_at TEXT NOT NULL,
        UNIQUE (day, dimension, dim_value)
    )""",
]

# v2: covering indexes for the fine-grained Spend group-bys (resource, resource type, tag set).
# Each leads with the group key, then currency and day, then the amounts, so SQLite answers
# `GROUP BY <key>, currency` over a day range by streaming one index in key order: no table
# lookups and no temp B-tree sort (measured by benchmarks/bench_spend.py). The resource index
# replaces costs_resource_day (same leading column, so resource lookups still use it).
_V2 = [
    "DROP INDEX IF EXISTS costs_resource_day",
    "CREATE INDEX costs_resource_cov ON costs(resource, currency, day, billed, effective, list, contracted)",
    "CREATE INDEX costs_resource_type_cov ON costs(resource_type, currency, day, billed, effective, list, contracted)",
    "CREATE INDEX costs_tagset_cov ON costs(tagset, currency, day, billed, effective, list, contracted)",
]

# Column lists spelled out (not derived from SUMMARY_DIMS/COST_DIMS) so this migration stays
# what it is when those constants change in later versions.
_V3_SUMMARY_COLS = (
    "provider, billing_account, sub_account, service, service_category, region, resource_type, "
    "charge_category, currency"
)
_V3_COST_COLS = (
    "provider, billing_account, sub_account, service, service_category, region, resource, resource_type, "
    "charge_category, pricing_category, commitment, commitment_status, currency, tagset"
)

# v3: faster fine-grained Spend group-bys over long ranges, maintained on every write of costs
# (same transaction, like cost_summary):
# - `cost_summary` gains `resource_type` (few values, mostly one per service), so grouping or
#   filtering by resource type is answered from the summary;
# - `cost_weekly`: the costs fact table rolled up to ISO weeks (`week` = the Monday, TEXT
#   'YYYY-MM-DD'), same dimension columns. A query over [since, until) on the fine grain reads
#   the whole weeks inside the range from `cost_weekly` and only the edge days (at most 6 at
#   each end) from `costs` (see `cache.queries`). Covering indexes as in v2 for the resource and
#   tag set group-bys;
# - costs_resource_type_cov (v2) goes: resource type group-bys no longer read costs.
_V3 = [
    "DROP INDEX IF EXISTS costs_resource_type_cov",
    "ALTER TABLE cost_summary ADD COLUMN resource_type INTEGER",
    "DELETE FROM cost_summary",
    f"""INSERT INTO cost_summary(source_id, day, {_V3_SUMMARY_COLS}, billed, effective, list, contracted, n)
        SELECT source_id, day, {_V3_SUMMARY_COLS}, sum(billed), sum(effective), sum(list), sum(contracted), count(*)
        FROM costs GROUP BY source_id, day, {_V3_SUMMARY_COLS}""",
    """CREATE TABLE cost_weekly (
        source_id INTEGER NOT NULL,
        week TEXT NOT NULL,
        provider INTEGER,
        billing_account INTEGER,
        sub_account INTEGER,
        service INTEGER,
        service_category INTEGER,
        region INTEGER,
        resource INTEGER,
        resource_type INTEGER,
        charge_category INTEGER,
        pricing_category INTEGER,
        commitment INTEGER,
        commitment_status INTEGER,
        currency INTEGER,
        tagset INTEGER,
        billed INTEGER NOT NULL,
        effective INTEGER NOT NULL,
        list INTEGER NOT NULL,
        contracted INTEGER NOT NULL,
        n INTEGER NOT NULL
    )""",
    f"""INSERT INTO cost_weekly(source_id, week, {_V3_COST_COLS}, billed, effective, list, contracted, n)
        SELECT source_id, date(day, '-6 days', 'weekday 1') AS week, {_V3_COST_COLS},
               sum(billed), sum(effective), sum(list), sum(contracted), count(*)
        FROM costs GROUP BY source_id, week, {_V3_COST_COLS}""",
    "CREATE INDEX cost_weekly_source_week ON cost_weekly(source_id, week)",
    "CREATE INDEX cost_weekly_resource_cov ON cost_weekly(resource, currency, week, billed, effective, list, contracted)",
    "CREATE INDEX cost_weekly_tagset_cov ON cost_weekly(tagset, currency, week, billed, effective, list, contracted)",
]

# v4: fewer, narrower indexes on `costs` (cheaper bulk writes: an import rebuilds them all),
# now that whole weeks are read from `cost_weekly` and `costs` only answers the edge days,
# day-range reads, resource lookups and source deletes:
# - costs_day_cov replaces costs_day_resource: the same leading (day, resource) plus tagset and
#   the 4 amounts, so the edge days of resource and tag set group-bys (and any other day-range
#   group-by on them) read one covering index, the days in order;
# - costs_tagset_cov goes (its sort was the dearest index build): tag set group-bys read the edge
#   days from costs_day_cov, tag filters match the tag sets on those index entries;
# - costs_resource_cov becomes costs_resource_day (resource, day): a resource filter reads its
#   few rows through it, nothing streams it any more.
# costs_source_day stays (source deletes, rows per source).
_V4 = [
    "DROP INDEX IF EXISTS costs_tagset_cov",
    "DROP INDEX IF EXISTS costs_day_resource",
    "DROP INDEX IF EXISTS costs_resource_cov",
    "CREATE INDEX costs_day_cov ON costs(day, resource, tagset, currency, billed, effective, list, contracted)",
    "CREATE INDEX costs_resource_day ON costs(resource, day)",
]

# v5: reads that do not grow with history (13 months x 20,000 resources). Every range is
# answered from the coarsest rollups that tile it (see `cache.queries`): whole calendar months,
# then whole ISO weeks, then the edge days. Two new rollups, maintained on every write of costs
# (same transaction):
# - `cost_monthly`: the costs fact table by calendar month (`month` = 'YYYY-MM-01'), the same
#   dimension columns, covering indexes like cost_weekly's for the resource and tag set
#   group-bys;
# - `cost_summary_monthly` and `cost_summary_weekly`: cost_summary (the coarse dimensions) by
#   month and by ISO week, for every coarse group-by, total and filter;
# - `cost_daily_dims` (below).
# At 20,000 resources x 395 days the coarse group-bys read ~13 monthly rows per combination of
# coarse dimensions instead of 395 daily ones.
_V5_MONTH = "substr(day, 1, 7) || '-01'"
_V5_WEEK = "date(day, '-6 days', 'weekday 1')"
_V5_AMOUNTS = "billed INTEGER NOT NULL, effective INTEGER NOT NULL, list INTEGER NOT NULL, " \
              "contracted INTEGER NOT NULL, n INTEGER NOT NULL"
_V5_SUMMARY_DDL = """source_id INTEGER NOT NULL, {period} TEXT NOT NULL, provider INTEGER, billing_account INTEGER,
        sub_account INTEGER, service INTEGER, service_category INTEGER, region INTEGER, charge_category INTEGER,
        currency INTEGER, resource_type INTEGER, """ + _V5_AMOUNTS
_V5 = [
    f"""CREATE TABLE cost_monthly (
        source_id INTEGER NOT NULL, month TEXT NOT NULL, provider INTEGER, billing_account INTEGER,
        sub_account INTEGER, service INTEGER, service_category INTEGER, region INTEGER, resource INTEGER,
        resource_type INTEGER, charge_category INTEGER, pricing_category INTEGER, commitment INTEGER,
        commitment_status INTEGER, currency INTEGER, tagset INTEGER, {_V5_AMOUNTS})""",
    f"""INSERT INTO cost_monthly(source_id, month, {_V3_COST_COLS}, billed, effective, list, contracted, n)
        SELECT source_id, {_V5_MONTH} AS month, {_V3_COST_COLS},
               sum(billed), sum(effective), sum(list), sum(contracted), count(*)
        FROM costs GROUP BY source_id, month, {_V3_COST_COLS}""",
    "CREATE INDEX cost_monthly_source_month ON cost_monthly(source_id, month)",
    "CREATE INDEX cost_monthly_resource_cov ON cost_monthly(resource, currency, month, billed, effective, list, contracted)",
    "CREATE INDEX cost_monthly_tagset_cov ON cost_monthly(tagset, currency, month, billed, effective, list, contracted)",
    f"CREATE TABLE cost_summary_monthly ({_V5_SUMMARY_DDL.format(period='month')})",
    f"CREATE TABLE cost_summary_weekly ({_V5_SUMMARY_DDL.format(period='week')})",
    f"""INSERT INTO cost_summary_monthly(source_id, month, {_V3_SUMMARY_COLS}, billed, effective, list, contracted, n)
        SELECT source_id, {_V5_MONTH} AS month, {_V3_SUMMARY_COLS},
               sum(billed), sum(effective), sum(list), sum(contracted), sum(n)
        FROM cost_summary GROUP BY source_id, month, {_V3_SUMMARY_COLS}""",
    f"""INSERT INTO cost_summary_weekly(source_id, week, {_V3_SUMMARY_COLS}, billed, effective, list, contracted, n)
        SELECT source_id, {_V5_WEEK} AS week, {_V3_SUMMARY_COLS},
               sum(billed), sum(effective), sum(list), sum(contracted), sum(n)
        FROM cost_summary GROUP BY source_id, week, {_V3_SUMMARY_COLS}""",
    "CREATE INDEX cost_summary_monthly_month ON cost_summary_monthly(month)",
    "CREATE INDEX cost_summary_monthly_source ON cost_summary_monthly(source_id, month)",
    "CREATE INDEX cost_summary_weekly_week ON cost_summary_weekly(week)",
    "CREATE INDEX cost_summary_weekly_source ON cost_summary_weekly(source_id, week)",
    # - `cost_daily_dims`: one narrow daily series per coarse dimension and per tag set (dim = the
    #   cost_summary column or 'tagset', value = its id) and currency: a group-by or series on
    #   one of them with nothing but the currency filtered (the Overview, Spend's first screen)
    #   reads days x values rows, not days x combinations of every coarse dimension.
    f"""CREATE TABLE cost_daily_dims (
        source_id INTEGER NOT NULL, day TEXT NOT NULL, dim TEXT NOT NULL, value INTEGER, currency INTEGER,
        {_V5_AMOUNTS})""",
    *[f"""INSERT INTO cost_daily_dims(source_id, day, dim, value, currency, billed, effective, list, contracted, n)
          SELECT source_id, day, '{d}', {d}, currency, sum(billed), sum(effective), sum(list), sum(contracted), sum(n)
          FROM cost_summary GROUP BY source_id, day, {d}, currency""" for d in _V3_SUMMARY_COLS.split(", ")],
    """INSERT INTO cost_daily_dims(source_id, day, dim, value, currency, billed, effective, list, contracted, n)
       SELECT source_id, day, 'tagset', tagset, currency, sum(billed), sum(effective), sum(list), sum(contracted),
              count(*)
       FROM costs GROUP BY source_id, day, tagset, currency""",
    "CREATE INDEX cost_daily_dims_dim_day ON cost_daily_dims(dim, day)",
    "CREATE INDEX cost_daily_dims_source_day ON cost_daily_dims(source_id, day)",
]

# v6: Kubernetes cost allocation (OpenCost), a LENS on the cloud bill kept out of `costs`: a
# cluster's node cost is already in its cloud source's bill, so allocation rows never add to any
# cloud total. One row per (source, day, cluster, node, namespace, controller, pod); idle rows
# (`idle` = 1, namespace '__idle__') hold the cost of the unallocated node capacity. Money in nanos
# of `currency`; cpu averages in cores, ram in bytes; labels (pod and namespace labels) are a tag
# set (`tagsets`/`tag_index`), so they are tag keys like any other.
_V6 = [
    """CREATE TABLE k8s_allocations (
        source_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        cluster TEXT NOT NULL,
        node TEXT NOT NULL DEFAULT '',
        namespace TEXT NOT NULL DEFAULT '',
        controller_kind TEXT NOT NULL DEFAULT '',
        controller TEXT NOT NULL DEFAULT '',
        pod TEXT NOT NULL DEFAULT '',
        idle INTEGER NOT NULL DEFAULT 0,
        provider_id TEXT,
        currency TEXT NOT NULL DEFAULT 'USD',
        minutes REAL NOT NULL DEFAULT 0,
        cpu_cost INTEGER NOT NULL DEFAULT 0,
        gpu_cost INTEGER NOT NULL DEFAULT 0,
        ram_cost INTEGER NOT NULL DEFAULT 0,
        pv_cost INTEGER NOT NULL DEFAULT 0,
        network_cost INTEGER NOT NULL DEFAULT 0,
        lb_cost INTEGER NOT NULL DEFAULT 0,
        shared_cost INTEGER NOT NULL DEFAULT 0,
        external_cost INTEGER NOT NULL DEFAULT 0,
        total_cost INTEGER NOT NULL DEFAULT 0,
        cpu_core_hours REAL,
        cpu_request_avg REAL,
        cpu_usage_avg REAL,
        ram_byte_hours REAL,
        ram_request_avg REAL,
        ram_usage_avg REAL,
        gpu_hours REAL,
        pv_bytes REAL,
        cpu_efficiency REAL,
        ram_efficiency REAL,
        total_efficiency REAL,
        tagset INTEGER
    )""",
    "CREATE INDEX k8s_alloc_source_day ON k8s_allocations(source_id, day)",
    "CREATE INDEX k8s_alloc_day ON k8s_allocations(day, cluster, namespace)",
]

# Anomalies (analysis/anomalies.py) and what `costdeck check` already reported. The v1 `anomalies`
# table was never written (one row per day and scope, no currency, no status): it is replaced by one
# row per EPISODE (consecutive anomalous days of one scope and currency), `day` its first day and
# `last_day` its last; money in nanos of `currency`, expected/actual summed over the episode days,
# impact = actual - expected (negative for a drop); `scope` the Spend filters of the scope (JSON),
# `contributors` the resources / services that moved most (JSON list); `status` (open, acknowledged,
# dismissed) survives recomputation. `check_findings`: one row per finding `costdeck check` reported
# (kind anomaly | budget | recommendation, key), when, and when the webhook was told (NULL: not yet).
_ANOMALIES = [
    "DROP TABLE IF EXISTS anomalies",
    """CREATE TABLE anomalies (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        last_day TEXT NOT NULL,
        dimension TEXT NOT NULL,
        dim_value TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT '{}',
        currency TEXT NOT NULL DEFAULT 'USD',
        kind TEXT NOT NULL CHECK (kind IN ('spike', 'level_shift', 'drop')),
        expected_nanos INTEGER NOT NULL,
        actual_nanos INTEGER NOT NULL,
        impact_nanos INTEGER NOT NULL,
        score REAL NOT NULL,
        contributors TEXT NOT NULL DEFAULT '[]',
        first_seen TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'dismissed')),
        status_reason TEXT,
        status_at TEXT,
        UNIQUE (day, dimension, dim_value, currency)
    )""",
    "CREATE INDEX anomalies_status ON anomalies(status, last_day)",
    """CREATE TABLE check_findings (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        summary TEXT NOT NULL,
        reported_at TEXT NOT NULL,
        notified_at TEXT,
        PRIMARY KEY (kind, key)
    )""",
]

# ML run profiles (issue 15): utilization samples of each executor host of a run over the run's
# time. `host` names the executor (the tracked machine, a SageMaker host such as "algo-1");
# `metric` is one of cpu, memory, gpu, gpu_memory (percent, 0-100; gpu is the mean over the host's
# GPUs, `gpus` their count, NULL where there is no GPU). Samples cascade with their run.
_V_ML_PROFILES = [
    """CREATE TABLE ml_profiles (
        run_id TEXT NOT NULL REFERENCES ml_runs(run_id) ON DELETE CASCADE,
        host TEXT NOT NULL DEFAULT '',
        metric TEXT NOT NULL,
        ts TEXT NOT NULL,
        value REAL NOT NULL,
        gpus INTEGER,
        PRIMARY KEY (run_id, host, metric, ts)
    ) WITHOUT ROWID""",
]

# v7 (scale): a compact cache, without losing a dimension or a digit. The daily coarse summary
# `cost_summary` held about as many rows as the facts at 13 months x 20,000 resources (one per day
# and combination of the coarse dimensions, 3.8M rows, 0.4 GB with its indexes) while every read
# it served is answered otherwise: whole months and weeks from cost_summary_monthly/_weekly, one
# dimension's daily series from cost_daily_dims, the edge days (at most 12 at each ragged end)
# and filtered daily series from `costs` itself. It becomes a VIEW over `costs` with the same
# columns and rows (SQL that reads it keeps working, at the facts' cost).
_V7_SUMMARY_COLS = ("provider, billing_account, sub_account, service, service_category, region, charge_category, "
                    "currency")  # then the amounts, n and resource_type, in the table's column order
_V7 = [
    "DROP INDEX IF EXISTS cost_summary_day",
    "DROP INDEX IF EXISTS cost_summary_source_day",
    "DROP TABLE cost_summary",
    f"""CREATE VIEW cost_summary AS
        SELECT source_id, day, {_V7_SUMMARY_COLS}, sum(billed) AS billed, sum(effective) AS effective,
               sum(list) AS list, sum(contracted) AS contracted, count(*) AS n, resource_type
        FROM costs GROUP BY source_id, day, {_V7_SUMMARY_COLS}, resource_type""",
]

# v8 (scale): the daily facts split into LINES and FACTS, without losing a dimension or a digit.
# A cost line is one (source, dimension ids, tag set) combination: at 13 months x 20,000 resources
# about as many lines as resources, each with hundreds of days. `costs` held the 15 ids on every
# daily row (7.9M rows, 1.35 GB with its 3 indexes); now
# - `cost_lines`: one row per combination (id = the line), the 14 dimension ids and the source;
# - `cost_facts`: one row per (line, day), clustered on that key (WITHOUT ROWID): the amounts and
#   quantities only. A line's days are adjacent, so a filtered read seeks the matching lines' day
#   ranges (a resource's, a service's) and no secondary index is needed;
# - `cost_weekly_lines` / `cost_monthly_lines`: the fine rollups by line and ISO week / calendar
#   month (were cost_weekly / cost_monthly with the 15 ids per row).
# `costs`, `cost_weekly` and `cost_monthly` become VIEWs with the same columns and rows as the
# tables they replace (every reader keeps working; SQLite flattens them into the query). The view
# joins lines first (CROSS JOIN fixes the order): filters on dimensions and tag sets narrow the
# lines, then each line's day range is one seek. Writes go through `Store` (views cannot be
# written). A (line, day) is unique: rows of the same combination and day are summed (the daily
# grain the costs table always promised). The coarse rollups (cost_summary_weekly/_monthly,
# cost_daily_dims) are unchanged.
_V8_DIMS = ("provider, billing_account, sub_account, service, service_category, region, resource, resource_type, "
            "charge_category, pricing_category, commitment, commitment_status, currency, tagset")
_V8_LINE_KEY = " AND ".join(f"l.{d} IS c.{d}" for d in _V8_DIMS.split(", "))
_V8_AMOUNTS = "billed INTEGER NOT NULL DEFAULT 0, effective INTEGER NOT NULL DEFAULT 0, " \
              "list INTEGER NOT NULL DEFAULT 0, contracted INTEGER NOT NULL DEFAULT 0"
_V8_VIEW_DIMS = ", ".join(f"l.{d} AS {d}" for d in _V8_DIMS.split(", "))
_V8 = [
    """CREATE TABLE cost_lines (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL,
        provider INTEGER, billing_account INTEGER, sub_account INTEGER, service INTEGER, service_category INTEGER,
        region INTEGER, resource INTEGER, resource_type INTEGER, charge_category INTEGER, pricing_category INTEGER,
        commitment INTEGER, commitment_status INTEGER, currency INTEGER, tagset INTEGER)""",
    f"""CREATE TABLE cost_facts (
        line INTEGER NOT NULL, day TEXT NOT NULL, {_V8_AMOUNTS},
        pricing_quantity REAL, consumed_quantity REAL,
        PRIMARY KEY (line, day)) WITHOUT ROWID""",
    f"""CREATE TABLE cost_weekly_lines (
        line INTEGER NOT NULL, week TEXT NOT NULL, {_V8_AMOUNTS}, n INTEGER NOT NULL,
        PRIMARY KEY (line, week)) WITHOUT ROWID""",
    f"""CREATE TABLE cost_monthly_lines (
        line INTEGER NOT NULL, month TEXT NOT NULL, {_V8_AMOUNTS}, n INTEGER NOT NULL,
        PRIMARY KEY (line, month)) WITHOUT ROWID""",
    f"INSERT INTO cost_lines(source_id, {_V8_DIMS}) SELECT DISTINCT source_id, {_V8_DIMS} FROM costs "
    f"ORDER BY source_id, resource, {_V8_DIMS}",
    "CREATE INDEX cost_lines_key ON cost_lines(source_id, resource, service, tagset)",
    f"""INSERT INTO cost_facts(line, day, billed, effective, list, contracted, pricing_quantity, consumed_quantity)
        SELECT l.id, c.day, sum(c.billed), sum(c.effective), sum(c.list), sum(c.contracted),
               sum(c.pricing_quantity), sum(c.consumed_quantity)
        FROM costs c JOIN cost_lines l ON l.source_id = c.source_id AND {_V8_LINE_KEY}
        GROUP BY l.id, c.day""",
    "INSERT INTO cost_weekly_lines SELECT line, date(day, '-6 days', 'weekday 1') AS week, sum(billed), "
    "sum(effective), sum(list), sum(contracted), count(*) FROM cost_facts GROUP BY line, week",
    "INSERT INTO cost_monthly_lines SELECT line, substr(day, 1, 7) || '-01' AS month, sum(billed), "
    "sum(effective), sum(list), sum(contracted), count(*) FROM cost_facts GROUP BY line, month",
    "DROP VIEW cost_summary",
    "DROP TABLE costs",
    "DROP TABLE cost_weekly",
    "DROP TABLE cost_monthly",
    "CREATE INDEX cost_lines_resource ON cost_lines(resource)",
    f"""CREATE VIEW costs AS
        SELECT l.source_id AS source_id, f.day AS day, {_V8_VIEW_DIMS}, f.billed AS billed,
               f.effective AS effective, f.list AS list, f.contracted AS contracted,
               f.pricing_quantity AS pricing_quantity, f.consumed_quantity AS consumed_quantity
        FROM cost_lines l CROSS JOIN cost_facts f ON f.line = l.id""",
    *[f"""CREATE VIEW cost_{grain} AS
        SELECT l.source_id AS source_id, w.{period} AS {period}, {_V8_VIEW_DIMS}, w.billed AS billed,
               w.effective AS effective, w.list AS list, w.contracted AS contracted, w.n AS n
        FROM cost_lines l CROSS JOIN cost_{grain}_lines w ON w.line = l.id"""
      for grain, period in (("weekly", "week"), ("monthly", "month"))],
    f"""CREATE VIEW cost_summary AS
        SELECT source_id, day, {_V7_SUMMARY_COLS}, sum(billed) AS billed, sum(effective) AS effective,
               sum(list) AS list, sum(contracted) AS contracted, count(*) AS n, resource_type
        FROM costs GROUP BY source_id, day, {_V7_SUMMARY_COLS}, resource_type""",
    # - `cost_daily_pairs`: per day, pair of coarse dimensions (filtered `dim` = `value`, grouped
    #   `by_dim` = `by_value`) and currency: a Spend table filtered on one coarse dimension and
    #   grouped by another reads days x groups rows, whatever the history (13 months by day of one
    #   provider's services: 395 x 40 rows). Ids 0 where not set.
    f"""CREATE TABLE cost_daily_pairs (
        dim TEXT NOT NULL, value INTEGER NOT NULL, by_dim TEXT NOT NULL, day TEXT NOT NULL,
        by_value INTEGER NOT NULL, currency INTEGER NOT NULL, source_id INTEGER NOT NULL, {_V8_AMOUNTS},
        n INTEGER NOT NULL,
        PRIMARY KEY (dim, value, by_dim, day, by_value, currency, source_id)) WITHOUT ROWID""",
    f"""CREATE TEMP TABLE costdeck_v8_coarse AS SELECT source_id, day, {_V3_SUMMARY_COLS}, sum(billed) AS billed,
        sum(effective) AS effective, sum(list) AS list, sum(contracted) AS contracted, count(*) AS n
        FROM costs GROUP BY source_id, day, {_V3_SUMMARY_COLS}""",
    f"INSERT INTO cost_daily_pairs {pair_rollup_sql('temp.costdeck_v8_coarse')}",
    "DROP TABLE temp.costdeck_v8_coarse",
    "CREATE INDEX cost_daily_pairs_source_day ON cost_daily_pairs(source_id, day)",
]

# MIGRATIONS[i] upgrades version i -> i + 1.
MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5, _V6, _ANOMALIES, _V_ML_PROFILES, _V7, _V8]
SCHEMA_VERSION = len(MIGRATIONS)
