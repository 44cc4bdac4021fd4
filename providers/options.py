"""Typed configuration: one model per adapter's options and per rule's thresholds (msgspec Structs).

A model is a `Model` subclass whose fields carry their type, bounds and meaning:

    class Options(CostOptions):          # providers.base.CostOptions: backfill_months, refetch_days
        regions: Annotated[list[Region] | Literal["all"], Meta(description="...")] = "all"
        max_attempts: Annotated[int, Meta(ge=1, le=20, description="...")] = 5

`convert(table, Model, key="sources.prod")` validates one TOML table and returns the model, or
raises `ConfigError` with ONE line naming the key and what was expected ("key sources.prod.regions:
expected a list of region names or "all", got 5"). The expected text is generated from the field's
type and bounds (`expected(...)`), unless the field's Meta sets `extra={"expected": "..."}`. A
model checks what spans several fields in `check()` (raise `Bad(field, message)`) and may tidy
values in `normalized()` (strip, de-duplicate, sort).

`describe(Model)` lists the fields (name, type, default, meaning): `costdeck sources --kinds` and
`costdeck report rules` are generated from it, so the documentation cannot drift from the checks.

Why msgspec and not pydantic v2: both validate typed models with constraints and paths; msgspec
imports in about 40 ms against pydantic's 250 ms on this machine, and every `costdeck` command
validates the whole config before it does anything (the scripted commands must start fast).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import msgspec
import msgspec.inspect as mi

from cache.text import clean

from .errors import InputError

M = TypeVar("M", bound="Model")


class _KwOnly(msgspec.StructMeta):
    """Every model's fields are keyword-only, subclasses' too (msgspec applies `kw_only` per class
    otherwise), so a plug-in's required option may follow the inherited ones with defaults."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any) -> _KwOnly:
        kw.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, ns, **kw)


class Model(msgspec.Struct, metaclass=_KwOnly, kw_only=True, forbid_unknown_fields=True):
    """Base of every typed config table. Unknown keys are refused.

    refused: keys refused with a message of their own (e.g. `role_arn`: how to do it instead);
    sorted_keys: list the known keys sorted (long option lists) rather than in declaration order.
    """

    refused: ClassVar[dict[str, str]] = {}
    sorted_keys: ClassVar[bool] = False

    def check(self) -> None:
        """Rules over several fields; raise Bad(field, message)."""

    def normalized(self: M) -> M:
        """The model with tidied values (default: as is)."""
        return self

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (what the cache stores as the source's options)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


class Bad(Exception):
    """A check failed at a field: `plain` is the whole message after the key."""

    def __init__(self, field: str, plain: str) -> None:
        super().__init__(f"{field}: {plain}")
        self.field, self.plain = field, plain


class ConfigError(InputError):
    """A bad config value: one line naming the key and what was expected (exit 2).

    `key` and `message` are kept apart so a caller can prefix the file name."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"key {key}: {message}")
        self.key, self.message = key, message

    def at(self, where: object) -> ConfigError:
        """The same error with the file (or other origin) in front."""
        err = ConfigError(self.key, self.message)
        err.args = (f"{where}: key {self.key}: {self.message}",)
        return err


# -- showing values ----------------------------------------------------------------------------------


def show(v: Any) -> str:
    """A config value as the user wrote it (TOML-ish), one line, printable, at most 80 characters."""
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, str):
        s = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(v, dict):
        s = "a table"
    elif isinstance(v, list):
        s = "[" + ", ".join(show(x) for x in v[:5]) + (", ...]" if len(v) > 5 else "]")
    else:
        s = str(v)
    return clean(s, 80)


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else str(v)


# -- what a type expects ------------------------------------------------------------------------------


def _unwrap(t: mi.Type) -> tuple[mi.Type, dict[str, Any], dict[str, Any]]:
    """(the inner type, extra, json-schema extra) of a possibly Meta-annotated type."""
    extra: dict[str, Any] = {}
    schema: dict[str, Any] = {}
    while isinstance(t, mi.Metadata):
        extra = {**(t.extra or {}), **extra}
        schema = {**(t.extra_json_schema or {}), **schema}
        t = t.type
    return t, extra, schema


def _schema(t: mi.Type) -> dict[str, Any]:
    """The json-schema extras (description) of a type, or of the first member of an optional one."""
    schema = _unwrap(t)[2]
    inner = _unwrap(t)[0]
    if not schema and isinstance(inner, mi.UnionType):
        for x in inner.types:
            if _unwrap(x)[2]:
                return _unwrap(x)[2]
    return schema


def _bounds(t: mi.IntType | mi.FloatType) -> tuple[float | None, float | None]:
    """(lowest, highest) a number may be (inclusive or not: the words do not say)."""
    return (t.ge if t.ge is not None else t.gt), (t.le if t.le is not None else t.lt)


def expected(t: mi.Type) -> str:
    """What a value of this type must be, in words ("a whole number from 1 to 38")."""
    inner, extra, _ = _unwrap(t)
    if "expected" in extra:
        return str(extra["expected"])
    if isinstance(inner, mi.BoolType):
        return "true or false"
    if isinstance(inner, mi.IntType | mi.FloatType):
        what = "a whole number" if isinstance(inner, mi.IntType) else "a number"
        lo, hi = _bounds(inner)
        if lo is not None and hi is not None:
            return f"{what} from {_num(lo)} to {_num(hi)}"
        if lo is not None:
            return f"{what} >= {_num(lo)}"
        if hi is not None:
            return f"{what} <= {_num(hi)}"
        return what
    if isinstance(inner, mi.StrType):
        return "a string"
    if isinstance(inner, mi.LiteralType):
        return " or ".join(show(v) for v in inner.values)
    if isinstance(inner, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        item = expected(inner.item_type)
        return "a list of " + (item[2:] + "s" if item.startswith("a ") else item)
    if isinstance(inner, mi.DictType):
        return "a table"
    if isinstance(inner, mi.StructType):
        return "a table"
    if isinstance(inner, mi.UnionType):
        return " or ".join(expected(x) for x in inner.types if not isinstance(x, mi.NoneType))
    return "a valid value"


def type_name(t: mi.Type) -> str:
    """A short type label for listings: int 1..38, float 0..100, str, bool, list[str], "a" | "b"."""
    inner, extra, _ = _unwrap(t)
    if "type" in extra:
        return str(extra["type"])
    if isinstance(inner, mi.BoolType):
        return "bool"
    if isinstance(inner, mi.IntType | mi.FloatType):
        name = "int" if isinstance(inner, mi.IntType) else "float"
        lo, hi = _bounds(inner)
        if lo is not None or hi is not None:
            return f"{name} {_num(lo)}..{_num(hi)}"
        return name
    if isinstance(inner, mi.StrType):
        return "str"
    if isinstance(inner, mi.LiteralType):
        return " | ".join(f'"{v}"' for v in inner.values)
    if isinstance(inner, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return f"list[{type_name(inner.item_type)}]"
    if isinstance(inner, mi.DictType):
        return f"table[{type_name(inner.value_type)}]"
    if isinstance(inner, mi.UnionType):
        return " | ".join(type_name(x) for x in inner.types if not isinstance(x, mi.NoneType))
    if isinstance(inner, mi.StructType):
        return "table"
    return "value"


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One option or threshold, for listings."""

    name: str
    type: str
    default: Any  # the default value, or None when required / no default
    required: bool
    description: str
    expected: str


def fields(model: type[Model]) -> dict[str, mi.Field]:
    info = mi.type_info(model)
    assert isinstance(info, mi.StructType)
    return {f.name: f for f in info.fields}


def describe(model: type[Model]) -> list[FieldDoc]:
    """The model's fields in declaration order, with type, default and meaning."""
    out = []
    hints = get_type_hints(model, include_extras=True)
    for f in fields(model).values():
        schema = _schema(f.type)
        bare = _bare(hints[f.name])
        literal = get_origin(bare) is Literal
        if f.default is not msgspec.NODEFAULT:
            default = f.default
        elif f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        else:
            default = None
        if literal:
            tname = " | ".join(f'"{v}"' for v in get_args(bare))
        elif get_origin(bare) is list and get_origin(_bare(get_args(bare)[0])) is Literal:
            tname = "list[" + " | ".join(f'"{v}"' for v in get_args(_bare(get_args(bare)[0]))) + "]"
        else:
            tname = type_name(f.type)
        out.append(FieldDoc(name=f.name, type=tname, default=default, required=f.required,
                            description=str(schema.get("description", "")), expected=_expected_py(hints[f.name])))
    return out


def defaults(model: type[Model]) -> dict[str, Any]:
    return {d.name: d.default for d in describe(model) if not d.required}


# -- converting ---------------------------------------------------------------------------------------

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`")
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+|\.\.\.)\]")


def _walk(path: str) -> Iterator[str | int | None]:
    """The steps of a msgspec error path: field names, list indexes, None for "some dict key"."""
    for m in _STEP.finditer(path):
        if m.group(1) is not None:
            yield m.group(1)
        elif m.group(2) == "...":
            yield None
        else:
            yield int(m.group(2))


def convert(table: Mapping[str, Any], model: type[M], key: str, *, unknown: str = "unknown key") -> M:
    """Validate one config table against `model`; ConfigError (one line) on the first problem.

    key: the table's key in the file ("sources.prod"); unknown: the words for an unknown key
    (followed by the known ones), e.g. 'unknown option for kind "aws"'.
    """
    prefix = f"{key}." if key else ""
    for k, why in model.refused.items():
        if k in table:
            raise ConfigError(prefix + k, why)
    try:
        obj = msgspec.convert(dict(table), model, strict=True)
    except msgspec.ValidationError as exc:
        raise _explain(str(exc), table, model, key, unknown, model) from None
    _check_tree(obj, prefix)
    try:
        return obj.normalized()
    except Bad as bad:
        raise ConfigError(prefix + bad.field, bad.plain) from None


CREDENTIALS_REFUSED = ("credentials are never kept in the config: use the provider's credential chain, or "
                       "token_env naming an environment variable")


def no_userinfo(field: str, url: str | None) -> None:
    """Bad when a URL carries user:password@ (it would be stored in the cache and shown in errors)."""
    if url and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
        raise Bad(field, CREDENTIALS_REFUSED + " (user:password@ in the URL)")


def _check_tree(obj: Model, prefix: str) -> None:
    """Run check() on the nested models (tables of tables), then on this one."""
    for name in obj.__struct_fields__:
        v = getattr(obj, name)
        if isinstance(v, Model):
            _check_tree(v, f"{prefix}{name}.")
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, Model):
                    _check_tree(x, f"{prefix}{name}.{k}.")
    try:
        obj.check()
    except Bad as bad:
        raise ConfigError(prefix + bad.field, bad.plain) from None


def _bare(tp: Any) -> Any:
    """The type without Annotated[...] and without `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def _explain(text: str, value: Any, tp: Any, key: str, unknown: str, top: type[Model]) -> ConfigError:
    """Turn msgspec's error (which names no dict key) into our line: follow the path through models
    and tables; at a table of tables, find the entry at fault by converting each one."""
    m = _PATH.search(text)
    head = _PATH.sub("", text)
    names: list[str] = []
    for step in _walk(m.group("path")) if m else []:
        bare = _bare(tp)
        if isinstance(step, str) and isinstance(bare, type) and issubclass(bare, msgspec.Struct):
            hints = get_type_hints(bare, include_extras=True)
            if step not in hints:
                break
            tp = hints[step]
        elif step is None and get_origin(bare) is dict and isinstance(value, Mapping):
            item_type = get_args(bare)[1]
            here = ".".join([key, *names]) if key else ".".join(names)
            for k, v in value.items():
                try:
                    msgspec.convert(v, item_type, strict=True)
                except msgspec.ValidationError as exc:
                    return _explain(str(exc), v, item_type, f"{here}.{k}" if here else str(k), "unknown key", top)
            break
        else:
            break  # an item of a list: the list is named
        names.append(step)
        value = value.get(step) if isinstance(value, Mapping) else None
    full = ".".join([key, *names]) if key else ".".join(names)
    bare = _bare(tp)
    um, mm = _UNKNOWN.match(head), _MISSING.match(head)
    if (um or mm) and isinstance(bare, type) and issubclass(bare, Model):
        at = f"{full}." if full else ""
        if um:
            keys = list(fields(bare))
            known = ", ".join(sorted(keys) if bare.sorted_keys else keys) or "none"
            return ConfigError(at + um.group("name"), f"{unknown if bare is top else 'unknown key'} (known: {known})")
        assert mm is not None
        f = fields(bare)[mm.group("name")]
        hint = _schema(f.type).get("description") or expected(f.type)
        return ConfigError(at + mm.group("name"), f"missing ({hint})")
    return ConfigError(full or "(top)", f"expected {_expected_py(tp)}, got {show(value)}")


def _expected_py(tp: Any) -> str:
    """expected() from a Python annotation, keeping a Literal's values in their written order."""
    info = mi.type_info(tp)
    if "expected" in _unwrap(info)[1]:
        return expected(info)
    bare = _bare(tp)
    if get_origin(bare) is Literal:
        return " or ".join(show(v) for v in get_args(bare))
    return expected(info)


__all__ = [
    "CREDENTIALS_REFUSED",
    "Bad",
    "ConfigError",
    "FieldDoc",
    "Model",
    "convert",
    "defaults",
    "describe",
    "expected",
    "fields",
    "no_userinfo",
    "show",
    "type_name",
]
