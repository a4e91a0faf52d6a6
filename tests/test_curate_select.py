"""The `select` step: keep or drop whole sources / reasoning modes, with a reason row for each."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from workbench.curate.recipe import RecipeError, load_recipe, run_steps

RAW = REPO / "datasets" / "example_raw.jsonl"



def _recipe(params: dict):
    return load_recipe({"name": "t", "steps": [{"step": "select", "params": params}]})


def test_select_drops_a_source_with_a_reason_per_record(tmp_path):
    from workbench.data.ingest import ingest
    from workbench.data.store import load_records
    from workbench.core.workspace import Workspace

    ws = Workspace(tmp_path / "home")
    v = ingest(ws, str(RAW), "raw").version
    records = load_records(ws, v.id)
    n_reasoning = sum(r.source == "reasoning" for r in records)
    assert n_reasoning > 0
    out = run_steps(records, _recipe({"drop_sources": ["reasoning"]}), parent=v.id)
    assert {r.source for r in out.kept_records} == {r.source for r in records} - {"reasoning"}
    assert len(out.removals) == n_reasoning
    assert {row["reason"] for row in out.removals} == {"source:reasoning"}

    modes = run_steps(records, _recipe({"keep_modes": ["think"]}), parent=v.id)
    assert {r.reasoning_mode for r in modes.kept_records} == {"think"}
    assert {row["reason"] for row in modes.removals} == {"mode:none", "mode:no_think"}


def test_select_without_a_selection_is_a_recipe_error():
    with pytest.raises(RecipeError, match="select needs at least one"):
        _recipe({})
