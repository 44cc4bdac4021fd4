"""The kinds of source: every `Adapter` registered in the entry-point group `costdeck.adapters`.

    [project.entry-points."costdeck.adapters"]
    aws = "providers.aws.adapter:AwsAdapter"

The entry point's name is the kind (it must equal the class's `kind`). costdeck's own kinds are
registered that way in its pyproject.toml, and a third-party package adds a kind by declaring one
in its own metadata: nothing in costdeck changes. Config validation, `costdeck sources`, sync,
cleanup and script export all look kinds up here; no module outside an adapter names one.

Entry points are listed once per process (cheap) and a kind's module is imported only when that
kind is used. A kind that fails to import is reported with one line when it is used (and in
`costdeck sources --kinds`); the other kinds keep working.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .base import Adapter
from .errors import InputError

GROUP = "costdeck.adapters"


class UnknownKind(InputError):
    """No adapter is registered for a kind (or it failed to load): one line, exit 2."""


@dataclass(frozen=True, slots=True)
class KindEntry:
    kind: str
    target: str  # "module:Class"
    distribution: str  # the package that registered it


_lock = threading.Lock()
_entries: dict[str, KindEntry] | None = None
_loaded: dict[str, type[Adapter]] = {}
_broken: dict[str, str] = {}
_shadowed: dict[str, list[KindEntry]] = {}
OWN = "costdeck"


def _discover() -> dict[str, KindEntry]:
    global _entries
    with _lock:
        if _entries is None:
            from importlib.metadata import entry_points  # here: ~60 ms, only when a kind is looked up

            found: dict[str, KindEntry] = {}
            _shadowed.clear()
            for ep in entry_points(group=GROUP):
                entry = KindEntry(ep.name, ep.value, _dist_name(ep))
                held = found.get(ep.name)
                if held is None:
                    found[ep.name] = entry
                    continue
                # a kind registered twice: costdeck's own wins (a plug-in never replaces a built-in
                # kind silently), else the first found; the other is listed by `sources --kinds`
                if entry.distribution == OWN and held.distribution != OWN:
                    found[ep.name], entry = entry, held
                _shadowed.setdefault(ep.name, []).append(entry)
            _entries = dict(sorted(found.items()))
        return _entries


def _dist_name(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return str(getattr(dist, "name", "") or "")


def refresh() -> None:
    """Forget what was discovered (after installing a package in the same process; tests)."""
    global _entries
    with _lock:
        _entries = None
        _loaded.clear()
        _broken.clear()
        _shadowed.clear()


def shadowed() -> dict[str, list[KindEntry]]:
    """Registrations that lost to another one of the same kind name (kind -> the ignored entries)."""
    _discover()
    return {k: list(v) for k, v in _shadowed.items()}


def kinds() -> list[str]:
    """Every registered kind, sorted (loaded or not)."""
    return list(_discover())


def entries() -> dict[str, KindEntry]:
    return dict(_discover())


def get(kind: str) -> type[Adapter]:
    """The adapter class of a kind; UnknownKind (one line) when none is registered or it is broken."""
    if kind in _loaded:
        return _loaded[kind]
    entry = _discover().get(kind)
    if entry is None:
        known = ", ".join(kinds()) or "none (is costdeck installed? pip install -e .)"
        raise UnknownKind(f"no adapter for source kind {kind!r} (registered kinds: {known})")
    if kind in _broken:
        raise UnknownKind(_broken[kind])
    from importlib.metadata import EntryPoint

    try:
        cls = EntryPoint(entry.kind, entry.target, GROUP).load()
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"{entry.target} is not a providers.base.Adapter subclass")
        if getattr(cls, "kind", None) != kind:
            raise TypeError(f"{entry.target}.kind is {getattr(cls, 'kind', None)!r}, registered as {kind!r}")
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break the other kinds
        msg = " ".join(str(exc).split()) or type(exc).__name__
        _broken[kind] = f"the adapter for kind {kind!r} ({entry.target}) cannot be loaded: {msg}"
        raise UnknownKind(_broken[kind]) from None
    _loaded[kind] = cls
    return cls


def configurable() -> list[str]:
    """Kinds a `[sources.NAME]` table may name (those that sync), sorted. Loads every kind."""
    out = []
    for k in kinds():
        try:
            if get(k).configurable:
                out.append(k)
        except UnknownKind:
            out.append(k)  # named so that its load error is shown when a source uses it
    return out


def cleanup_providers() -> list[str]:
    """The provider names (FOCUS ProviderName) that some kind's cleanup executor acts on."""
    out: list[str] = []
    for k in kinds():
        try:
            out.extend(p for p in get(k).cleanup_providers if p not in out)
        except UnknownKind:
            continue
    return out


def demo_kind() -> str | None:
    """The kind that fills the demo cache (its executor simulates cleanup), if one is registered."""
    for k in kinds():
        try:
            if get(k).demo:
                return k
        except UnknownKind:
            continue
    return None


def live_run_kinds() -> list[str]:
    """Kinds whose running ML runs are timed to the wall clock (recorded live on this machine)."""
    out = []
    for k in kinds():
        try:
            if get(k).live_runs:
                out.append(k)
        except UnknownKind:
            continue
    return out


def not_synced(kind: str) -> str | None:
    """Why a source of this kind is not synced (the command that fills it), or None when it syncs."""
    try:
        cls = get(kind)
    except UnknownKind as exc:
        return str(exc)
    if cls.configurable:
        return None
    return f"{kind} sources are filled by `{cls.filled_by}`, not synced" if cls.filled_by else \
        f"{kind} sources are not synced"


def script_providers() -> list[str]:
    """The provider names whose cleanup plans some kind can export as a script."""
    out: list[str] = []
    for k in script_kinds():
        ex = get(k).script_exporter()
        if ex is not None and ex.provider_name and ex.provider_name not in out:
            out.append(ex.provider_name)
    return out


def script_kinds() -> list[str]:
    """Kinds whose cleanup plans can be exported as a shell script."""
    out = []
    for k in kinds():
        try:
            if get(k).script_exporter() is not None:
                out.append(k)
        except UnknownKind:
            continue
    return out


__all__ = ["GROUP", "KindEntry", "UnknownKind", "cleanup_providers", "configurable", "demo_kind", "entries", "get",
           "script_providers",
           "kinds", "live_run_kinds", "not_synced", "refresh", "script_kinds", "shadowed"]
