"""The recommendation record shared by the rules, the view, the report and cleanup planning.

A row of the `recommendations` table. Amounts are integer nano-units; times aware UTC.
Status: open | dismissed (with reason) | snoozed (until a date) | applied.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cache import timeutil

STATUSES = ("open", "dismissed", "snoozed", "applied")


@dataclass(slots=True)
class Recommendation:
    rule: str
    provider_name: str
    resource_id: str
    resource_name: str | None = None
    resource_type: str | None = None
    billing_account_id: str | None = None
    sub_account_id: str | None = None
    region_id: str | None = None
    category: str = "cost"  # cost | security
    detail: dict[str, Any] = field(default_factory=dict)  # the evidence, in numbers
    monthly_saving: int = 0  # nanos
    saving_basis: str | None = None  # e.g. "observed cost, last 30 days" or "price x 730 h"
    currency: str = "USD"
    origin: str = "costdeck"  # or a provider's own advice, e.g. "aws-rightsizing"
    id: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    status: str = "open"
    status_reason: str | None = None
    snoozed_until: datetime | None = None


_COLS = (
    "id, rule, origin, provider_name, resource_id, resource_name, resource_type, billing_account_id, "
    "sub_account_id, region_id, category, detail, monthly_saving_nanos, saving_basis, currency, first_seen, "
    "last_seen, status, status_reason, snoozed_until"
)


def from_row(r: Iterable[Any]) -> Recommendation:
    (rid, rule, origin, prov, res_id, res_name, res_type, ba, sa, region, cat, detail, saving, basis, cur,
     first, last, status, reason, snoozed) = tuple(r)
    try:
        d = json.loads(detail or "{}")
    except json.JSONDecodeError:
        d = {}
    return Recommendation(
        id=rid, rule=rule, origin=origin, provider_name=prov, resource_id=res_id, resource_name=res_name,
        resource_type=res_type, billing_account_id=ba, sub_account_id=sa, region_id=region, category=cat,
        detail=d if isinstance(d, dict) else {}, monthly_saving=int(saving or 0), saving_basis=basis,
        currency=cur or "USD", first_seen=timeutil.parse_instant_opt(first),
        last_seen=timeutil.parse_instant_opt(last), status=status, status_reason=reason,
        snoozed_until=timeutil.parse_instant_opt(snoozed),
    )


def load(
    conn: sqlite3.Connection,
    *,
    statuses: Iterable[str] | None = ("open",),
    rule: str | None = None,
    ids: Iterable[int] | None = None,
    include_duplicates: bool = True,
) -> list[Recommendation]:
    """Recommendations, largest monthly saving first. statuses=None: all.

    include_duplicates=False leaves out provider-native advice hidden because one of our rules
    found the same resource (detail.duplicate_of, set by the engine)."""
    where: list[str] = []
    params: list[object] = []
    if statuses is not None:
        st = list(statuses)
        where.append(f"status IN ({', '.join('?' for _ in st)})")
        params += st
    if rule is not None:
        where.append("rule = ?")
        params.append(rule)
    if ids is not None:
        id_list = list(ids)
        where.append(f"id IN ({', '.join('?' for _ in id_list)})")
        params += id_list
    if not include_duplicates:
        where.append("json_extract(detail, '$.duplicate_of') IS NULL")
    sql = f"SELECT {_COLS} FROM recommendations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY monthly_saving_nanos DESC, rule, resource_id"
    return [from_row(r) for r in conn.execute(sql, params)]
