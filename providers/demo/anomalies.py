"""The injected cost spikes (estate.SPIKES), planned first so every later draw stays where it was.

`plan` fixes their days and factors and records them in `g.anomalies` (written to
`meta.demo_anomalies`); services.flows applies them, and the level shift and the drop of
estate.SHIFTS (a forgotten load test, a log export that stopped). The other injected anomaly, a forgotten GPU
instance, is added by fleets.build.
"""

from __future__ import annotations

from .catalog import ACCOUNTS, N_DAYS
from .core import Gen
from .estate import SHIFTS, SPIKES


def plan(g: Gen) -> None:
    for spike in SPIKES:
        idxs = _weekday_run(g, *spike.days_ago, spike.length)
        factor = round(g.rng.uniform(*spike.factor), 2)
        acct = ACCOUNTS[spike.account]
        g.spikes[(acct.sub_id, spike.service, spike.region)] = {j: factor for j in idxs}
        g.anomalies.append({
            "kind": "spike", "provider_name": acct.provider, "sub_account_id": acct.sub_id,
            "service_name": spike.service, "region_id": spike.region, "days": [g.day_str[j] for j in idxs],
            "factor": factor, "note": spike.note,
        })
    for shift in SHIFTS:  # fixed days, nothing drawn: the draws above and after stay where they were
        acct = ACCOUNTS[shift.account]
        idxs = list(range(N_DAYS - 1 - shift.days_ago, N_DAYS))
        g.spikes.setdefault((acct.sub_id, shift.service, shift.region), {}).update({j: shift.factor for j in idxs})
        g.anomalies.append({
            "kind": shift.kind, "provider_name": acct.provider, "sub_account_id": acct.sub_id,
            "service_name": shift.service, "region_id": shift.region, "start_day": g.day_str[idxs[0]],
            "factor": shift.factor, "note": shift.note,
        })


def _weekday_run(g: Gen, lo: int, hi: int, length: int) -> list[int]:
    """Consecutive weekday day indexes, starting between as_of-hi and as_of-lo."""
    start = N_DAYS - 1 - g.rng.randint(lo, hi)
    while any(g.weekend[j] for j in range(start, start + length)):
        start -= 1
    return list(range(start, start + length))
