"""Recommendations: the rules (one module each), the engine that recomputes them, the record.

    from analysis.recommendations import RULES, recompute, load
    result = recompute(store, config)          # after every sync, import and demo

Rules run in the order of RULES (idle before rightsizing before previous generation, so one
instance gets one sizing advice). Thresholds come from the config's [rules.RULE_ID] tables (every
age threshold is `min_days`); see `rule_params` and each module's docstring.
Provider-native advice (AWS Cost Explorer rightsizing, rule ids in NATIVE_RULES) is written by the
provider's sync step with its own origin; the engine hides it (detail.duplicate_of) when one of
our rules found the same resource.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .. import purchase  # commitment purchase recommendations (rule "commitment_purchase")
from . import (
    idle_instance,
    k8s_abandoned,
    k8s_idle_capacity,
    k8s_overrequested,
    ml_failed_runs,
    ml_idle_endpoint,
    ml_idle_notebook,
    ml_spot_training,
    ml_underutilized_executor,
    obsolete_image,
    obsolete_snapshot,
    open_security_group,
    previous_generation,
    rightsizing,
    stopped_instance,
    unattached_volume,
    unused_ip,
)
from .common import RuleConfigError, Skipped, Thresholds, validate_params
from .model import STATUSES, Recommendation, load

RULES: dict[str, ModuleType] = {
    m.RULE_ID: m
    for m in (unattached_volume, obsolete_snapshot, obsolete_image, unused_ip, stopped_instance, idle_instance,
              rightsizing, previous_generation, open_security_group, purchase, k8s_abandoned,
              k8s_overrequested, k8s_idle_capacity, ml_idle_endpoint, ml_idle_notebook, ml_underutilized_executor,
              ml_spot_training, ml_failed_runs)
}

# Advice written by provider sync steps: rule id -> (the costdeck rule it corresponds to, where it comes from).
NATIVE_RULES: dict[str, tuple[str, str]] = {
    "aws_rightsizing": ("rightsizing", "AWS Cost Explorer rightsizing (MODIFY)"),
    "aws_idle_instance": ("idle_instance", "AWS Cost Explorer rightsizing (TERMINATE)"),
    "azure_advisor": ("advisor", "Azure Advisor cost recommendation"),
    "gcp_idle_instance": ("idle_instance", "Google Recommender: idle VM"),
    "gcp_rightsizing": ("rightsizing", "Google Recommender: machine type"),
    "gcp_idle_disk": ("unattached_volume", "Google Recommender: idle persistent disk"),
    "gcp_idle_address": ("unused_ip", "Google Recommender: idle IP address"),
    "gcp_idle_image": ("obsolete_image", "Google Recommender: idle image"),
}


def rule_title(rule: str) -> str:
    if rule in RULES:
        return str(RULES[rule].TITLE)
    if rule in NATIVE_RULES:
        return NATIVE_RULES[rule][1]
    return rule


def rule_doc(rule: str) -> str:
    mod = RULES.get(rule)
    return " ".join((mod.__doc__ or "").split()) if mod else ""


# [rules.*] tables that are not recommendation rules (validated by their own owners).
OTHER_TABLES = frozenset({"cleanup"})


def rule_params(rules_config: dict[str, dict[str, Any]] | None, where: str = "config") -> dict[str, Thresholds]:
    """Every rule's thresholds: defaults overridden by the config. Unknown rules or keys and wrong
    types raise RuleConfigError with one line."""
    rules_config = rules_config or {}
    for rid in rules_config:
        if rid not in RULES and rid not in OTHER_TABLES:
            known = ", ".join([*RULES, *sorted(OTHER_TABLES)])
            raise RuleConfigError(f"{where}: key rules.{rid}: unknown rule (known: {known})")
    return {rid: validate_params(rid, mod.Params, rules_config.get(rid), where) for rid, mod in RULES.items()}


def recompute(store: Any, config: Any, now: Any = None) -> Any:
    from .engine import recompute as _recompute

    return _recompute(store, config, now)


__all__ = ["NATIVE_RULES", "OTHER_TABLES", "RULES", "STATUSES", "Recommendation", "RuleConfigError", "Skipped", "Thresholds", "load",
           "recompute", "rule_doc", "rule_params", "rule_title"]
