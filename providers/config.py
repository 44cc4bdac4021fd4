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

Every error is ONE line naming the file, the key and what was expected; credentials are
refused outright (each provider uses its standard credential chain).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cache.money import to_nanos

from .errors import InputError
from .paths import default_config_path

# -- dataclasses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


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
class Config:
    path: Path | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    budgets: dict[str, BudgetConfig] = field(default_factory=dict)
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)
    read_only: bool = False
    exists: bool = False

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


# -- validation helpers ----------------------------------------------------------------------


class _Bad(Exception):
    """A validation failure at a key: (key path, what was expected, the value)."""

    def __init__(self, key: str, expected: str, value: Any = ..., *, plain: str | None = None) -> None:
        super().__init__(key)
        self.key, self.expected, self.value, self.plain = key, expected, value, plain

    def line(self, path: Path) -> str:
        if self.plain:
            return f"{path}: key {self.key}: {self.plain}"
        got = "" if self.value is ... else f", got {_show(self.value)}"
        return f"{path}: key {self.key}: expected {self.expected}{got}"


def _show(v: Any) -> str:
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, str):
        s = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(v, dict):
        s = "a table"
    elif isinstance(v, list):
        s = "[" + ", ".join(_show(x) for x in v[:5]) + (", ...]" if len(v) > 5 else "]")
    else:
        s = str(v)
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    return s if len(s) <= 80 else s[:77] + "..."


_SECRET_WORDS = ("secret", "password", "passwd", "token", "access_key", "accesskey", "api_key", "apikey",
                 "credential", "private_key", "client_secret")


def _looks_secret(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return any(w in k for w in _SECRET_WORDS)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _check_no_secrets(table: dict[str, Any], prefix: str) -> None:
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if k.endswith("_env") and isinstance(v, str) and _ENV_NAME.match(v):
            continue  # the NAME of an env var holding a secret (e.g. token_env), never the secret itself
        if _looks_secret(k):
            raise _Bad(key, "", plain="credentials are never kept in the config: use the provider's credential "
                       "chain (for AWS: a profile in ~/.aws/config, SSO, or environment variables)")
        if isinstance(v, dict):
            _check_no_secrets(v, key)


def _str(key: str, v: Any, what: str = "a string") -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad(key, what, v)
    return v.strip()


def _int(key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _Bad(key, f"a whole number from {lo} to {hi}", v)
    return v


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(key, "true or false", v)
    return v


def _str_list(key: str, v: Any, what: str = "a list of strings") -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise _Bad(key, what, v)
    return [x.strip() for x in v]


def _choice(key: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise _Bad(key, " or ".join(f'"{c}"' for c in choices), v)
    return str(v)


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_S3 = re.compile(r"^s3://[^\s/]+(/\S*)?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _regions(key: str, v: Any) -> list[str] | str:
    what = 'a list of region names or "all"'
    if v == "all":
        return "all"
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and _REGION.match(x) for x in v):
        raise _Bad(key, what, v)
    return list(dict.fromkeys(v))


def _match(key: str, v: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(v, str) or not pattern.match(v):
        raise _Bad(key, what, v)
    return v


def _ident(key: str, v: Any) -> str:
    if not isinstance(v, str) or not _IDENT.match(v):
        raise _Bad(key, "an SQL identifier (letters, digits, _)", v)
    return v


# -- per-kind option schemas --------------------------------------------------------------------

AWS_STEPS = ("costs", "inventory", "metrics", "commitments", "sagemaker", "prices", "rightsizing")

# option -> validator(key, value) -> normalized value
_AWS_OPTIONS: dict[str, Callable[[str, Any], Any]] = {
    "profile": lambda k, v: _str(k, v, "an AWS profile name"),
    "region": lambda k, v: _match(k, v, _REGION, 'a region name like "us-east-1"'),
    "regions": _regions,
    "cost_source": lambda k, v: _choice(k, v, ("cost-explorer", "athena")),
    "athena_database": _ident,
    "athena_table": _ident,
    "athena_workgroup": lambda k, v: _str(k, v, "an Athena workgroup name"),
    "athena_output_location": lambda k, v: _match(k, v, _S3, "an s3:// URL"),
    "athena_schema": lambda k, v: _choice(k, v, ("cur2", "focus")),
    "endpoint_url": lambda k, v: _match(k, v, _URL, "an http:// or https:// URL").rstrip("/"),
    "backfill_months": lambda k, v: _int(k, v, 1, 38),
    "refetch_days": lambda k, v: _int(k, v, 0, 62),
    "max_attempts": lambda k, v: _int(k, v, 1, 20),
    "steps": lambda k, v: _steps(k, v),
}
_AWS_DEFAULTS: dict[str, Any] = {
    "regions": "all",
    "cost_source": "cost-explorer",
    "athena_schema": "cur2",
    "backfill_months": 13,
    "refetch_days": 3,
}


def _steps(key: str, v: Any) -> list[str]:
    what = "a list of steps from " + ", ".join(f'"{s}"' for s in AWS_STEPS)
    if not isinstance(v, list) or not v or not all(s in AWS_STEPS for s in v):
        raise _Bad(key, what, v)
    return [s for s in AWS_STEPS if s in v]


def _aws(prefix: str, table: dict[str, Any]) -> dict[str, Any]:
    if "role_arn" in table:
        raise _Bad(f"{prefix}.role_arn", "", plain="assume a role through an AWS profile (role_arn and "
                   "source_profile in ~/.aws/config), then set profile = \"NAME\" here")
    opts = dict(_AWS_DEFAULTS)
    for k, v in table.items():
        if k == "kind":
            continue
        check = _AWS_OPTIONS.get(k)
        if check is None:
            raise _Bad(f"{prefix}.{k}", "", plain="unknown option for kind \"aws\" (known: "
                       + ", ".join(sorted(_AWS_OPTIONS)) + ")")
        opts[k] = check(f"{prefix}.{k}", v)
    if opts["cost_source"] == "athena":
        for need in ("athena_database", "athena_table"):
            if need not in opts:
                raise _Bad(f"{prefix}.{need}", "", plain='required when cost_source = "athena"')
        if "athena_output_location" not in opts and "athena_workgroup" not in opts:
            raise _Bad(f"{prefix}.athena_output_location", "",
                       plain='required when cost_source = "athena" (or name an athena_workgroup that has one)')
    return opts


_MLFLOW_OPTIONS: dict[str, Callable[[str, Any], Any]] = {
    "url": lambda k, v: _match(k, v, _URL, 'an http:// or https:// URL like "http://127.0.0.1:5000"').rstrip("/"),
    "token_env": lambda k, v: _match(k, v, _ENV_NAME, 'the NAME of an environment variable holding the token, '
                                     'like "MLFLOW_TRACKING_TOKEN"'),
    "experiments": lambda k, v: _str_list(k, v, "a list of experiment names or ids"),
    "max_runs": lambda k, v: _int(k, v, 1, 1_000_000),
    "history_points": lambda k, v: _int(k, v, 0, 100_000),
    "max_attempts": lambda k, v: _int(k, v, 1, 20),
    "timeout_s": lambda k, v: _int(k, v, 1, 600),
}


def _mlflow(prefix: str, table: dict[str, Any]) -> dict[str, Any]:
    """[sources.NAME] kind = "mlflow": url (required), token_env, experiments, max_runs, history_points."""
    if "token" in table:
        raise _Bad(f"{prefix}.token", "", plain="credentials are never kept in the config: put the token in an "
                   "environment variable and set token_env = \"ITS_NAME\"")
    opts: dict[str, Any] = {}
    for k, v in table.items():
        if k == "kind":
            continue
        check = _MLFLOW_OPTIONS.get(k)
        if check is None:
            raise _Bad(f"{prefix}.{k}", "", plain="unknown option for kind \"mlflow\" (known: "
                       + ", ".join(sorted(_MLFLOW_OPTIONS)) + ")")
        opts[k] = check(f"{prefix}.{k}", v)
    if "url" not in opts:
        raise _Bad(f"{prefix}.url", "", plain='missing (the tracking server, e.g. url = "http://127.0.0.1:5000")')
    return opts


# kind -> option validator. Other providers register theirs here.
KINDS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {"aws": _aws, "mlflow": _mlflow}


# -- loading ---------------------------------------------------------------------------------------

_TOP = ("sources", "rules", "budgets", "protection", "read_only")


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
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from exc
    try:
        return _parse(p, data)
    except _Bad as bad:
        raise InputError(bad.line(p)) from None


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Validate an already-parsed TOML document (for tests and tools)."""
    p = path or Path("<config>")
    try:
        return _parse(p, data)
    except _Bad as bad:
        raise InputError(bad.line(p)) from None


def _table(key: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(key, "a table", v)
    return v


def _parse(p: Path, data: dict[str, Any]) -> Config:
    _check_no_secrets(data, "")
    for k in data:
        if k not in _TOP:
            raise _Bad(k, "", plain="unknown key (known: " + ", ".join(_TOP) + ")")
    sources: dict[str, SourceConfig] = {}
    for name, table in _table("sources", data.get("sources", {})).items():
        key = f"sources.{name}"
        if not _NAME.match(name):
            raise _Bad(key, "", plain="a source name is letters, digits, '_', '.' or '-' (up to 64)")
        table = _table(key, table)
        if "kind" not in table:
            raise _Bad(f"{key}.kind", "", plain="missing (known kinds: " + ", ".join(sorted(KINDS)) + ")")
        kind = table["kind"]
        if kind not in KINDS:
            raise _Bad(f"{key}.kind", "one of " + ", ".join(f'"{k}"' for k in sorted(KINDS)), kind)
        sources[name] = SourceConfig(name=name, kind=kind, options=KINDS[kind](key, table))

    rules: dict[str, dict[str, Any]] = {}
    for rid, table in _table("rules", data.get("rules", {})).items():
        rules[rid] = dict(_table(f"rules.{rid}", table))

    budgets: dict[str, BudgetConfig] = {}
    for name, table in _table("budgets", data.get("budgets", {})).items():
        budgets[name] = _budget(f"budgets.{name}", name, _table(f"budgets.{name}", table))

    prot = _table("protection", data.get("protection", {}))
    for k in prot:
        if k not in ("tags", "resource_ids"):
            raise _Bad(f"protection.{k}", "", plain="unknown key (known: tags, resource_ids)")
    protection = ProtectionConfig(
        tags=_str_list("protection.tags", prot["tags"], "a list of tag keys or key=value")
        if "tags" in prot else ["costdeck:protect"],
        resource_ids=_str_list("protection.resource_ids", prot.get("resource_ids", []), "a list of resource ids"),
    )
    read_only = _bool("read_only", data["read_only"]) if "read_only" in data else False
    return Config(path=p, sources=sources, rules=rules, budgets=budgets, protection=protection,
                  read_only=read_only, exists=True)


_BUDGET_KEYS = ("amount", "currency", "period", "filter")


def _budget(key: str, name: str, t: dict[str, Any]) -> BudgetConfig:
    for k in t:
        if k not in _BUDGET_KEYS:
            raise _Bad(f"{key}.{k}", "", plain="unknown key (known: " + ", ".join(_BUDGET_KEYS) + ")")
    if "amount" not in t:
        raise _Bad(f"{key}.amount", "", plain="missing (a positive amount, e.g. 1200 or \"1200.50\")")
    raw = t["amount"]
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidOperation
        amount = Decimal(str(raw))
        if not amount.is_finite() or amount <= 0:
            raise InvalidOperation
    except InvalidOperation:
        raise _Bad(f"{key}.amount", "a positive amount", raw) from None
    currency = t.get("currency", "USD")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise _Bad(f"{key}.currency", "a 3-letter currency code like \"USD\"", currency)
    period = _choice(f"{key}.period", t.get("period", "month"), ("month", "quarter", "year"))
    flt = _table(f"{key}.filter", t.get("filter", {}))
    for fk, fv in flt.items():
        if not (isinstance(fv, str) or (isinstance(fv, list) and all(isinstance(x, str) for x in fv))):
            raise _Bad(f"{key}.filter.{fk}", "a string or a list of strings", fv)
    return BudgetConfig(name=name, amount_nanos=to_nanos(amount), currency=currency, period=period,
                        filter=dict(flt))


__all__ = ["AWS_STEPS", "KINDS", "BudgetConfig", "Config", "ProtectionConfig", "SourceConfig", "load_config",
           "parse_config"]
