"""The catalog is one class made of per-area mixins: no two of them may define the same method
(a second definition silently wins by MRO order, as a dead `result_samples` once did)."""

from __future__ import annotations

import inspect

from workbench.core.catalog import Catalog


def _mixins() -> list[type]:
    return [c for c in Catalog.__mro__ if c not in (Catalog, object)]


def test_catalog_is_made_of_several_mixins():
    names = {c.__name__ for c in _mixins()}
    assert {"CatalogBase", "VersionsMixin", "EvalsMixin", "AblationsMixin"} <= names


def test_no_two_catalog_mixins_define_the_same_method():
    owners: dict[str, list[str]] = {}
    for cls in _mixins():
        for name, value in vars(cls).items():
            if name.startswith("__") or not (inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property))):
                continue
            owners.setdefault(name, []).append(cls.__name__)
    twice = {name: classes for name, classes in owners.items() if len(classes) > 1}
    assert not twice, f"defined in more than one catalog mixin: {twice}"
    assert owners["result_samples"] == ["EvalsMixin"]
