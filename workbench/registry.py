"""Loud registries: a name (a curate step, a record format, a file suffix) is registered once.

A second registration under a taken name is an error naming both, never a silent overwrite:
a plug-in that reuses a built-in name must not replace it unnoticed.
"""

from __future__ import annotations

from typing import Any

from workbench.errors import WorkbenchError


class RegistryError(WorkbenchError, ValueError):
    """A name registered twice in one registry."""


def _origin(obj: Any) -> str:
    fn = getattr(obj, "convert", obj)  # an adapter record carries its function
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def register_unique(registry: dict[str, Any], name: str, value: Any, what: str) -> None:
    """registry[name] = value, refusing a name that is taken."""
    if name in registry:
        raise RegistryError(
            f"{what} {name!r} is already registered by {_origin(registry[name])}; "
            f"{_origin(value)} cannot register it again: choose another name"
        )
    registry[name] = value
