"""Recompute the recommendations over the cache, and change their status.

`recompute(store, config, now=None)` runs every rule (analysis.recommendations.RULES) over the
inventory, costs, prices and metrics, then writes in ONE transaction:

* each finding is upserted keyed by (rule, provider_name, resource_id): its evidence, saving and
  resource fields are refreshed, last_seen = now; status, status_reason, snoozed_until and
  first_seen are kept across recomputation;
* snoozed recommendations (any origin) whose date has passed are re-opened;
* costdeck recommendations no longer found (or now excluded) are DELETED when still open, and
  KEPT when dismissed, snoozed or applied (the user's decision is history, and comes back if the
  waste does); a rule that failed keeps all its previous rows;
* excluded resources (the `exclusions` table: provider/resource/rule, NULL = any) are not
  recommended; protected resources (config [protection] tags and resource ids) are recommended but
  carry detail.protected / detail.protected_by, so cleanup refuses them;
* provider-native advice (origin != "costdeck", written by provider sync steps) is kept, and hidden
  with detail.duplicate_of = "<rule>#<id>" while one of our rules finds the same resource;
* meta["recommendations.last_run"]: JSON of the run (time, counts, skipped resources with reasons,
  rule errors), which the view shows.

Status changes (`set_status`) are single UPDATEs, safe from the UI's cache connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cache import timeutil

from . import RULES, rule_params
from .common import RuleContext, Skipped, tag_matches
from .model import STATUSES, Recommendation

LAST_RUN_KEY = "recommendations.last_run"


@dataclass(slots=True)
class RecomputeResult:
    at: datetime
    found: int = 0
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    reopened: int = 0
    duplicates_hidden: int = 0
    excluded: int = 0
    protected: int = 0
    open_count: int = 0
    open_saving: dict[str, int] = field(default_factory=dict)  # currency -> nanos
    by_rule: dict[str, int] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": timeutil.iso(self.at), "found": self.found, "inserted": self.inserted, "updated": self.updated,
            "removed": self.removed, "reopened": self.reopened, "duplicates_hidden": self.duplicates_hidden,
            "excluded": self.excluded, "protected": self.protected, "open": self.open_count,
            "open_saving": {k: str(v) for k, v in self.open_saving.items()}, "by_rule": self.by_rule,
            "skipped": [s.as_dict() for s in self.skipped], "errors": self.errors,
        }

    def summary(self) -> str:
        from cache.money import fmt

        saving = ", ".join(f"{fmt(v, c)}/month" for c, v in sorted(self.open_saving.items())) or "$0.00/month"
        line = (f"recommendations: {self.open_count} open ({self.inserted} new, {self.removed} resolved), "
                f"{saving} to save; {len(self.skipped)} resources skipped")
        if self.errors:
            line += "; rule errors: " + "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        return line


def _exclusions(conn: sqlite3.Connection) -> list[tuple[str | None, str | None, str | None, str | None]]:
    return [(r[0], r[1], r[2], r[3]) for r in
            conn.execute("SELECT provider_name, resource_id, rule, reason FROM exclusions")]


def _excluded(rec: Recommendation, excl: list[tuple[str | None, str | None, str | None, str | None]]) -> str | None:
    for prov, rid, rule, reason in excl:
        if (prov in (None, rec.provider_name) and rid in (None, rec.resource_id) and rule in (None, rec.rule)
                and (rid is not None or rule is not None)):
            return reason or "excluded"
    return None


def _protection(rec: Recommendation, tags: dict[str, Any], config: Any) -> str | None:
    prot = getattr(config, "protection", None)
    if prot is None:
        return None
    if rec.resource_id in (getattr(prot, "resource_ids", None) or []):
        return "config protection.resource_ids"
    for spec in getattr(prot, "tags", None) or []:
        if tag_matches(tags, spec):
            return f"tag {spec}"
    return None


def recompute(store: Any, config: Any, now: datetime | None = None) -> RecomputeResult:
    """Run every rule and write the recommendations in one transaction (see the module doc)."""
    # Rules look at the data as of the snapshot: an old snapshot (a file from a colleague, the demo of
    # another day) is judged at its own time, not at the wall clock's.
    if now is None:
        snap = store.snapshot_time()
        now = min(timeutil.now(), snap) if snap is not None else timeutil.now()
    where = str(getattr(config, "path", None) or "config")
    params = rule_params(getattr(config, "rules", None) or {}, where)  # RuleConfigError before any work
    conn: sqlite3.Connection = store.conn
    ctx = RuleContext(conn, now)
    result = RecomputeResult(at=now)
    found: list[Recommendation] = []
    for rid, mod in RULES.items():
        try:
            recs = mod.find(ctx, params[rid])
        except Exception as exc:  # noqa: BLE001 - one bad rule must not stop the others
            result.errors[rid] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            continue
        found.extend(recs)
    excl = _exclusions(conn)
    tags_of = {(r.provider_name, r.resource_id): r.tags for r in ctx.resources()}
    kept: list[Recommendation] = []
    for rec in found:
        reason = _excluded(rec, excl)
        if reason is not None:
            result.excluded += 1
            ctx.skipped.append(Skipped(rec.rule, rec.provider_name, rec.resource_id, rec.resource_name,
                                       f"excluded: {reason}"))
            continue
        prot = _protection(rec, tags_of.get((rec.provider_name, rec.resource_id), {}), config)
        if prot:
            rec.detail["protected"] = True
            rec.detail["protected_by"] = prot
            result.protected += 1
        kept.append(rec)
    result.found = len(kept)
    result.skipped = ctx.skipped
    for rec in kept:
        result.by_rule[rec.rule] = result.by_rule.get(rec.rule, 0) + 1

    now_s = timeutil.iso(now)
    with store.transaction():
        existing = {
            (r[1], r[2], r[3]): (r[0], r[4], r[5])
            for r in conn.execute("SELECT id, rule, provider_name, resource_id, status, origin FROM recommendations")
        }
        seen: set[tuple[str, str, str]] = set()
        for rec in kept:
            key = (rec.rule, rec.provider_name, rec.resource_id)
            seen.add(key)
            values = (rec.resource_name, rec.resource_type, rec.billing_account_id, rec.sub_account_id, rec.region_id,
                      rec.category, json.dumps(rec.detail, sort_keys=True, ensure_ascii=False), rec.monthly_saving,
                      rec.saving_basis, rec.currency)
            if key in existing:
                conn.execute(
                    "UPDATE recommendations SET origin='costdeck', resource_name=?, resource_type=?, "
                    "billing_account_id=?, sub_account_id=?, region_id=?, category=?, detail=?, "
                    "monthly_saving_nanos=?, saving_basis=?, currency=?, last_seen=? WHERE id=?",
                    (*values, now_s, existing[key][0]),
                )
                result.updated += 1
            else:
                conn.execute(
                    "INSERT INTO recommendations(rule, origin, provider_name, resource_id, resource_name, "
                    "resource_type, billing_account_id, sub_account_id, region_id, category, detail, "
                    "monthly_saving_nanos, saving_basis, currency, first_seen, last_seen, status) "
                    "VALUES (?, 'costdeck', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                    (rec.rule, rec.provider_name, rec.resource_id, *values, now_s, now_s),
                )
                result.inserted += 1
        for key, (rid, status, origin) in existing.items():
            if origin != "costdeck" or key in seen or key[0] in result.errors or key[0] not in RULES:
                continue
            if status == "open":
                conn.execute("DELETE FROM recommendations WHERE id=?", (rid,))
                result.removed += 1
        result.reopened = conn.execute(
            "UPDATE recommendations SET status='open', status_reason=NULL, snoozed_until=NULL "
            "WHERE status='snoozed' AND (snoozed_until IS NULL OR snoozed_until <= ?)", (now_s,),
        ).rowcount
        result.duplicates_hidden = _mark_duplicates(conn)
        for cur, n, total in conn.execute(
            "SELECT currency, count(*), sum(monthly_saving_nanos) FROM recommendations WHERE status='open' "
            "AND json_extract(detail, '$.duplicate_of') IS NULL GROUP BY currency"
        ):
            result.open_count += int(n)
            result.open_saving[cur] = int(total or 0)
        # data_run: the newest sync/import run the rules saw (`is_stale` compares it with the newest one now)
        store.set_meta(LAST_RUN_KEY, json.dumps({**result.as_dict(), "computed_at": timeutil.iso(timeutil.now()),
                                                 "data_run": _newest_data_run(store.conn)}, ensure_ascii=False))
    return result


def _mark_duplicates(conn: sqlite3.Connection) -> int:
    """Hide native advice for resources one of our rules found; un-hide it otherwise."""
    ours: dict[tuple[str, str], str] = {}
    for rid, rule, prov, res in conn.execute(
        "SELECT id, rule, provider_name, resource_id FROM recommendations WHERE origin='costdeck' "
        "AND category='cost' ORDER BY id"
    ):
        ours.setdefault((prov, res), f"{rule}#{rid}")
    hidden = 0
    for rid, prov, res, detail in conn.execute(
        "SELECT id, provider_name, resource_id, detail FROM recommendations WHERE origin != 'costdeck'"
    ).fetchall():
        try:
            d = json.loads(detail or "{}")
        except json.JSONDecodeError:
            d = {}
        if not isinstance(d, dict):
            d = {}
        dup = ours.get((prov, res))
        if dup == d.get("duplicate_of"):
            hidden += dup is not None
            continue
        if dup is None:
            d.pop("duplicate_of", None)
        else:
            d["duplicate_of"] = dup
            hidden += 1
        conn.execute("UPDATE recommendations SET detail=? WHERE id=?", (json.dumps(d, sort_keys=True), rid))
    return hidden


def is_stale(conn: sqlite3.Connection) -> bool:
    """Whether data landed after the last recompute: a sync or import whose process was killed after
    its commit but before the recompute that follows it. The next open (or report) recomputes.

    Runs of kinds recorded live (`costdeck track`) do not count: they change no recommendation.
    """
    newest = _newest_data_run(conn)
    if newest == 0:
        return False
    last = last_run(conn)
    if last is None:
        return True
    seen = last.get("data_run")
    if not isinstance(seen, int):
        return False  # computed by an older costdeck: no way to tell
    return newest > seen


def _newest_data_run(conn: sqlite3.Connection) -> int:
    """The id of the newest completed sync or import run (0: none), kinds recorded live left out."""
    from providers import registry

    live = registry.live_run_kinds()
    marks = ",".join("?" for _ in live) or "''"
    row = conn.execute(
        "SELECT max(r.id) FROM sync_runs r JOIN sources s ON s.id = r.source_id "
        f"WHERE r.status IN ('ok', 'partial') AND s.kind NOT IN ({marks})", live
    ).fetchone()
    return int(row[0] or 0)


def last_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (LAST_RUN_KEY,)).fetchone()
    if not row:
        return None
    try:
        v = json.loads(row[0])
    except json.JSONDecodeError:
        return None
    return v if isinstance(v, dict) else None


def set_status(conn: sqlite3.Connection, ids: Iterable[int], status: str, *, reason: str | None = None,
               until: datetime | None = None) -> int:
    """Dismiss (with a reason), snooze (until a date), reopen or mark applied. Returns rows changed.

    An applied recommendation stays applied: its resource was cleaned up (the audit log has the
    action), so reopening, dismissing or snoozing it changes nothing (not counted)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    if status == "snoozed" and until is None:
        raise ValueError("snoozing needs a date")
    id_list = [int(i) for i in ids]
    if not id_list:
        return 0
    q = ", ".join("?" for _ in id_list)
    cur = conn.execute(
        f"UPDATE recommendations SET status=?, status_reason=?, snoozed_until=? WHERE id IN ({q}) "
        f"AND (status <> 'applied' OR ? = 'applied')",
        (status, reason if status in ("dismissed", "applied") else None,
         timeutil.iso(until) if status == "snoozed" and until else None, *id_list, status),
    )
    return cur.rowcount


@dataclass(slots=True)
class OpenSummary:
    count: int
    saving: dict[str, int]  # currency -> nanos per month
    by_rule: dict[str, tuple[int, int]]  # rule -> (count, saving nanos, main currency only)
    security: int = 0


def open_summary(conn: sqlite3.Connection) -> OpenSummary:
    """Open, shown (not duplicate) recommendations: count and monthly saving, by rule."""
    saving: dict[str, int] = {}
    by_rule: dict[str, tuple[int, int]] = {}
    count = security = 0
    for rule, cat, cur, n, total in conn.execute(
        "SELECT rule, category, currency, count(*), sum(monthly_saving_nanos) FROM recommendations "
        "WHERE status='open' AND json_extract(detail, '$.duplicate_of') IS NULL GROUP BY rule, category, currency"
    ):
        count += n
        if cat == "security":
            security += n
        saving[cur] = saving.get(cur, 0) + int(total or 0)
        c, s = by_rule.get(rule, (0, 0))
        by_rule[rule] = (c + n, s + int(total or 0))
    return OpenSummary(count, saving, by_rule, security)


__all__ = ["LAST_RUN_KEY", "OpenSummary", "RecomputeResult", "is_stale", "last_run", "open_summary", "recompute", "set_status"]
