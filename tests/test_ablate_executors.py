"""With isolate=True the local executor runs train and eval tasks in another process (a warm
worker, or a fresh child): the output comes back as plain data and the process's error is
raised in the parent as itself."""

from __future__ import annotations

import pytest

from workbench.ablate import LocalExecutor, Task, execute
from workbench.ablate.executors import run_in_child
from workbench.core.catalog import CatalogError
from workbench.core.workspace import Workspace


def test_a_childs_error_is_raised_in_the_parent_with_its_message_and_traceback(tmp_path):
    ws = Workspace(tmp_path / "home")
    task = Task.from_dict({"kind": "train", "variant": "v", "seed": 0, "label": "train v seed 0",
                           "inputs": {"version": "nope", "base": "x", "config": {}, "seed": 0}})
    with pytest.raises(CatalogError, match="no dataset version 'nope'") as info:
        LocalExecutor(isolate=True).run(ws, task)
    assert any("in the task's process" in n and "resolve_version" in n for n in info.value.__notes__)
    with pytest.raises(KeyError, match="nope"):
        run_in_child(ws.home, {"kind": "nope", "inputs": {}})


def test_a_build_runs_in_process_and_an_eval_in_a_child_with_the_same_output(tmp_path, tiny_model_dir):
    ws = Workspace(tmp_path / "home")
    task = {"kind": "eval", "variant": "base", "seed": None, "label": "eval base (untrained)",
            "inputs": {"target": str(tiny_model_dir), "suites": ["gsm_style"], "layer": "smoke", "limit": 2}}
    here = execute(ws.home, task)
    there = run_in_child(ws.home, task)  # cached by the evals area: the same result ids
    assert there == here and here["results"][0]["n_items"] == 2


def test_an_ablation_skips_sanity_generations_unless_asked_and_the_run_id_is_the_same(tmp_path, tiny_model_dir):
    from tests.ablate_helpers import tiny_spec
    from workbench.ablate import build_task, load_spec, resolved_train_config, train_task

    spec = load_spec(tiny_spec(tmp_path / "spec", tiny_model_dir, max_steps=1, sanity_prompts=2,
                               sanity_max_new_tokens=4))
    build = build_task(spec, spec.variants[1])
    rows = {}
    for sanity in (False, True):
        ws = Workspace(tmp_path / f"home-{sanity}")
        ex = LocalExecutor(sanity=sanity)  # in this process: the switch is set and put back around the step
        version = ex.run(ws, build).version
        task = train_task(spec, "math", version, 0, resolved_train_config(spec))
        run = ex.run(ws, task)
        rows[sanity] = (task.id, run.run_id, ws.catalog(reader=True).get_run(run.run_id)["sanity"])
    assert rows[False][:2] == rows[True][:2]  # same task, same run: the setting is in neither id
    assert rows[False][2] == [] and len(rows[True][2]) == 2
    assert LocalExecutor()._wire(task)["sanity"] is False  # off by default in ablations
