"""The generator's shared state (`Gen`) and the two ways rows get into it: `Gen.cost` and `Gen.resource`.

`Gen` holds the calendar (120 days ending on `as_of`), the ONE `random.Random(seed)` every generator
draws from, and every row generated so far (cost rows per provider, resources, metrics, ML runs,
...). The generator modules are functions of a `Gen`; `snapshot.generate` calls them in a fixed
order, which is what makes the output reproducible: changing that order (or adding a draw from
`g.rng` anywhere) changes the whole snapshot.

Also here: the records the generators share, `Instance` (a VM of a fleet, with its hours),
`Commitment` (a reservation / CUD / savings plan, with its daily usage) and `Allocation` (which
commitment covers which VM hours), and `to_nanos`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cache import CostRow, timeutil
from cache.money import NANOS

from .catalog import AZURE, EA_DISCOUNT, GROWTH_PER_MONTH, N_DAYS, PROVIDERS, REGIONS, SERVICES, Account


def to_nanos(usd: float) -> int:
    """Dollars (float arithmetic of the generator) -> integer nano-units, stored exactly from here on."""
    return int(round(usd * NANOS))


@dataclass(slots=True)
class Instance:
    """A VM of a fleet (fleets.py), with the hours it is billed and running on each day of the window."""

    provider: str
    acct: Account
    region: str
    zone: str
    rid: str
    name: str
    itype: str
    service: str
    lifecycle: str  # on-demand | spot
    schedule: str  # always | business | autoscale
    profile: str  # idle | normal | busy | oversized
    launch_idx: int  # day index of launch (negative: before the window)
    launch_hour: int
    stop_idx: int | None  # day it stopped running (None: running)
    billed_when_stopped: bool  # Azure "stopped" (not deallocated) keeps billing compute
    state: str
    tags: dict[str, str] | None
    props: dict[str, Any]
    od_price: float = 0.0
    hours: list[float] = field(default_factory=list)
    run_hours: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Commitment:
    """A reservation, committed use discount or savings plan (commitments.py), with its daily usage."""

    provider: str
    cid: str
    ctype: str
    name: str
    acct: Account  # owner
    region: str | None
    itype: str | None
    count: int
    od_price: float  # per instance hour (count-based) ; 0 for spend-based
    eff_rate: float  # effective $ per instance hour (count-based) or SP discount factor
    recurring_rate: float  # billed $ per instance hour (count-based) or per hour (SP)
    fee_cadence: str  # monthly | daily
    fee_service: str
    payment: str
    term_months: int
    start: datetime
    end: datetime
    hourly_commitment: float = 0.0  # SP: $ per hour committed
    upfront: float = 0.0
    scope: str = "Region"
    props: dict[str, Any] = field(default_factory=dict)
    # per day: covered instance-hours (count-based) or covered on-demand $ (SP), eligible totals
    covered: list[float] = field(default_factory=list)
    used_eff: list[float] = field(default_factory=list)
    eligible: list[float] = field(default_factory=list)
    covered_od: list[float] = field(default_factory=list)


# commitments.allocate -> fleets.instance_costs: {(index in Gen.insts, day): [(commitment, hours it covers)]}
Allocation = dict[tuple[int, int], list[tuple[Commitment, float]]]


class Gen:
    """Everything generated so far, the calendar and the random source, plus the helpers every generator uses."""

    def __init__(self, as_of: date, seed: int, snap: datetime) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.as_of = as_of
        self.start = as_of - timedelta(days=N_DAYS - 1)
        self.days = [self.start + timedelta(days=i) for i in range(N_DAYS)]
        self.day_str = [d.isoformat() for d in self.days]
        self.weekend = [d.weekday() >= 5 for d in self.days]
        self.growth = [(1 + GROWTH_PER_MONTH) ** ((i - (N_DAYS - 1)) / 30.4375) for i in range(N_DAYS)]
        self.snap = snap
        # the output tables, filled by the generators
        self.costs: dict[str, list[CostRow]] = {p: [] for p in PROVIDERS}
        self.resources: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.anomalies: list[dict[str, Any]] = []
        self.ml_runs: list[dict[str, Any]] = []
        self.ml_executors: list[dict[str, Any]] = []
        self.ml_metrics: list[dict[str, Any]] = []
        self.ml_params: list[dict[str, Any]] = []
        self.ml_profiles: list[dict[str, Any]] = []
        self.k8s_allocations: list[dict[str, Any]] = []  # Kubernetes allocation rows (labels still a dict)
        # what later generators need from earlier ones
        self.insts: list[Instance] = []
        self.commits: list[Commitment] = []
        self.spikes: dict[tuple[str, str, str], dict[int, float]] = {}  # (sub account, service, region) -> day: x
        self.deleted_volume = ""  # the volume the audit log says was deleted through costdeck
        self._used_ids: set[str] = set()
        self._labeled: set[tuple[str, str]] = set()

    # -- time, ids and noise -------------------------------------------------------------
    def at(self, day_idx: int, hour: float = 0.0) -> datetime:
        """The instant `hour` hours into day `day_idx` (may be before the window)."""
        base = datetime.combine(self.start, time(0), tzinfo=UTC)
        return base + timedelta(days=day_idx, hours=hour)

    def clamp(self, t: datetime) -> datetime:
        return min(t, self.snap)

    def iso(self, t: datetime) -> str:
        return timeutil.iso(self.clamp(t))

    def hexid(self, prefix: str, n: int = 17) -> str:
        while True:
            v = f"{prefix}{self.rng.getrandbits(4 * n):0{n}x}"
            if v not in self._used_ids:
                self._used_ids.add(v)
                return v

    def guid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def noise(self, sd: float = 0.04) -> float:
        return max(0.5, self.rng.gauss(1.0, sd))

    def usage(self, i: int, weekend_sens: float, sd: float = 0.04, grow: bool = True) -> float:
        """Multiplier for a usage-driven service on day i: growth x weekly rhythm x noise."""
        w = (1.0 - weekend_sens) if self.weekend[i] else 1.0
        return (self.growth[i] if grow else 1.0) * w * self.noise(sd)

    # -- rows ------------------------------------------------------------------------------
    def cost(
        self,
        i: int,
        acct: Account,
        service: str,
        region: str | None,
        billed: float,
        *,
        effective: float | None = None,
        list_: float | None = None,
        contracted: float | None = None,
        rid: str | None = None,
        rname: str | None = None,
        rtype: str | None = None,
        tags: dict[str, str] | None = None,
        charge: str = "Usage",
        pricing: str | None = "Standard",
        commit: Commitment | None = None,
        cstatus: str | None = None,
        qty: float | None = None,
    ) -> None:
        """One daily cost row on day `i` (amounts in USD; all-zero rows are dropped).

        `effective`, `contracted` default to `billed`; `list_` too, except Azure usage (EA discount)."""
        b = to_nanos(billed)
        e = b if effective is None else to_nanos(effective)
        if list_ is None:
            lst = to_nanos(billed / EA_DISCOUNT) if acct.provider == AZURE and charge == "Usage" else b
        else:
            lst = to_nanos(list_)
        c = b if contracted is None else to_nanos(contracted)
        if b == 0 and e == 0 and lst == 0:
            return
        ba_name, sa_name, region_name = self._labels(acct, region)
        self.costs[acct.provider].append(
            CostRow(
                day=self.days[i],
                provider_name=acct.provider,
                billing_account_id=acct.billing_id,
                billing_account_name=ba_name,
                sub_account_id=acct.sub_id,
                sub_account_name=sa_name,
                service_name=service,
                service_category=SERVICES[service],
                region_id=region,
                region_name=region_name,
                resource_id=rid,
                resource_name=rname,
                resource_type=rtype,
                charge_category=charge,
                pricing_category=pricing,
                commitment_discount_id=commit.cid if commit else None,
                commitment_discount_name=commit.name if commit else None,
                commitment_discount_type=commit.ctype if commit else None,
                commitment_discount_status=cstatus,
                tags=tags,
                billed_cost=b,
                effective_cost=e,
                list_cost=lst,
                contracted_cost=c,
                pricing_quantity=None if qty is None else round(qty, 6),
                consumed_quantity=None if qty is None else round(qty, 6),
            )
        )

    def _labels(self, acct: Account, region: str | None) -> tuple[str | None, str | None, str | None]:
        """(billing account, sub account, region) display names, each on the first row of its value only.

        The store keeps a dimension's label once set, and an unlabelled repeat is a cache hit instead of an
        upsert (half the write time)."""
        labeled = self._labeled
        ba_name = sa_name = region_name = None
        if ("ba", acct.billing_id) not in labeled:
            labeled.add(("ba", acct.billing_id))
            ba_name = acct.billing_name
        if ("sa", acct.sub_id) not in labeled:
            labeled.add(("sa", acct.sub_id))
            sa_name = acct.sub_name
        if region and ("r", region) not in labeled:
            labeled.add(("r", region))
            region_name = REGIONS.get(region)
        return ba_name, sa_name, region_name

    def resource(self, acct: Account, rid: str, rtype: str, region: str | None, *, name: str | None,
                 state: str | None, created: datetime, tags: dict[str, str] | None = None,
                 attached_to: str | None = None, size: str | None = None, itype: str | None = None,
                 lifecycle: str | None = None, props: dict[str, Any] | None = None) -> None:
        """One inventory row (`resources`); first seen at the later of `created` and the window's first sync."""
        first_seen = max(created, self.at(0, 5.5))
        self.resources.append({
            "source_id": None,  # filled per provider when writing
            "provider_name": acct.provider,
            "resource_id": rid,
            "resource_name": name,
            "resource_type": rtype,
            "billing_account_id": acct.billing_id,
            "sub_account_id": acct.sub_id,
            "region_id": region,
            "state": state,
            "attached_to": attached_to,
            "size": size,
            "instance_type": itype,
            "lifecycle": lifecycle,
            "created_at": self.iso(created),
            "first_seen": self.iso(first_seen),
            "last_seen": timeutil.iso(self.snap),
            "tags": tags or {},
            "properties": props or {},
        })
