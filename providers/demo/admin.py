"""The remaining input tables: on-demand `prices`, `sources` and their `sync_runs`, `budgets`,
`exclusions` and past audit `actions`.

They come last (after every cost row, resource and ML run) because they refer to what the other
generators made: the regions in use, the bastion host, a loose disk, the volume deleted through
costdeck, the prod account's month-to-date spend.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from cache.money import NANOS

from .catalog import (
    ACCOUNTS,
    AWS,
    AZURE,
    CATALOG,
    DEMO_KIND,
    GCP,
    K8S,
    N_DAYS,
    PROVIDERS,
    SOURCE_NAMES,
    SPOT_FACTOR,
    price,
)
from .core import Gen, to_nanos
from .estate import SOURCE_OPTIONS

Rows = list[dict[str, Any]]


def prices(g: Gen) -> Rows:
    """Every catalog SKU in every region the fleets use (plus a few), on-demand; spot where a VM runs spot."""
    used: dict[str, set[str]] = defaultdict(set)
    spot: set[tuple[str, str, str]] = set()
    for inst in g.insts:
        used[inst.provider].add(inst.region)
        if inst.lifecycle == "spot":
            spot.add((inst.provider, inst.region, inst.itype))
    used[AWS].update({"us-west-2", "us-east-1", "eu-west-1", "eu-central-1"})
    used[AZURE].add("eastus")
    fetched = g.iso(g.at(N_DAYS - 1, 4.0))
    rows = []
    for provider in (AWS, AZURE, GCP):
        for region in sorted(used[provider]):
            for sku, (_p, vcpu, mem, family, gen) in CATALOG[provider].items():
                hourly = price(provider, sku, region)
                base = {"provider_name": provider, "region_id": region, "sku": sku, "unit": "Hrs",
                        "currency": "USD", "vcpu": vcpu, "memory_gib": mem, "family": family,
                        "generation": gen, "source": "demo", "fetched_at": fetched}
                rows.append({**base, "pricing_model": "on-demand", "price_nanos": to_nanos(hourly)})
                if (provider, region, sku) in spot:
                    rows.append({**base, "pricing_model": "spot",
                                 "price_nanos": to_nanos(round(hourly * SPOT_FACTOR, 4))})
    return rows


def sources_and_runs(g: Gen) -> tuple[Rows, Rows]:
    """One source per provider (ids 1..4 in PROVIDERS order) and a daily sync run of each for 30 days."""
    sources: Rows = []
    runs: Rows = []
    for sid, provider in enumerate(PROVIDERS, start=1):
        sources.append({"id": sid, "name": SOURCE_NAMES[provider], "kind": DEMO_KIND,
                        "options": {**SOURCE_OPTIONS[provider], "demo": True},
                        "created_at": g.iso(g.at(0, 5.0))})
        runs += _sync_runs(g, sid, provider, first_id=len(runs) + 1)
    return sources, runs


def _sync_runs(g: Gen, sid: int, provider: str, first_id: int) -> Rows:
    """Source `sid`'s runs of the last 30 days, ids from `first_id`; one Azure run failed (throttled)."""
    rng = g.rng
    runs = []
    for run_id, i in enumerate(range(N_DAYS - 30, N_DAYS), start=first_id):
        started = g.at(i, 5.0 + sid * 0.1 + rng.uniform(0, 0.05))
        failed = provider == AZURE and i == N_DAYS - 5
        calls = {AWS: 38, AZURE: 12, GCP: 4, K8S: 6}[provider] + rng.randint(0, 6)
        dur_ms = rng.randint(2_500, 40_000)
        window_lo = g.days[max(0, i - 3)]
        runs.append({
            "id": run_id, "source_id": sid, "started_at": g.iso(started),
            "finished_at": g.iso(started + timedelta(milliseconds=dur_ms)),
            "status": "failed" if failed else "ok", "window_start": window_lo.isoformat(),
            "window_end": g.days[i].isoformat(),
            "rows": 0 if failed else rng.randint(800, 4000) if provider == AWS else rng.randint(100, 900),
            "api_calls": calls, "billed_api_calls": calls if provider == AWS else 0, "duration_ms": dur_ms,
            "error": ("Azure Cost Management query: 429 Too Many Requests after 5 retries "
                      "(x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after: 60)") if failed else None,
            "detail": {"demo": True},
        })
    return runs


def admin_tables(g: Gen, mtd: dict[str, int]) -> tuple[Rows, Rows, Rows]:
    """(exclusions, budgets, actions). `mtd["prod"]`: the prod account's billed month-to-date, in nanos."""
    return _exclusions(g), _budgets(mtd), _actions(g)


def _exclusions(g: Gen) -> Rows:
    bastion = next(x for x in g.insts if x.name.startswith("bastion"))
    erp_disk = next(r for r in g.resources if r["resource_name"] == "erp-olddata")
    return [
        {"id": 1, "provider_name": AWS, "resource_id": bastion.rid, "rule": "idle_instance",
         "reason": "bastion host: idle by design, kept for on-call access",
         "created_at": g.iso(g.at(N_DAYS - 40, 14.2))},
        {"id": 2, "provider_name": AZURE, "resource_id": erp_disk["resource_id"], "rule": None,
         "reason": "legal hold until the ERP audit closes [ticket FIN-2291]",
         "created_at": g.iso(g.at(N_DAYS - 25, 9.7))},
    ]


def _budgets(mtd: dict[str, int]) -> Rows:
    """Monthly budgets; the prod account's is set at 85 % of its month-to-date spend, so it is over;
    the ML team's just under where its month is heading (`mtd["ml_projected"]`: month to date scaled
    to the whole month), and above its month to date, so it is at risk. "LLM fine-tuning" filters
    on an ML task (not a bill dimension)."""
    prod_id = ACCOUNTS["prod"].sub_id
    over = max(1000, int(mtd["prod"] / NANOS * 0.85) // 1000 * 1000)
    ml = max(mtd["ml"] * 1.06, mtd["ml_projected"] * 0.9) / NANOS
    at_risk = max(1000, int(ml / 500 + 1) * 500)
    return [
        {"name": "Company total", "amount_nanos": 250_000 * NANOS, "currency": "USD", "period": "month",
         "filter": {}},
        {"name": "AWS prod account", "amount_nanos": over * NANOS, "currency": "USD", "period": "month",
         "filter": {"sub_account_id": prod_id}},
        {"name": "ML team", "amount_nanos": at_risk * NANOS, "currency": "USD", "period": "month",
         "filter": {"tag:team": "ml"}},
        {"name": "Google Cloud", "amount_nanos": 45_000 * NANOS, "currency": "USD", "period": "month",
         "filter": {"provider_name": GCP}},
        # a task budget (the ML runs view shows the task's week against its weekly share, ~$23:
        # the demo's last llm-finetune week is over it at the pinned dates)
        {"name": "LLM fine-tuning", "amount_nanos": 100 * NANOS, "currency": "USD", "period": "month",
         "filter": {"task": "llm-finetune"}},
    ]


def _actions(g: Gen) -> Rows:
    """The audit log: a volume deleted (after a dry run), a dry run, a skipped stop, a failed release."""
    loose_vol = next(r for r in g.resources if r["resource_name"] == "old-jenkins-data")
    stopped = next(x for x in g.insts if x.name.startswith("staging-search"))
    idle_eip = next(r for r in g.resources if r["resource_type"] == "elastic_ip"
                    and r["state"] == "unassociated" and r["provider_name"] == AWS)
    actor = "alice@acme.example"
    st = ACCOUNTS["staging"].sub_id
    return [
        {"id": 1, "at": g.iso(g.at(N_DAYS - 21, 10.5)), "actor": actor, "action": "delete_volume",
         "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1", "resource_id": g.deleted_volume,
         "dry_run": 1, "result": "dry-run", "error": None,
         "detail": {"plan": "delete unattached gp2 volume (300 GiB)", "monthly_saving_nanos": 30 * NANOS,
                    "reversible": False}},
        {"id": 2, "at": g.iso(g.at(N_DAYS - 20, 9.25)), "actor": actor, "action": "delete_volume",
         "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1", "resource_id": g.deleted_volume,
         "dry_run": 0, "result": "ok", "error": None,
         "detail": {"snapshot_first": True, "monthly_saving_nanos": 30 * NANOS, "reversible": False}},
        {"id": 3, "at": g.iso(g.at(N_DAYS - 6, 15.75)), "actor": "bob@acme.example",
         "action": "delete_volume", "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1",
         "resource_id": loose_vol["resource_id"], "dry_run": 1, "result": "dry-run", "error": None,
         "detail": {"plan": "delete unattached st1 volume (1000 GiB)", "monthly_saving_nanos": 45 * NANOS,
                    "reversible": False}},
        {"id": 4, "at": g.iso(g.at(N_DAYS - 6, 15.8)), "actor": "bob@acme.example",
         "action": "stop_instance", "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1",
         "resource_id": stopped.rid, "dry_run": 0, "result": "skipped",
         "error": "re-check: instance is already stopped", "detail": {"state_at_check": "stopped"}},
        {"id": 5, "at": g.iso(g.at(N_DAYS - 3, 11.1)), "actor": actor, "action": "release_address",
         "provider_name": AWS, "sub_account_id": idle_eip["sub_account_id"], "region_id": idle_eip["region_id"],
         "resource_id": idle_eip["resource_id"], "dry_run": 0, "result": "failed",
         "error": "UnauthorizedOperation: You are not authorized to perform: ec2:ReleaseAddress",
         "detail": {"request_id": g.guid(), "attempt": g.rng.randint(1, 2)}},
    ]
