"""One small trained ablation whose variants' data coincide a lot, for the shared-run tests: two
written variants with the same data (a recipe that removes nothing), a two-step per_step whose
second step removes nothing (so "left out one" is "the other alone", and the whole recipe is the
first step's data) and a sweep of that step's parameter (no value removes anything). 14 variants,
2 distinct datasets: 2 training runs (1 step) and 3 evals (2 likelihood items); made once a session."""

from __future__ import annotations

import json

import yaml

from tests.ablate_helpers import QUESTIONS

_DONE: dict = {}


def write_mixed(folder):
    """QUESTIONS twice (the second copy: exact repeats for exact_dedup), sources math and chat."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mixed.jsonl"
    with open(path, "w") as fh:
        for i, (q, a) in enumerate(QUESTIONS * 2):
            fh.write(json.dumps({"instruction": q + ("" if i < len(QUESTIONS) else " "), "output": a,
                                 "source": "math" if "####" in a else "chat"}) + "\n")
    return path


def tiny_spec(name: str, model_dir, **rest) -> dict:
    """An ablation spec for the tiny model: seed 0, 1 training step, 2 likelihood items."""
    return {"name": name, "base": str(model_dir), "seeds": [0],
            "train": {"max_steps": 1, "batch_size": 2, "max_length": 96, "sanity_prompts": 0},
            "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 2}, **rest}


def shared_spec(folder, model_dir):
    data = str(write_mixed(folder / "data"))
    spec = tiny_spec(
        "shared", model_dir,
        variants=[{"name": "raw", "sources": [data]},
                     {"name": "noop", "sources": [data], "recipe": {"steps": [{"step": "length",
                                                                                "params": {"min_chars": 5}}]}}],
        strategies=[
            {"per_step": {"source": data, "controls": False, "recipe": {"steps": [
                {"step": "exact_dedup"}, {"step": "length", "params": {"min_chars": 5}}]}}},
            {"sweep": {"source": data, "recipe": {"steps": ["exact_dedup"]}, "step": "length", "param": "min_chars",
                       "values": [5, 8], "controls": False}},
        ])
    path = folder / "shared.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def shared_ablation(tmp_path_factory, model_dir):
    """{ws, spec, data}: the ablation 'shared', trained and evaluated."""
    if "shared" not in _DONE:
        from workbench.ablate import LocalExecutor, load_spec, run_ablation
        from workbench.report import report_data
        from workbench.core.workspace import Workspace

        folder = tmp_path_factory.mktemp("shared")
        ws = Workspace(folder / "home")
        path = shared_spec(folder, model_dir)
        result = run_ablation(ws, path, executor=LocalExecutor(isolate=False))
        assert not result.failures, [(o.task.label, o.error) for o in result.failures]
        _DONE["shared"] = {"ws": ws, "spec": load_spec(path), "data": report_data(ws, "shared"), "result": result}
    return _DONE["shared"]
