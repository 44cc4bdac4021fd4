"""Cleanup planning, guards, execution and script export (DESIGN.md, "Cleanup safety model").

    plan = build_plan(conn, recs, config, read_only=app.read_only, demo=store.is_demo())
    results = execute_plan(plan, executor_for(store, config), store, dry_run=True, actor=current_actor())
    text = export_script(plan)

Plan (what each recommendation becomes):

* unattached_volume -> delete the volume (with `snapshot_volumes` on: snapshot it first, which
  makes the step reversible); unused_ip -> release the Elastic IP; obsolete_snapshot -> delete
  the snapshot; obsolete_image -> deregister the image AND delete its EBS snapshots;
  idle_instance -> stop the instance (reversible: start it again).
* Not actionable automatically, listed with the reason: stopped_instance (its volumes still
  bill; snapshotting and deleting them is a decision for a human), rightsizing and
  previous_generation (a type change needs a stop/modify/start window), open_security_group
  (a security finding: revoking the rule may cut someone's access).
* stopped_instance whose detail asks for it (an Azure VM stopped but not deallocated, still billed
  for compute) -> deallocate the VM (reversible: start it again).
* Only providers that a registered kind can act on (its `cleanup_providers`: AWS, Azure) are
  executed; steps for other providers are listed as "not supported yet".

Guards at plan time (each excluded item keeps its reason): protected resources (tag
`costdeck:protect`, `[protection] tags` / `resource_ids`, or a recommendation marked protected),
resources in the `exclusions` table, resources no longer in the inventory or no longer matching
(attached, running...) as of the last sync, dismissed or applied recommendations, duplicates
(a snapshot deleted with its image). Read-only mode refuses to plan at all (`PlanRefused`).
A batch limit (default 25 steps) cuts runaway plans: the steps over it are excluded and listed.
`needs_typed_confirmation` when the batch has more than `confirm_threshold` steps (default 5) or
any irreversible step: the user must type `confirmation_phrase` exactly.

Settings: `[rules.cleanup]` in the config file: batch_limit (1-500, default 25),
confirm_threshold (0-100, default 5), snapshot_volumes (default false).

Execution: before each step the executor re-reads the resource and skips it when it no longer
matches; every attempt (dry run, ok, skipped, failed) is written to the audit log (`actions`);
an applied recommendation gets status "applied" and the inventory row is updated. A credential
error stops the batch (the remaining steps are "not-run"); any other error fails its step only.
"""

from __future__ import annotations

import getpass
import json
import shlex
import sqlite3
import textwrap
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from cache import Store, timeutil
from cache.money import fmt
from cache.text import clean
from providers import registry
from providers.actions import (
    ACTIONS,
    Executor,
    NoExecutor,
    PlanStep,
    Resolver,
    ScriptExporter,
    StepResult,
    audit_detail,
    live_from_row,
    mismatch,
    protection_reason,
)
from providers.base import FatalSourceError, one_line
from providers.config import Config
from providers.errors import InputError
from providers.options import Model, convert

from .recommendations.model import Recommendation

DEFAULT_BATCH_LIMIT = 25
# actions that stop rather than delete -> the state the inventory shows after them
STOP_ACTIONS = {"stop_instance": "stopping", "deallocate_instance": "deallocated", "stop_notebook": "Stopping"}
DEFAULT_CONFIRM_THRESHOLD = 5
SETTINGS_KEY = "cleanup"  # [rules.cleanup] in the config file

READ_ONLY_MESSAGE = ("read-only mode: cleanup actions are disabled (--read-only or read_only = true in the "
                     "config); export the plan as a script instead")

# rule -> action
RULE_ACTIONS: dict[str, str] = {
    "unattached_volume": "delete_volume",
    "unused_ip": "release_address",
    "obsolete_snapshot": "delete_snapshot",
    "obsolete_image": "deregister_image",
    "idle_instance": "stop_instance",
    "k8s_overrequested": "set_requests",
    "k8s_abandoned": "scale_to_zero",
    "ml_idle_endpoint": "delete_endpoint",
    "ml_idle_notebook": "stop_notebook",
}
# (rule, the action its advice's detail names) taken instead of the rule's own
DETAIL_ACTIONS = {("stopped_instance", "deallocate_instance"), ("ml_idle_notebook", "delete_studio_app")}
# (rule, provider, resource type) -> action, where a provider's resources take another action
PROVIDER_ACTIONS: dict[tuple[str, str, str], str] = {
    ("unattached_volume", "Kubernetes", "volume"): "delete_pv",
    ("k8s_abandoned", "Kubernetes", "kubernetes_namespace"): "scale_namespace_to_zero",
}
# action -> the advice's detail keys the step carries (PlanStep.params)
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "set_requests": ("namespace", "controller_kind", "controller", "cpu_recommended_per_pod",
                     "memory_recommended_per_pod_bytes"),
    "scale_to_zero": ("namespace", "controllers"),
    "scale_namespace_to_zero": ("namespace", "controllers"),
    "delete_endpoint": ("endpoint_config",),
    "delete_studio_app": ("domain_id", "user_profile", "space", "app_type", "app_name"),
}

NOT_ACTIONABLE: dict[str, str] = {
    "stopped_instance": ("not done automatically: the instance is already stopped and its volumes still bill; "
                         "snapshot and delete the volumes (or terminate it) yourself once nobody needs them"),
    "rightsizing": "not done automatically: changing the type needs a stop / modify / start window",
    "previous_generation": "not done automatically: changing the type needs a stop / modify / start window",
    "open_security_group": ("not done automatically: a security finding; revoking the rule may cut someone's "
                            "access, review it in your change process"),
    "ml_underutilized_executor": "not done automatically: change the instance type in the training job's configuration",
    "ml_spot_training": ("not done automatically: enable managed spot (and checkpoints) in the training job's "
                         "configuration"),
    "ml_failed_runs": "not done automatically: find why the runs fail (the commonest failure point is shown)",
    "k8s_idle_capacity": ("not done automatically: size the node group down in the cloud (or let the cluster "
                          "autoscaler remove nodes)"),
}

# action -> (expected resource type, preconditions, reversible, how to undo)
_STEP_SPECS: dict[str, tuple[str, dict[str, Any], bool, str]] = {
    "delete_volume": ("volume", {"state": "available", "attached": False}, False, "cannot be undone"),
    "release_address": ("elastic_ip", {"attached": False}, False,
                        "cannot be undone (a new allocation gets another address)"),
    "delete_snapshot": ("snapshot", {"state": "completed", "in_use": False}, False, "cannot be undone"),
    "deregister_image": ("image", {"state": "available", "in_use": False}, False,
                         "cannot be undone (the image and its snapshots are gone)"),
    "stop_instance": ("instance", {"state": "running", "spot": False}, True,
                      "start it again (instance-store data is lost; a public IP without an EIP changes)"),
    "deallocate_instance": ("instance", {"state": "stopped"}, True,
                            "start it again (its disks and static IPs are kept; a dynamic public IP changes)"),
    "set_requests": ("kubernetes_workload", {}, True, "set the previous requests again (kubectl set resources)"),
    "scale_to_zero": ("kubernetes_workload", {}, True, "scale it up again (kubectl scale --replicas=N)"),
    "scale_namespace_to_zero": ("kubernetes_namespace", {}, True,
                                "scale its workloads up again (kubectl scale --replicas=N)"),
    "delete_endpoint": ("sagemaker_endpoint", {"state": "InService"}, True,
                        "recreate it from the kept endpoint configuration (aws sagemaker create-endpoint "
                        "--endpoint-name NAME --endpoint-config-name CONFIG); its model is kept too"),
    "stop_notebook": ("sagemaker_notebook", {"state": "InService"}, True,
                      "start it again (aws sagemaker start-notebook-instance); its ML storage volume is kept"),
    "delete_studio_app": ("sagemaker_studio_app", {"state": "InService"}, True,
                          "open it again from SageMaker Studio (or aws sagemaker create-app); the user's files "
                          "on the domain's storage are kept, running kernels are not"),
    "delete_pv": ("volume", {"state": "released", "attached": False}, False,
                  "cannot be undone (with reclaim policy Retain the cloud disk stays: delete it in the cloud)"),
}

# A provider whose resources name their states (or types) differently: what it accepts instead of the
# spec's. Azure: a managed disk is "Unattached", a snapshot "Succeeded", a public IP an "ip_address".
_PROVIDER_STATES: dict[tuple[str, str], str] = {
    ("Microsoft", "delete_volume"): "Unattached",
    ("Microsoft", "delete_snapshot"): "Succeeded",
}
_ALSO_TYPES: dict[str, tuple[str, ...]] = {"release_address": ("ip_address",)}


def action_for(rec: Recommendation) -> str | None:
    """The cleanup action of a recommendation: its rule's, or the one its detail asks for where the
    rule leaves it to the provider (a stopped Azure VM still billed for compute: deallocate it)."""
    if (rec.rule, rec.detail.get("action")) in DETAIL_ACTIONS:
        return str(rec.detail["action"])
    return RULE_ACTIONS.get(rec.rule)


# how a volume deleted after a snapshot comes back, per provider
_SNAPSHOT_UNDO = {
    "AWS": "create a volume from the snapshot taken first (aws ec2 create-volume --snapshot-id)",
    "Google Cloud": "create a disk from the snapshot taken first (gcloud compute disks create --source-snapshot)",
    "Microsoft": "create a disk from the snapshot taken first (az disk create --source SNAPSHOT_ID)",
}


class PlanRefused(Exception):
    """The plan cannot be built (read-only mode, bad settings): one line for the user."""


class NothingToExport(Exception):
    """The plan has no step for the script's provider: no script is written (one line says so)."""


@dataclass(slots=True)
class Excluded:
    """A recommendation (or step) left out of the plan, with why. kind: protected | excluded |
    not-actionable | not-supported | stale | status | duplicate | over-limit."""

    rule: str
    provider_name: str
    resource_id: str
    resource_name: str | None
    reason: str
    kind: str
    sub_account_id: str | None = None
    region_id: str | None = None
    recommendation_id: int | None = None
    monthly_saving: int = 0


@dataclass(slots=True)
class Plan:
    steps: list[PlanStep]
    excluded: list[Excluded] = field(default_factory=list)
    demo: bool = False
    snapshot_volumes: bool = False
    batch_limit: int = DEFAULT_BATCH_LIMIT
    confirm_threshold: int = DEFAULT_CONFIRM_THRESHOLD
    created_at: datetime = field(default_factory=timeutil.now)

    @property
    def total_saving(self) -> int:
        return sum(s.monthly_saving for s in self.steps)

    @property
    def currency(self) -> str:
        return self.steps[0].currency if self.steps else "USD"

    @property
    def irreversible(self) -> int:
        return sum(1 for s in self.steps if not s.reversible)

    @property
    def needs_typed_confirmation(self) -> bool:
        return len(self.steps) > self.confirm_threshold or self.irreversible > 0

    @property
    def confirmation_phrase(self) -> str:
        n = len(self.steps)
        verb = "delete" if any(s.action not in STOP_ACTIONS for s in self.steps) else "stop"
        return f"{verb} {n} resource{'s' if n != 1 else ''}"

    def confirmed_by(self, typed: str) -> bool:
        """The typed confirmation: the exact phrase (surrounding blanks aside), anything else refuses."""
        return bool(self.steps) and typed.strip() == self.confirmation_phrase


# -- settings --------------------------------------------------------------------------------------


class CleanupSettings(Model):
    """[rules.cleanup] in the config file."""

    batch_limit: Annotated[int, Meta(ge=1, le=500, description="most steps in one plan (the rest are listed)")] \
        = DEFAULT_BATCH_LIMIT
    confirm_threshold: Annotated[int, Meta(ge=0, le=100, description="a plan with more steps (or any "
                                           "irreversible one) needs the typed phrase")] = DEFAULT_CONFIRM_THRESHOLD
    snapshot_volumes: Annotated[bool, Meta(description="snapshot a volume before deleting it (reversible)")] = False


def settings(config: Config) -> dict[str, Any]:
    """[rules.cleanup] validated: batch_limit, confirm_threshold, snapshot_volumes (one-line errors)."""
    where = f"{config.path}: " if config.path else ""
    try:
        model = convert(config.rules.get(SETTINGS_KEY) or {}, CleanupSettings, f"rules.{SETTINGS_KEY}")
    except InputError as exc:
        raise PlanRefused(f"{where}{exc}") from None
    return model.as_dict()


# -- planning --------------------------------------------------------------------------------------


def _resource(conn: sqlite3.Connection, provider: str, rid: str) -> dict[str, Any] | None:
    cur = conn.execute("SELECT * FROM resources WHERE provider_name=? AND resource_id=?", (provider, rid))
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description]
    return dict(zip(names, tuple(row), strict=True))


def _exclusion(conn: sqlite3.Connection, provider: str, rid: str, rule: str) -> str | None:
    row = conn.execute(
        "SELECT reason FROM exclusions WHERE resource_id=? AND (provider_name IS NULL OR provider_name=?) "
        "AND (rule IS NULL OR rule=?) ORDER BY id LIMIT 1",
        (rid, provider, rule),
    ).fetchone()
    if row is None:
        return None
    return f"excluded: {row[0] or 'listed in the exclusions'}"


def _loads(text: Any) -> Any:
    if isinstance(text, dict | list):
        return text
    try:
        return json.loads(text or "{}")
    except (json.JSONDecodeError, TypeError):
        return {}


def build_plan(
    conn: sqlite3.Connection,
    recs: Iterable[Recommendation],
    config: Config,
    *,
    read_only: bool,
    demo: bool,
    snapshot_volumes: bool | None = None,
    batch_limit: int | None = None,
    confirm_threshold: int | None = None,
    for_script: bool = False,
) -> Plan:
    """Recommendations -> a plan of steps (and the excluded ones with their reasons).

    for_script: the plan becomes a script only, so the providers of script-only kinds (a kind with a
    script exporter but no in-app executor, e.g. Kubernetes: kubectl) are actionable too.

    Raises PlanRefused in read-only mode (or when [rules.cleanup] is invalid).
    """
    if read_only or config.read_only:
        raise PlanRefused(READ_ONLY_MESSAGE)
    opts = settings(config)
    if snapshot_volumes is not None:
        opts["snapshot_volumes"] = snapshot_volumes
    if batch_limit is not None:
        opts["batch_limit"] = max(1, batch_limit)
    if confirm_threshold is not None:
        opts["confirm_threshold"] = max(0, confirm_threshold)
    plan = Plan(steps=[], demo=demo, snapshot_volumes=bool(opts["snapshot_volumes"]),
                batch_limit=int(opts["batch_limit"]), confirm_threshold=int(opts["confirm_threshold"]))
    seen: set[tuple[str, str]] = set()
    actionable = registry.cleanup_providers()
    if for_script:
        actionable += [p for p in registry.script_providers() if p not in actionable]
    for rec in recs:
        outcome = _step_or_reason(conn, rec, config, plan, actionable, seen)
        if isinstance(outcome, PlanStep):
            seen.add((rec.provider_name, rec.resource_id))
            plan.steps.append(outcome)
        else:
            reason, kind = outcome
            plan.excluded.append(Excluded(
                rule=rec.rule, provider_name=rec.provider_name, resource_id=rec.resource_id,
                resource_name=rec.resource_name, reason=reason, kind=kind, sub_account_id=rec.sub_account_id,
                region_id=rec.region_id, recommendation_id=rec.id, monthly_saving=rec.monthly_saving))
    _fold_image_snapshots(plan)
    _apply_batch_limit(plan)
    return plan


def _step_or_reason(conn: sqlite3.Connection, rec: Recommendation, config: Config, plan: Plan,
                    actionable: list[str], seen: set[tuple[str, str]]) -> PlanStep | tuple[str, str]:
    """The recommendation's step, or (why it is left out, the kind of reason)."""
    why = _not_actionable(rec, actionable, seen)
    if why:
        return why
    row = _resource(conn, rec.provider_name, rec.resource_id)
    action = PROVIDER_ACTIONS.get((rec.rule, rec.provider_name, str((row or {}).get("resource_type"))))
    action = action or action_for(rec)
    assert action is not None  # _not_actionable said so
    rtype = _STEP_SPECS[action][0]
    tags = _loads(row.get("tags")) if row else {}
    protected = protection_reason(tags if isinstance(tags, dict) else {}, rec.resource_id, config.protection)
    if protected:
        return protected, "protected"
    for part in _parts(rec, action):  # a step on a group (a namespace's workloads): each part's protection
        prow = _resource(conn, rec.provider_name, part) or {}
        ptags = _loads(prow.get("tags"))
        part_why = protection_reason(ptags if isinstance(ptags, dict) else {}, part, config.protection)
        if part_why:
            return f"{part_why} (in {rec.resource_name or rec.resource_id}: {part})", "protected"
    excluded = _exclusion(conn, rec.provider_name, rec.resource_id, rec.rule)
    if excluded:
        return excluded, "excluded"
    if row is None:
        return "gone: not in the inventory any more (deleted since the last sync?)", "stale"
    if row.get("resource_type") not in (rtype, *_ALSO_TYPES.get(action, ())):
        return f"a {row.get('resource_type')}, not a {rtype}: no {ACTIONS[action][0]}", "stale"
    step = _make_step(conn, rec, action, row, config, plan.snapshot_volumes)
    stale = mismatch(step, live_from_row(row, action), config.protection, since_plan=False)
    if stale:
        return stale, "stale"
    return step


def _parts(rec: Recommendation, action: str) -> list[str]:
    """The resource ids a group step acts on besides its own (a namespace's controllers)."""
    if action != "scale_namespace_to_zero":
        return []
    out = []
    for c in rec.detail.get("controllers") or []:
        if isinstance(c, dict):
            out.append(f"{rec.resource_id}/{c.get('kind')}/{c.get('name')}")
    return out


def _not_actionable(rec: Recommendation, actionable: list[str], seen: set[tuple[str, str]]) -> tuple[str, str] | None:
    """Why the recommendation cannot become a step, judged from itself (status, rule, provider)."""
    if rec.status == "applied":
        return "already applied", "status"
    if rec.status == "dismissed":
        return "dismissed" + (f": {rec.status_reason}" if rec.status_reason else ""), "status"
    action = action_for(rec)
    if action is None:
        return NOT_ACTIONABLE.get(rec.rule, "not done automatically: no cleanup action for this rule"), \
            "not-actionable"
    if rec.provider_name not in actionable:
        return unsupported(rec.provider_name), "not-supported"
    if (rec.provider_name, rec.resource_id) in seen:
        return "already in the plan", "duplicate"
    if rec.detail.get("protected"):
        by = rec.detail.get("protected_by")
        return (f"protected: {by}" if by else "protected"), "protected"
    return None


def _make_step(conn: sqlite3.Connection, rec: Recommendation, action: str, row: dict[str, Any], config: Config,
               snapshot_volumes: bool) -> PlanStep:
    """The step for a resource that passed the plan-time checks."""
    rtype, pre, reversible, undo = _STEP_SPECS[action]
    pre = dict(pre)
    if (rec.provider_name, action) in _PROVIDER_STATES:
        pre["state"] = _PROVIDER_STATES[(rec.provider_name, action)]
    step = PlanStep(
        action=action, provider_name=rec.provider_name, resource_id=rec.resource_id,
        resource_type=row.get("resource_type") or rtype, resource_name=row.get("resource_name") or rec.resource_name,
        sub_account_id=row.get("sub_account_id") or rec.sub_account_id,
        region_id=row.get("region_id") or rec.region_id, monthly_saving=rec.monthly_saving,
        currency=rec.currency, reversible=reversible, undo=undo, recommendation_id=rec.id, rule=rec.rule,
        preconditions=dict(pre), source_id=row.get("source_id"),
        params={k: rec.detail.get(k) for k in ACTION_PARAMS.get(action, ())},
    )
    if action == "delete_volume" and snapshot_volumes:
        step.snapshot_first = True
        step.reversible = True
        step.undo = _SNAPSHOT_UNDO.get(rec.provider_name or "", _SNAPSHOT_UNDO["AWS"])
    if action == "deregister_image":
        props = _loads(row.get("properties"))
        snaps = [str(s) for s in (props.get("snapshot_ids") if isinstance(props, dict) else None) or []]
        keep = []
        for sid in snaps:
            srow = _resource(conn, rec.provider_name, sid)
            stags = _loads(srow.get("tags")) if srow else {}
            if protection_reason(stags if isinstance(stags, dict) else {}, sid, config.protection):
                keep.append(sid)
        step.snapshot_ids = [s for s in snaps if s not in keep]
        if keep:
            step.undo += f"; protected snapshot(s) kept: {', '.join(keep)}"
    return step


def _fold_image_snapshots(plan: Plan) -> None:
    """A snapshot deleted with its image is not a step of its own."""
    by_image = {sid: s.resource_id for s in plan.steps if s.action == "deregister_image" for sid in s.snapshot_ids}
    kept: list[PlanStep] = []
    for s in plan.steps:
        if s.action == "delete_snapshot" and s.resource_id in by_image:
            plan.excluded.append(_excluded_step(s, f"deleted with image {by_image[s.resource_id]}", "duplicate"))
        else:
            kept.append(s)
    for e in plan.excluded:  # "in use by <image>" while that image is deregistered by this plan
        if e.rule == "obsolete_snapshot" and e.kind == "stale" and e.resource_id in by_image:
            e.reason, e.kind = f"deleted with image {by_image[e.resource_id]}", "duplicate"
    plan.steps = kept


def _apply_batch_limit(plan: Plan) -> None:
    """The steps over the batch limit are listed, not run (largest saving first: the recs' order)."""
    if len(plan.steps) <= plan.batch_limit:
        return
    for s in plan.steps[plan.batch_limit:]:
        plan.excluded.append(_excluded_step(
            s, f"over the batch limit of {plan.batch_limit} steps: run it in another batch "
               "([rules.cleanup] batch_limit)", "over-limit"))
    plan.steps = plan.steps[:plan.batch_limit]


def _excluded_step(s: PlanStep, reason: str, kind: str) -> Excluded:
    return Excluded(rule=s.rule or "", provider_name=s.provider_name, resource_id=s.resource_id,
                    resource_name=s.resource_name, reason=reason, kind=kind, sub_account_id=s.sub_account_id,
                    region_id=s.region_id, recommendation_id=s.recommendation_id, monthly_saving=s.monthly_saving)


# -- executors --------------------------------------------------------------------------------------


def unsupported(provider: str | None) -> str:
    """Why a provider's resources are not acted on (no registered kind has an executor for them)."""
    can = registry.cleanup_providers()
    if provider in registry.script_providers():
        kinds = [k for k in registry.script_kinds()
                 if getattr(registry.get(k).script_exporter(), "provider_name", None) == provider]
        return (f"script only: {provider} resources are changed by an exported script, not in the app "
                f"(costdeck report recommendations --script {kinds[0] if kinds else 'KIND'})")
    where = ", ".join(can) + " only" if can else "no provider"
    return f"not supported yet: cleanup actions run on {where}, not {provider}"


def executor_for(store: Store, config: Config, **kw: Any) -> Resolver:
    """Chooses each step's executor from the resource's source (resources.source_id -> sources -> its
    kind in the registry): the kind's adapter, built with the source's options from the config,
    gives the executor (`Adapter.executor`). A kind not synced from the config (the demo) is built
    with default options; in the demo cache a step without a source goes to the demo kind. Raises
    NoExecutor with the reason otherwise (the step is then skipped and logged). `kw` goes to the
    executor (tests: counters, sessions, waits)."""
    cache: dict[str, Executor] = {}
    demo_cache = store.is_demo()

    def resolve(step: PlanStep) -> Executor:
        if step.provider_name not in registry.cleanup_providers():
            raise NoExecutor(unsupported(step.provider_name))
        src = None
        if step.source_id is not None:
            src = store.conn.execute("SELECT name, kind FROM sources WHERE id=?", (step.source_id,)).fetchone()
        if src is None and demo_cache and registry.demo_kind():
            kind = str(registry.demo_kind())
            name = kind
        elif src is None:
            raise NoExecutor("the resource's source is unknown: sync it again before cleaning up")
        else:
            name, kind = str(src[0]), str(src[1])
        if name in cache:
            return cache[name]
        try:
            cls = registry.get(kind)
        except registry.UnknownKind as exc:
            raise NoExecutor(str(exc)) from None
        options: Model
        if cls.configurable:
            conf = config.sources.get(name)
            if conf is None or conf.kind != kind:
                raise NoExecutor(f"source {name!r} is not in the config file: costdeck cannot tell which "
                                 "credentials to use")
            options = conf.options
        else:  # (a configurable kind's options may have required fields: never built empty)
            options = cls.Options()
        executor = cls(name, options, store.path).executor(store, config.protection, **kw)
        if executor is None:
            raise NoExecutor(f"source {name!r} is of kind {kind!r}, which has no cleanup actions")
        cache[name] = executor
        return executor

    return resolve


def current_actor() -> str:
    """Who acts: the OS user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (e.g. a container without passwd entry)
        return "unknown"


# -- execution --------------------------------------------------------------------------------------


def execute_plan(
    plan: Plan,
    executor: Executor | Callable[[PlanStep], Executor],
    store: Store,
    *,
    dry_run: bool = True,
    actor: str | None = None,
    on_result: Callable[[StepResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[StepResult]:
    """Run the plan's steps in order; every attempt is written to the audit log.

    `executor`: one Executor, or a resolver step -> Executor (see executor_for). Dry run is the
    default: nothing is changed, each step is re-checked and logged as what it would do.
    """
    who = actor or current_actor()
    resolve: Callable[[PlanStep], Executor]
    if isinstance(executor, Executor):
        single = executor
        resolve = lambda _s: single  # noqa: E731
    else:
        resolve = executor
    results: list[StepResult] = []
    stopped: str | None = None
    for step in plan.steps:
        if stopped is not None or (cancel is not None and cancel.is_set()):
            why = stopped or "cancelled"
            res = StepResult(step, "not-run", f"not attempted: the batch stopped ({why})", dry_run=dry_run)
            results.append(res)
            if on_result is not None:
                on_result(res)
            continue
        ex: Executor | None = None
        try:
            ex = resolve(step)
            res = ex.run(step, dry_run=dry_run)
        except NoExecutor as exc:
            res = StepResult(step, "skipped", str(exc), dry_run=dry_run)
        except FatalSourceError as exc:
            stopped = one_line(exc)
            res = StepResult(step, "failed", "credentials problem: the batch stops", error=stopped, dry_run=dry_run,
                             simulated=bool(ex and ex.simulated))
        except Exception as exc:  # noqa: BLE001 - one step's failure never stops the batch
            res = StepResult(step, "failed", f"{step.verb} failed", error=one_line(exc), dry_run=dry_run)
        _record(store, res, who, reflect=bool(res.ok and ex is not None and not ex.simulated))
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def _record(store: Store, res: StepResult, actor: str, *, reflect: bool) -> None:
    """Audit log row; on success the recommendation is 'applied' and the inventory updated."""
    step = res.step
    at = timeutil.now()
    with store.transaction():
        store.log_action(
            at=timeutil.iso(at), actor=actor, action=step.action, provider_name=step.provider_name,
            sub_account_id=step.sub_account_id, region_id=step.region_id, resource_id=step.resource_id,
            dry_run=1 if res.dry_run else 0, result=res.status,
            error=res.error if res.status == "failed" else (res.message if res.status == "skipped" else None),
            detail=audit_detail(step, res),
        )
        if res.ok and not res.dry_run:
            if step.recommendation_id is not None:
                how = "simulated (demo)" if res.simulated else "executed"
                store.conn.execute(
                    "UPDATE recommendations SET status='applied', status_reason=? WHERE id=?",
                    (f"{step.verb} {how} by {actor} at {timeutil.iso(at)}", step.recommendation_id),
                )
            if reflect:
                key = (step.provider_name, step.resource_id)
                if step.action in STOP_ACTIONS:
                    store.conn.execute(
                        "UPDATE resources SET state=? WHERE provider_name=? AND resource_id=?",
                        (STOP_ACTIONS[step.action], *key))
                else:
                    gone = [step.resource_id, *res.detail.get("deleted_snapshots", [])]
                    store.conn.executemany("DELETE FROM resources WHERE provider_name=? AND resource_id=?",
                                           [(step.provider_name, g) for g in gone])


# -- script export -----------------------------------------------------------------------------------


def _comment(value: object, max_len: int = 120) -> str:
    """Text safe inside a shell comment: one line, control characters escaped, cut."""
    return clean(value, max_len)


def exporter(kind: str | None, plan: Plan | None = None) -> ScriptExporter:
    """The script exporter of a kind (PlanRefused when it has none). Without a kind: the exporter
    for the provider of most of the plan's steps (the first kind with one for an empty plan)."""
    if kind is None:
        found: dict[str, ScriptExporter] = {}
        for k in registry.script_kinds():
            ex = registry.get(k).script_exporter()
            if ex is not None:
                found.setdefault(ex.provider_name, ex)
        counts: dict[str, int] = {}
        for s in plan.steps if plan else []:
            if s.provider_name in found:
                counts[s.provider_name] = counts.get(s.provider_name, 0) + 1
        if counts:
            return found[max(counts, key=lambda p: counts[p])]
        if found:
            return next(iter(found.values()))
        raise PlanRefused("no registered kind can export a cleanup script")
    try:
        ex = registry.get(kind).script_exporter()
    except registry.UnknownKind as exc:
        raise PlanRefused(str(exc)) from None
    if ex is None:
        kinds = ", ".join(registry.script_kinds()) or "none"
        raise PlanRefused(f"kind {kind!r} has no script export (kinds with one: {kinds})")
    return ex


_PRELUDE = r'''set -euo pipefail

DRY_RUN="${DRY_RUN:-1}"
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --execute) DRY_RUN=0 ;;
    *) echo "usage: $0 [--dry-run | --execute]" >&2; exit 2 ;;
  esac
done
if [ "$DRY_RUN" != 0 ]; then
  echo "DRY RUN: printing the commands only (run with --execute or DRY_RUN=0 to act)" >&2
fi

# run SHOWN CMD...: print SHOWN (the command, shell-quoted) in a dry run, else run CMD.
run() {
  local shown=$1
  shift
  if [ "$DRY_RUN" != 0 ]; then
    printf '%s\n' "$shown"
  else
    printf '+ %s\n' "$shown" >&2
    "$@"
  fi
}

# in_account ID: true when the credentials belong to account ID (checked once per account, only
# when executing); steps of another account are skipped with a message.
in_account() {
  [ "$DRY_RUN" != 0 ] && return 0
  local want=$1 have
  @ACCOUNT_CHECK@
  if [ "$have" != "$want" ]; then
    echo "skipping the steps for account $want: the credentials are for account ${have:-none} (@ACCOUNT_HINT@)" >&2
    return 1
  fi
}
'''


def export_script(plan: Plan, kind: str | None = None, *, generated_at: datetime | None = None) -> str:
    """The plan's steps for the kind's provider as a bash script (the kind's CLI), every value
    shell-quoted; a dry run unless run with --execute. Kind: see `exporter`."""
    ex = exporter(kind, plan)
    at = generated_at or timeutil.now()
    steps = [s for s in plan.steps if s.provider_name == ex.provider_name]
    if not steps:
        raise NothingToExport(f"nothing to export: the plan has no {ex.provider_name} step "
                              f"({len(plan.excluded)} recommendation(s) left out, see the plan)")
    total = sum(s.monthly_saving for s in steps)
    lines = [
        "#!/usr/bin/env bash",
        f"# costdeck cleanup plan, generated by costdeck on {at:%Y-%m-%d %H:%M} UTC",
        *(["# DEMO: these steps come from costdeck's demo snapshot (made-up resources and accounts);",
           "# they are for trying costdeck out, not for running against a real account."] if plan.demo else []),
        f"# {len(steps)} step(s), estimated saving {fmt(total, plan.currency)}/month; "
        f"{sum(1 for s in steps if not s.reversible)} cannot be undone.",
        "#",
        f"# What it does: runs {ex.tool} (one or more commands per step, below). By default it is a DRY RUN",
        "# that only prints the commands; `bash THIS_FILE --execute` (or DRY_RUN=0) runs them with the",
        "# credentials of the environment, step by step, stopping at the first error. Each account's",
        "# steps run only when the credentials belong to that account. Resources are NOT re-checked here:",
        "# review the list, or use costdeck's confirm screen, which re-reads each resource before acting.",
        "#",
        "# Resources:",
    ]
    for i, s in enumerate(steps, 1):
        name = f" ({_comment(s.resource_name, 100)})" if s.resource_name else ""
        lines.append(f"#  {i:>2}. {_comment(s.describe())}{name}")
        lines.append(f"#      account {_comment(s.sub_account_id or '?', 40)}, region {_comment(s.region_id or '?', 30)}"
                     f", saving {fmt(s.monthly_saving, s.currency)}/month, "
                     f"{'reversible: ' + _comment(s.undo, 90) if s.reversible else 'irreversible'}")
    if plan.excluded:
        lines.append("#")
        lines.append("# Not included:")
        for e in plan.excluded:
            # the reason in full, wrapped on comment lines (the advice the user needs is never cut)
            head = f"#   - {_comment(e.resource_id, 60)} ({_comment(e.rule, 30)}): "
            reason = textwrap.wrap(_comment(e.reason, 4000), width=max(40, 100 - len(head))) or [""]
            lines.append(head + reason[0])
            lines.extend(f"#       {more}" for more in reason[1:])
    lines.append("")
    lines.append(_PRELUDE.replace("@ACCOUNT_CHECK@", ex.account_check()).replace("@ACCOUNT_HINT@", ex.account_hint))
    by_account: dict[str, list[tuple[int, PlanStep]]] = {}
    for i, s in enumerate(steps, 1):
        by_account.setdefault(s.sub_account_id or "", []).append((i, s))
    for account, items in by_account.items():
        indent = ""
        if account:
            lines.append(f"if in_account {shlex.quote(account)}; then")
            indent = "  "
        for i, s in items:
            lines.append(f"{indent}# step {i}: {_comment(s.describe())}")
            for argv in ex.commands(s):
                shown = shlex.join(argv)
                lines.append(f"{indent}run {shlex.quote(shown)} {shown}")
        if account:
            lines.append("fi")
    lines.append("")
    return "\n".join(lines)


def script_lines(plan: Plan, kind: str | None = None) -> list[str]:
    """What the script prints in a dry run: one shell-quoted command per entry (for tests, previews)."""
    ex = exporter(kind, plan)
    return [shlex.join(argv) for s in plan.steps if s.provider_name == ex.provider_name for argv in ex.commands(s)]


__all__ = [
    "DEFAULT_BATCH_LIMIT",
    "DEFAULT_CONFIRM_THRESHOLD",
    "NOT_ACTIONABLE",
    "READ_ONLY_MESSAGE",
    "RULE_ACTIONS",
    "Excluded",
    "Plan",
    "NothingToExport",
    "PlanRefused",
    "PlanStep",
    "StepResult",
    "CleanupSettings",
    "build_plan",
    "current_actor",
    "execute_plan",
    "executor_for",
    "export_script",
    "script_lines",
    "settings",
    "unsupported",
]
