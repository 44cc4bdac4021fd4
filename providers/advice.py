"""Provider-native advice (AWS Cost Explorer rightsizing, Azure Advisor, Google Recommender) into
the `recommendations` table, written one way for every adapter.

A provider's advice is stored under its own rule id (`aws_rightsizing`, `azure_advisor`,
`gcp_idle_disk`, ...) and `origin`, beside costdeck's own findings; `analysis.recommendations`
maps each native rule to the costdeck rule it matches (`NATIVE_RULES`) and hides it behind
costdeck's finding for the same resource (one line per resource, both sources shown).

`write_native_advice` upserts each piece of advice, keeping the user's status (dismissed,
snoozed) and its first_seen, and deletes the OPEN advice of that origin in the synced scope
(sub accounts: AWS accounts, Azure subscriptions, Google projects) that the provider no longer
gives. Call it inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class AdviceRow:
    rule: str
    resource_id: str
    resource_name: str | None
    resource_type: str | None
    sub_account_id: str | None
    region_id: str | None
    detail: dict[str, Any]
    saving_nanos: int
    currency: str
    billing_account_id: str | None = None
    category: str = "cost"


def write_native_advice(conn: sqlite3.Connection, *, origin: str, provider: str, basis: str, now: str,
                        rows: Iterable[AdviceRow], scope: Sequence[str]) -> int:
    """Upsert `rows` (keeping status and first_seen); delete the open advice of `origin` in the
    `scope` sub accounts that is not among them. Returns the rows written."""
    keep: set[tuple[str, str]] = set()
    n = 0
    for a in rows:
        keep.add((a.rule, a.resource_id))
        values = (a.resource_name, a.resource_type, a.billing_account_id, a.sub_account_id, a.region_id, a.category,
                  json.dumps(a.detail, sort_keys=True, ensure_ascii=False), a.saving_nanos, basis, a.currency)
        row = conn.execute("SELECT id FROM recommendations WHERE rule=? AND provider_name=? AND resource_id=?",
                           (a.rule, provider, a.resource_id)).fetchone()
        if row:
            conn.execute(
                "UPDATE recommendations SET origin=?, resource_name=?, resource_type=?, billing_account_id=?, "
                "sub_account_id=?, region_id=?, category=?, detail=?, monthly_saving_nanos=?, saving_basis=?, "
                "currency=?, last_seen=? WHERE id=?", (origin, *values, now, row[0]))
        else:
            conn.execute(
                "INSERT INTO recommendations(rule, origin, provider_name, resource_id, resource_name, "
                "resource_type, billing_account_id, sub_account_id, region_id, category, detail, "
                "monthly_saving_nanos, saving_basis, currency, first_seen, last_seen, status) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'open')", (a.rule, origin, provider, a.resource_id, *values,
                                                                    now, now))
        n += 1
    scope = sorted({s for s in scope if s})
    for i in range(0, len(scope), 500):
        chunk = scope[i:i + 500]
        q = ",".join("?" for _ in chunk)
        for rid, rule, res in conn.execute(
                f"SELECT id, rule, resource_id FROM recommendations WHERE origin=? AND provider_name=? "
                f"AND status='open' AND sub_account_id IN ({q})", (origin, provider, *chunk)).fetchall():
            if (rule, res) not in keep:
                conn.execute("DELETE FROM recommendations WHERE id=?", (rid,))
    return n


__all__ = ["AdviceRow", "write_native_advice"]
