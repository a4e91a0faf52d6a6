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


def _tasks(ws, name):
    try:
        return ws.catalog(reader=True).ablation_tasks(name)
    except Exception:  # noqa: BLE001 - the catalog or the ablation row may not exist yet
        return []


def kill_mid_run_and_resume(ws, spec_path, name: str, cwd) -> tuple[dict, list[dict]]:
    """`workbench ablate SPEC` in its own process group, SIGKILLed (the group) once a training task is done;
    then resumed in this process. Returns ({task_id: (attempts, finished)} of the tasks done at the kill,
    the tasks after the resume). Asserts the resume had work left and redid none of the finished tasks."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO, run_cli_here

    log = open(cwd / f"{name}.log", "w")  # a pipe nobody reads can fill and stall the run
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "ablate", str(spec_path)], cwd=cwd,
                            env={**os.environ, "WORKBENCH_HOME": str(ws.home),  # this checkout, however installed
                                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
                            stdout=log, stderr=log,
                            start_new_session=True)
    try:
        while not any(t["kind"] == "train" and t["status"] == "done" for t in _tasks(ws, name)):
            assert proc.poll() is None, (cwd / f"{name}.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill"
    done = {t["task_id"]: (t["attempts"], t["finished"]) for t in _tasks(ws, name) if t["status"] == "done"}
    rerun = run_cli_here("ablate", str(spec_path), "--in-process", cwd=cwd, env={"WORKBENCH_HOME": str(ws.home)})
    after = _tasks(ws, name)
    assert all(t["status"] == "done" for t in after), [(t["label"], t["status"]) for t in after]
    assert len(after) > len(done), "the kill left nothing to resume"
    again = {t["task_id"]: (t["attempts"], t["finished"]) for t in after}
    assert all(again[k] == v for k, v in done.items()), "a task finished before the kill ran again"
    assert "steps run now" in rerun.stdout
    return done, after


TWO_STEPS = {"steps": [{"step": "exact_dedup"}, {"step": "score_cut", "params": {"score": "length", "remove_lowest": 0.25}}]}
MIX = {"name": "mix", "budget": 150, "k": 4, "min_weight": 0.1}


def credit_spec(folder, model_dir, data: str, validate: dict | None = None):
    """The ablation 'credit': a two-step shapley (4 subsets) and a two-source mixture_search (K = 4) on
    the tiny model; with `validate`, the mixture search's proposal as its validation round."""
    mix = {**MIX, "source": data, **({"validate": validate} if validate else {})}
    path = folder / "credit.yaml"
    path.write_text(yaml.safe_dump(tiny_spec("credit", model_dir, strategies=[
        {"shapley": {"source": data, "recipe": TWO_STEPS}}, {"mixture_search": mix}]), sort_keys=False))
    return path


def credit_ablation(tmp_path_factory, model_dir) -> dict:
    """The ablation 'credit' as a user runs it, once a session (the credit tests share an xdist group):
    `workbench ablate` killed with -9 after its first training and resumed (`kill_mid_run_and_resume`
    asserts the resume redid nothing finished); `report --json` then; then the proposal trained as the
    validation round. {ws, folder, data, killed: (done, after), first_rows, second_stdout}."""
    if "credit" not in _DONE:
        from tests.conftest import run_cli_here
        from workbench.core.workspace import Workspace

        folder = tmp_path_factory.mktemp("credit")
        data = str(write_mixed(folder / "data"))
        ws = Workspace(folder / "home")
        path = credit_spec(folder, model_dir, data)
        killed = kill_mid_run_and_resume(ws, path, "credit", folder)
        env = {"WORKBENCH_HOME": str(ws.home)}
        first = json.loads(run_cli_here("report", "credit", "--json", env=env).stdout)
        proposal = next(r for r in first if r.get("kind") == "mixture" and r["proposal"])["proposal"]["weights"]
        credit_spec(folder, model_dir, data, validate=proposal)
        second = run_cli_here("ablate", str(path), "--in-process", cwd=folder, env=env)
        _DONE["credit"] = {"ws": ws, "folder": folder, "data": data, "killed": killed, "first_rows": first,
                           "second_stdout": second.stdout}
    return _DONE["credit"]
