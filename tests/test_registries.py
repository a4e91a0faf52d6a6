"""Registries are loud: a taken name raises, and curate steps register on `import workbench.curate`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.curate.steps import STEPS, Filter, register
from workbench.data.readers import READERS, reader
from workbench.data.records import ADAPTERS, adapter
from workbench.errors import WorkbenchError
from workbench.registry import RegistryError

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


def test_new_names_register():
    @adapter("test_only_format", keys={"test_only_key"})
    def convert(row):
        return None

    try:
        assert ADAPTERS["test_only_format"].convert is convert
    finally:
        del ADAPTERS["test_only_format"]


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
