"""Registries are loud: a taken name raises, and curate steps register on `import workbench.curate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.curate.steps import STEPS, Filter, register
from workbench.data.readers import READERS, reader
from workbench.data.records import ADAPTERS, adapter
from workbench.core.errors import WorkbenchError
from workbench.core import registry
from workbench.core.registry import Registry, RegistryError, check_callable

REPO = Path(__file__).resolve().parents[1]


def test_a_second_curate_step_under_a_taken_name_raises_and_keeps_the_first():
    first = STEPS["structure"]

    with pytest.raises(RegistryError, match=r"curate step 'structure' is already registered by workbench\.curate\.filters\.") as e:
        @register
        class Impostor(Filter):
            name = "structure"

    assert "test_registries" in str(e.value) and isinstance(e.value, WorkbenchError)
    assert STEPS["structure"] is first


def test_a_second_record_format_under_a_taken_name_raises():
    first = ADAPTERS["alpaca"]
    with pytest.raises(RegistryError, match=r"record format 'alpaca' is already registered"):
        @adapter("alpaca", keys={"instruction"})
        def alpaca_again(row):
            return None
    assert ADAPTERS["alpaca"] is first and list(ADAPTERS).count("alpaca") == 1


def test_a_second_reader_for_a_suffix_raises():
    first = READERS[".jsonl"]
    with pytest.raises(RegistryError, match=r"file reader for suffix '\.jsonl' is already registered by workbench\.data\.readers\.read_jsonl"):
        @reader(".jsonl")
        def read_again(path, tolerant=False):
            yield from ()
    assert READERS[".jsonl"] is first


def test_a_registry_is_a_read_only_mapping_that_freezes_on_first_lookup():
    reg = Registry("widget")
    reg.register("a", 1)
    reg.register("b", "json:dumps")  # lazy: "module:object", imported on first use
    assert "a" in reg and "c" not in reg and list(reg) == ["a", "b"] and len(reg) == 2
    assert reg.get("c") is None and reg.get("a") == 1
    assert reg["b"] is json.dumps and dict(reg.items()) == {"a": 1, "b": json.dumps}
    with pytest.raises(RegistryError, match=r"widget 'c' \(.*\): registered after the widget names were loaded"):
        reg.register("c", 3)
    with pytest.raises(TypeError):
        reg["c"] = 3  # type: ignore[index]
    with pytest.raises(KeyError):
        reg["c"]


def test_a_lazy_entry_that_does_not_import_names_itself():
    reg = Registry("widget", check=check_callable)
    reg.register("gone", "no_such_module_anywhere:thing")
    reg.register("data", "json:decoder")  # a module, not a function
    assert "gone" in reg  # listed without importing it
    with pytest.raises(RegistryError, match=r"widget 'gone' from no_such_module_anywhere:thing: cannot import .*ModuleNotFoundError"):
        reg["gone"]
    with pytest.raises(RegistryError, match=r"widget 'data' from json:decoder: names a module, not a function"):
        reg["data"]


def _dist_info(root: Path, name: str, entry_points: str) -> None:
    d = root / f"{name}-0.1.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (d / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """tmp_path on sys.path, with the per-process entry point scan forgotten before and after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._entry_points.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    registry._entry_points.cache_clear()


def test_entry_points_of_two_packages_under_one_name_raise_naming_both(on_path):
    _dist_info(on_path, "pkg_one", "[workbench.test_widgets]\nshared = json:dumps\nonly_one = json:loads\n")
    _dist_info(on_path, "pkg_two", "[workbench.test_widgets]\nshared = json:loads\n")
    reg = Registry("widget", "workbench.test_widgets")
    with pytest.raises(RegistryError) as e:
        "shared" in reg
    msg = str(e.value)
    assert "widget 'shared' is already registered by entry point 'shared = json:" in msg
    assert "pkg_one 0.1" in msg and "pkg_two 0.1" in msg
    with pytest.raises(RegistryError):  # all or nothing: every lookup says so until it is fixed
        list(reg)


def test_an_entry_point_under_a_built_in_name_raises_naming_both(on_path):
    _dist_info(on_path, "pkg_bad", "[workbench.test_widgets]\nbuiltin = json:loads\nfine = json:dumps\n")
    reg = Registry("widget", "workbench.test_widgets")
    reg.register("builtin", json.dumps)
    with pytest.raises(RegistryError, match=r"widget 'builtin' is already registered by json\.dumps; entry point "
                                            r"'builtin = json:loads' in group workbench\.test_widgets of package pkg_bad 0\.1"):
        reg["builtin"]


def test_installed_entry_points_are_found_and_imported_on_use(on_path):
    _dist_info(on_path, "pkg_ok", "[workbench.test_widgets]\nfine = json:dumps\n")
    reg = Registry("widget", "workbench.test_widgets", check=check_callable)
    reg.register("builtin", json.loads)
    assert list(reg) == ["builtin", "fine"] and reg["fine"] is json.dumps
    assert reg.source("fine").startswith("entry point 'fine = json:dumps'") and reg.source("builtin") == "json.loads"


def test_importing_the_curate_package_registers_every_step():
    """In a fresh interpreter, `import workbench.curate` alone (not recipe.py) fills STEPS."""
    code = (
        "import sys, workbench.curate\n"
        "from workbench.curate.steps import STEPS\n"
        "assert 'workbench.curate.recipe' not in sys.modules, 'recipe.py imported'\n"
        "print(' '.join(sorted(STEPS)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert {"structure", "length", "reasoning_format", "exact_dedup", "minhash_dedup", "decontaminate"} <= set(out)
