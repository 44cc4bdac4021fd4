"""The deterministic demo snapshot: 120 days of plausible multi-cloud and ML spend.

`generate(store, as_of, seed)` wipes the cache (every row of every table but
`meta.schema_version`) and writes, in ONE transaction and through the store's normal
write path (`replace_costs`, `replace_where`), a coherent picture of a mid-sized
company on AWS, Azure ("Microsoft"), Google Cloud and one Kubernetes cluster whose
costs are an OpenCost-style *allocation* of node spend (so they double-count part of
AWS EC2, as real allocations do; the source options and billing account name say so).

Same `as_of` + `seed` -> byte-identical tables: everything random comes from one
`random.Random(seed)` drawn in a fixed order, and every instant is derived from `as_of`
(never the wall clock), except `meta.snapshot_time`, which is `as_of` 06:00 UTC capped
at `timeutil.now()` (instants after it are capped the same way).

What is in it, so views and rules have data from day one:
- costs at daily grain, FOCUS semantics: `list >= billed`; commitment-covered usage has
  billed 0, effective = amortized rate (status "Used", pricing "Committed"); unused
  commitment is a row with status "Unused"; recurring commitment fees are "Purchase"
  rows (effective 0); spot is pricing "Dynamic"; Azure rows carry a 5 % EA discount
  (contracted = billed < list); support and tax are non-resource rows.
- growth ~ +8 %/month (a growing fleet plus usage growth), a weekday/weekend rhythm and
  injected anomalies, listed in `meta.demo_anomalies` (JSON) and `DemoSummary.anomalies`.
- inventory (`resources`) whose ids match the cost rows, with the waste the rules look
  for; daily utilization `metrics` for the last 30 days; on-demand `prices`;
  `commitments` and per-day `commitment_usage`; ML runs with executors, metrics and
  params; budgets, exclusions, past audit `actions`, sources and sync runs.
- derived tables (recommendations, anomalies) stay empty: analysis computes them.

Conventions (so the demo exercises the same paths as real data):
- AWS rows mirror what providers/aws/ writes (inventory.py, metrics.py, ml.py,
  commitments.py): EC2 states and property names, resource_type instance | volume |
  snapshot | image | elastic_ip | security_group, metrics "cpu" / "network_in" /
  "network_out" (daily, ts = the day's 00:00 UTC), SageMaker runs keyed by job ARN, ML run
  statuses running | completed | failed | stopped (for every task), RI/SP `hourly_commitment_nanos` = recurring charge x count, and the
  "ri-total:<account>" / "sp-total:<account>" daily rows in commitment_usage.
- other providers use the same vocabulary where it exists (instance, volume, image) plus
  ip_address, db_instance, bucket, load_balancer, nat_gateway, distribution, table,
  cache_cluster, warehouse_cluster, kubernetes_cluster, endpoint, ml_compute,
  storage_account, sql_database, database_account, app_service_plan, workload; instance
  states running | stopped | deallocated (an Azure VM "stopped" from the guest OS still
  bills compute); a disk is unattached when attached_to is NULL, and
  properties.detached_at says since when (all providers, demo only: EC2 does not report it).

Where things are (data apart from the generators; the generators in the order they run):
- catalog.py      reference data: the calendar, providers, accounts, regions, services, price lists.
- estate.py       what the company runs: fleets, loose disks, reservations, managed services,
                  usage flows, Kubernetes workloads, ML tasks, injected spikes, source options.
- core.py         `Gen`, the generator state (calendar, the one rng, rows so far) with the
                  `cost` / `resource` row helpers; the `Instance` and `Commitment` records.
- anomalies.py    plans the injected cost spikes.
- fleets.py       the VMs and their hours; their cost rows once commitments are allocated.
- commitments.py  reservations / CUD / savings plan: plan, allocate to VM hours, usage rows.
- inventory.py    security groups, the VMs' resource rows, their disks and metrics.
- loose.py        unattached disks, idle addresses, snapshots and images.
- services.py     managed services (hourly and usage priced), usage flows, support and tax.
- ml.py           ML runs with executors, metrics, params and compute costs.
- kubernetes.py   the OpenCost-style allocation of the EKS cluster.
- admin.py        prices, sources and sync runs, budgets, exclusions, audit actions.
- snapshot.py     `generate`: runs all of the above in order and writes them; `DemoSummary`.
"""

from __future__ import annotations

from .catalog import DEMO_KIND
from .snapshot import DemoSummary, generate

__all__ = ["DEMO_KIND", "DemoSummary", "generate"]
