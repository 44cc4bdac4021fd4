"""costdeck's configuration: one TOML file (platform config dir, or --config).

    read_only = false

    [sources.prod]
    kind = "aws"
    profile = "prod-readonly"          # SSO / assume-role live in ~/.aws/config, never here
    regions = ["us-east-1", "eu-west-1"]   # or "all" (every enabled region; the default)
    cost_source = "cost-explorer"       # or "athena" (CUR 2.0 / FOCUS export), see below
    backfill_months = 13                # first sync; later syncs are incremental
    refetch_days = 3                    # late-arriving charges
    # region = "us-east-1"             # default region (Athena, STS); else the profile's
    # steps = ["costs", "inventory"]    # a subset of costs, inventory, metrics, commitments,
    #                                   # sagemaker, prices, rightsizing (default: all)
    # max_attempts = 5                  # per request, throttling/5xx retries included
    # endpoint_url = "http://127.0.0.1:5000"   # an emulator
    # athena_database = "cur"  athena_table = "cur2"  athena_workgroup = "primary"
    # athena_output_location = "s3://bucket/prefix/"  athena_schema = "cur2" | "focus"

    [rules.idle_instance]
    min_days = 14

    [budgets.platform]
    amount = 12000
    currency = "USD"
    filter = { sub_account_id = "123456789012" }

    [protection]
    tags = ["costdeck:protect"]
    resource_ids = ["i-0abc"]

    [anomalies]
    min_impact = 50                     # money per day below which a move is not an anomaly
    tags = ["team"]                     # also watch the daily spend of each value of these tag keys

    [notify]
    webhook = "https://hooks.slack.com/services/..."   # `costdeck check` posts new findings here
    min_saving = 100                    # new recommendations saving at least this per month

Every table is a typed model (providers/options.py): `[sources.NAME]` by its kind's `Options`
(the kinds come from providers/registry.py), `[budgets.*]` and `[protection]` below, `[rules.*]` by
each rule's thresholds model (analysis/recommendations). Every error is ONE line naming the file,
the key and what was expected; credentials are refused outright (each provider uses its standard
credential chain).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from cache.money import to_nanos

from . import nesting, registry
from .errors import InputError
from .options import Bad, ConfigError, Model, convert, show
from .paths import default_config_path

# -- the loaded config -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    options: Model = field(default_factory=Model)


@dataclass(frozen=True)
class BudgetConfig:
    name: str
    amount_nanos: int
    currency: str = "USD"
    period: str = "month"
    filter: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtectionConfig:
    tags: list[str] = field(default_factory=lambda: ["costdeck:protect"])
    resource_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnomalyConfig:
    min_impact: float = 50.0
    min_relative: float = 0.2
    z_score: float = 4.0
    lookback_days: int = 60
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifyConfig:
    webhook: str | None = None
    min_saving_nanos: int = 100 * 1_000_000_000


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    budgets: dict[str, BudgetConfig] = field(default_factory=dict)
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)
    read_only: bool = False
    exists: bool = False
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    def select(self, names: list[str] | None) -> list[SourceConfig]:
        """The named sources (all when names is empty/None); unknown names -> InputError."""
        if not names:
            return list(self.sources.values())
        unknown = [n for n in names if n not in self.sources]
        if unknown:
            known = ", ".join(sorted(self.sources)) or "none configured"
            where = f"{self.path}: " if self.path else ""
            raise InputError(f"{where}unknown source {', '.join(map(repr, unknown))} (configured: {known})")
        seen: dict[str, SourceConfig] = {}
        for n in names:
            seen.setdefault(n, self.sources[n])
        return list(seen.values())


# -- the file's models ---------------------------------------------------------------------------------

# Filterable dimensions of a budget (the cost table's columns), plus tag:KEY.
BUDGET_DIMENSIONS = ("provider_name", "billing_account_id", "sub_account_id", "service_name", "service_category",
                     "region_id", "resource_type", "resource_id",
                     "task")  # an ML task: its runs' spend (analysis/mlprofile.py task_budgets)

Amount = Annotated[int | float | str, Meta(extra={"expected": "a positive amount"},
                                           description="a positive amount, e.g. 1200 or \"1200.50\"")]


MAX_BUDGET = 9_000_000_000  # the cache sums amounts as 64-bit nano-units (about ±9.2e9 units)


class BudgetModel(Model):
    amount: Amount
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$", extra={"expected": 'a 3-letter currency code like "USD"'},
                                  description="the budget's currency")] = "USD"
    period: Literal["month", "quarter", "year"] = "month"
    filter: Annotated[dict[str, str | list[str]], Meta(description="dimension = value or [values] (tag:KEY too)")] \
        = {}

    def check(self) -> None:
        try:
            if isinstance(self.amount, bool):
                raise InvalidOperation
            amount = Decimal(str(self.amount))
            if not amount.is_finite() or amount <= 0:
                raise InvalidOperation
        except InvalidOperation:
            raise Bad("amount", f"expected a positive amount, got {show(self.amount)}") from None
        if amount < Decimal("1e-9") or amount > MAX_BUDGET:
            raise Bad("amount", f"expected a positive amount from 0.000000001 up to {MAX_BUDGET:,}, "
                      f"got {show(self.amount)}")
        for dim in self.filter:
            if dim not in BUDGET_DIMENSIONS and not (dim.startswith("tag:") and len(dim) > 4):
                raise Bad(f"filter.{dim}", "unknown dimension (known: " + ", ".join(BUDGET_DIMENSIONS) + ", tag:KEY)")


class ProtectionModel(Model):
    def check(self) -> None:
        for field_name, values in (("tags", self.tags), ("resource_ids", self.resource_ids)):
            for v in values:
                if not v.strip() or not v.partition("=")[0].strip():
                    raise Bad(field_name, f"expected no blank entries, got {show(v)}")

    tags: Annotated[list[Annotated[str, Meta(min_length=1)]],
                    Meta(extra={"expected": "a list of tag keys or key=value"},
                         description="resources carrying one of these tags (key, or key=value) are never acted on")] \
        = msgspec.field(default_factory=lambda: ["costdeck:protect"])
    resource_ids: Annotated[list[Annotated[str, Meta(min_length=1)]],
                            Meta(extra={"expected": "a list of resource ids"},
                                 description="resources never acted on")] = []


class AnomaliesModel(Model):
    min_impact: Annotated[float, Meta(ge=0, description="money per day below which a move is no anomaly")] = 50.0
    min_relative: Annotated[float, Meta(ge=0, description="share of the expected spend below which a move is "
                                                          "no anomaly")] = 0.2
    z_score: Annotated[float, Meta(gt=0, description="robust z-score of a one-day anomaly")] = 4.0
    lookback_days: Annotated[int, Meta(ge=7, le=400, description="anomalies are looked for in the last N days")] = 60
    tags: Annotated[list[Annotated[str, Meta(min_length=1)]],
                    Meta(description="tag keys whose values get their own daily series")] = []


class NotifyModel(Model):
    webhook: Annotated[str, Meta(pattern=r"^https?://[^\s]+$", extra={"expected": "an http(s) URL"},
                                 description="Slack-compatible incoming webhook for `costdeck check`")] | None = None
    min_saving: Amount = 100

    def check(self) -> None:
        try:
            if isinstance(self.min_saving, bool) or Decimal(str(self.min_saving)) < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise Bad("min_saving", f"expected an amount >= 0, got {show(self.min_saving)}") from None


class ConfigModel(Model):
    """The whole file. Sources are validated by their kind's options model, rules by analysis."""

    sources: dict[str, dict[str, Any]] = {}
    rules: dict[str, dict[str, Any]] = {}
    budgets: dict[str, BudgetModel] = {}
    protection: ProtectionModel = msgspec.field(default_factory=ProtectionModel)
    anomalies: AnomaliesModel = msgspec.field(default_factory=AnomaliesModel)
    notify: NotifyModel = msgspec.field(default_factory=NotifyModel)
    read_only: Annotated[bool, Meta(description="never change a cloud resource (no cleanup key, plan or script)")] \
        = False


# -- credentials are never in the config -------------------------------------------------------------

_SECRET_WORDS = ("secret", "password", "passwd", "token", "access_key", "accesskey", "api_key", "apikey",
                 "credential", "private_key", "client_secret")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")  # upper case: a pasted token is not taken for a name


def _looks_secret(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return any(w in k for w in _SECRET_WORDS)


def _check_no_secrets(table: dict[str, Any], prefix: str) -> None:
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if k.endswith("_env") and isinstance(v, str) and _ENV_NAME.match(v):
            continue  # the NAME of an env var holding a secret (e.g. token_env), never the secret itself
        if _looks_secret(k):
            raise ConfigError(key, "credentials are never kept in the config: use the provider's credential "
                              "chain (for AWS: a profile in ~/.aws/config, SSO, or environment variables)")
        if isinstance(v, dict):
            _check_no_secrets(v, key)


# -- loading ---------------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def load_config(path: Path | None = None) -> Config:
    """Load and validate the config. `path` None -> the default location (missing = empty)."""
    explicit = path is not None
    p = Path(path).expanduser() if path is not None else default_config_path()
    if not p.exists():
        if explicit:
            raise InputError(f"{p}: config file not found")
        return Config(path=p, exists=False)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the config ({getattr(exc, 'strerror', None) or exc})") from exc
    try:
        data = nesting.check(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from exc
    except (RecursionError, nesting.TooDeep):
        raise InputError(f"{p}: not valid TOML (values {nesting.TooDeep()})") from None
    return parse_config(data, p)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Validate an already-parsed TOML document (for tests and tools)."""
    p = path or Path("<config>")
    try:
        return _parse(p, data)
    except ConfigError as err:
        raise err.at(p) from None


def _parse(p: Path, data: dict[str, Any]) -> Config:
    _check_no_secrets(data, "")
    top = convert(data, ConfigModel, "")
    sources = {name: parse_source(name, table) for name, table in top.sources.items()}
    budgets = {
        name: BudgetConfig(name=name, amount_nanos=to_nanos(Decimal(str(b.amount))), currency=b.currency,
                           period=b.period, filter=dict(b.filter))
        for name, b in top.budgets.items()
    }
    protection = ProtectionConfig(tags=[_tag_spec(t) for t in top.protection.tags],
                                  resource_ids=[r.strip() for r in top.protection.resource_ids])
    a = top.anomalies
    anomalies = AnomalyConfig(min_impact=a.min_impact, min_relative=a.min_relative, z_score=a.z_score,
                              lookback_days=a.lookback_days, tags=tuple(t.strip() for t in a.tags))
    notify = NotifyConfig(webhook=top.notify.webhook,
                          min_saving_nanos=to_nanos(Decimal(str(top.notify.min_saving))))
    return Config(path=p, sources=sources, rules={k: dict(v) for k, v in top.rules.items()}, budgets=budgets,
                  protection=protection, read_only=top.read_only, exists=True, anomalies=anomalies, notify=notify)


def _tag_spec(spec: str) -> str:
    """A protection tag "key" or "key=value", blanks around the key, the = and the value dropped."""
    key, eq, value = spec.partition("=")
    return f"{key.strip()}={value.strip()}" if eq else key.strip()


def parse_source(name: str, table: dict[str, Any]) -> SourceConfig:
    """One [sources.NAME] table: its kind from the registry, its options through the kind's model."""
    key = f"sources.{name}"
    if not _NAME.match(name):
        raise ConfigError(key, "a source name is letters, digits, '_', '.' or '-' (up to 64)")
    if "kind" not in table:
        raise ConfigError(f"{key}.kind", "missing (known kinds: " + ", ".join(registry.configurable()) + ")")
    kind = table["kind"]
    choices = registry.configurable()
    if isinstance(kind, str) and kind not in choices and kind in registry.kinds():
        raise ConfigError(f"{key}.kind", str(registry.not_synced(kind)) + " (kinds you can configure: "
                          + ", ".join(choices) + ")")
    if not isinstance(kind, str) or kind not in choices:
        raise ConfigError(f"{key}.kind", "expected one of " + ", ".join(f'"{k}"' for k in choices)
                          + f", got {show(kind)}")
    try:
        cls = registry.get(kind)
    except registry.UnknownKind as exc:
        raise ConfigError(f"{key}.kind", str(exc)) from None
    rest = {k: v for k, v in table.items() if k != "kind"}
    options = convert(rest, cls.Options, key, unknown=f'unknown option for kind "{kind}"')
    return SourceConfig(name=name, kind=kind, options=options)


__all__ = ["BUDGET_DIMENSIONS", "AnomalyConfig", "BudgetConfig", "NotifyConfig", "Config", "ConfigError", "ProtectionConfig", "SourceConfig",
           "load_config", "parse_config", "parse_source"]
