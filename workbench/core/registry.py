"""Registries: one type for every kind of thing a plug-in can add.

Curate steps, record formats, file readers, training methods, rewards, record scores and suite
folders each live in a `Registry`: a read-only mapping from a name to the thing. Entries come
from two places:

- built in: registered in code when their module is imported (`register`, or the decorators
  built on it: `@adapter`, `@reader`, `@register`, `register_method`, ...);
- installed packages: Python entry points in the group `workbench.<kind>` (`workbench.methods`,
  `.steps`, `.formats`, `.readers`, `.rewards`, `.scores`, `.suites`), each `name = "module:object"`.
  They are discovered once per process, on the registry's first lookup (so a spawned child
  process finds them again on its own), and each module is imported only when its name is
  first used.

The registry is loud. A name registered twice is an error naming both sources, never a silent
overwrite: a plug-in that reuses a built-in name must not replace it unnoticed. Once the entry
points are loaded the registry is frozen: a later `register` raises, except from inside a
plug-in module being imported for its entry point (that is how `@adapter(...)` in a plug-in
module fills its own entry).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from workbench.core.errors import WorkbenchError

T = TypeVar("T")
_LOCK = threading.RLock()
_IMPORTING: list[str] = []  # plug-in modules being imported now (registrations inside them are allowed)


class RegistryError(WorkbenchError, ValueError):
    """A name registered twice, a registration after loading, or a plug-in entry that is not what it should be."""


def _origin(obj: Any) -> str:
    """Where a registered thing comes from, for error messages."""
    if isinstance(obj, str):
        return obj
    for attr in (None, "convert", "fit", "score"):  # an adapter / method / reward names its function
        target = obj if attr is None else getattr(obj, attr, None)
        if isinstance(target, str):
            return target
        if hasattr(target, "__qualname__") and hasattr(target, "__module__"):
            return f"{target.__module__}.{target.__qualname__}"
    return type(obj).__name__


@functools.cache
def _entry_points() -> importlib.metadata.EntryPoints:
    return importlib.metadata.entry_points()


def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The installed entry points of one group (all installed packages are scanned once per process)."""
    return list(_entry_points().select(group=group))


def _describe(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    pkg = f" of package {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point '{ep.name} = {ep.value}' in group {ep.group}{pkg}"


def _import(ref: str) -> Any:
    module, _, attr = ref.split("[")[0].strip().partition(":")
    obj = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass
class _Entry:
    source: str  # who registered it: a function or class path, or an entry point
    value: Any = None
    ref: str | None = None  # "module:object" not imported yet


class Registry(Mapping, Generic[T]):
    """name -> thing, filled by built-in registrations and by installed entry points.

    `what` names one entry in messages ("training method"); `group` is the entry-point group
    (`workbench.methods`); `check(name, obj)` turns what a plug-in entry point names into the
    thing (or raises TypeError/ValueError saying what is wrong); `key` normalises a name.
    """

    def __init__(self, what: str, group: str | None = None, check: Callable[[str, Any], T] | None = None,
                 key: Callable[[str], str] | None = None):
        self.what, self.group = what, group
        self._check = check
        self._key = key or (lambda name: name)
        self._entries: dict[str, _Entry] = {}
        self._frozen = False

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, group={self.group!r}, names={list(self._entries)})"

    # --- writing ------------------------------------------------------------------------

    def register(self, name: str, value: T | str, source: str | None = None) -> T | str:
        """Add `value` under `name`; a str value is a lazy "module:object" reference. A taken
        name raises RegistryError naming both sources."""
        name = self._key(name)
        source = source or _origin(value)
        with _LOCK:
            old = self._entries.get(name)
            if old is not None and old.ref is not None and _IMPORTING and not isinstance(value, str):
                old.value, old.ref = value, None  # a plug-in module fills its own entry as it is imported
                return value
            if old is not None:
                raise RegistryError(f"{self.what} {name!r} is already registered by {old.source}; "
                                    f"{source} cannot register it again: choose another name")
            if self._frozen and not _IMPORTING:
                raise RegistryError(
                    f"{self.what} {name!r} ({source}): registered after the {self.what} names were loaded; "
                    f"register it when its module is imported, or from an installed package as an entry point "
                    f"in group {self.group!r}")
            self._entries[name] = _Entry(source, None, value) if isinstance(value, str) else _Entry(source, value)
        return value

    def load(self) -> None:
        """Discover the installed entry points of this registry's group (once), then freeze.
        All or nothing: a duplicate name raises here, and again on the next lookup."""
        if self._frozen:
            return
        with _LOCK:
            if self._frozen:
                return
            found: dict[str, _Entry] = {}
            for ep in entry_points(self.group) if self.group else []:
                name, source = self._key(ep.name), _describe(ep)
                other = self._entries.get(name) or found.get(name)
                if other is not None:
                    raise RegistryError(f"{self.what} {name!r} is already registered by {other.source}; "
                                        f"{source} cannot register it again: rename one of them")
                found[name] = _Entry(source, None, ep.value)
            self._entries.update(found)
            self._frozen = True

    # --- reading (a Mapping: `in`, [], get, items, keys, values, iteration in registration order)

    def _resolve(self, name: str, entry: _Entry) -> T:
        with _LOCK:
            if entry.ref is None:
                return entry.value
            ref = entry.ref
            _IMPORTING.append(ref)
            try:
                obj = _import(ref)
            except Exception as e:
                raise RegistryError(f"{self.what} {name!r} from {entry.source}: cannot import {ref}: "
                                    f"{type(e).__name__}: {e}") from e
            finally:
                _IMPORTING.pop()
            if entry.ref is None:  # importing it registered it (a decorator in the plug-in module)
                return entry.value
            try:
                value = self._check(name, obj) if self._check else obj
            except (TypeError, ValueError) as e:
                raise RegistryError(f"{self.what} {name!r} from {entry.source}: {e}") from None
            entry.value, entry.ref = value, None
            return value

    def __getitem__(self, name: str) -> T:
        self.load()
        return self._resolve(name, self._entries[self._key(name)])

    def __contains__(self, name: object) -> bool:
        self.load()
        return isinstance(name, str) and self._key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self.load()
        return len(self._entries)

    def source(self, name: str) -> str:
        """Who registered `name` (a module path, or the entry point and its package)."""
        self.load()
        return self._entries[self._key(name)].source


def check_named(cls: type, what: str) -> Callable[[str, Any], Any]:
    """A `check` for registries of `cls` instances carrying a `name` equal to their entry's name."""

    def check(name: str, obj: Any) -> Any:
        if not isinstance(obj, cls):
            raise TypeError(f"names a {type(obj).__name__}, not a {cls.__name__} (a {what})")
        if getattr(obj, "name", name) != name:
            raise ValueError(f"the {cls.__name__} it names is called {obj.name!r}: name the entry point {obj.name!r}")
        return obj

    return check


def check_callable(name: str, obj: Any) -> Any:
    if not callable(obj):
        raise TypeError(f"names a {type(obj).__name__}, not a function")
    return obj


def register_unique(registry: "Registry | dict[str, Any]", name: str, value: Any, what: str) -> None:
    """registry[name] = value, refusing a name that is taken (kept for callers written before Registry)."""
    if isinstance(registry, Registry):
        registry.register(name, value)
        return
    if name in registry:
        raise RegistryError(f"{what} {name!r} is already registered by {_origin(registry[name])}; "
                            f"{_origin(value)} cannot register it again: choose another name")
    registry[name] = value
