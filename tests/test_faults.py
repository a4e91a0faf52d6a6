"""kill -9 fault harness: kill a real `workbench` command at sampled moments, then check.

After each kill: no partial version (every version row has its body and `verify` is clean),
no duplicate rows in any catalog table, and a rerun completes with the same version ids as
an uninterrupted run in a fresh workspace. Moments are fractions of the uninterrupted run's
wall time, drawn from a seeded generator. The default run samples two moments per command;
`-m faults_long` samples many (WORKBENCH_FAULT_MOMENTS, default 8).

Commands covered: ingest, curate, mix, and on the tiny test model synth (a scripted teacher,
one prompt per batch), train (resumes from its checkpoint), eval and ablate (the rerun takes
over the killed holder's task lease), one sampled moment each. The default run has eval of
these; synth, train and ablate (minutes each) run with `-m faults_long`.

The reference run (whose wall time places the kills) and every killed run are fresh `workbench`
processes; the setup commands and the reruns after a kill run the same command lines in the
test's process (`run_cli_here`: no interpreter start-up and torch import each).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli_here
from workbench.ops.maintenance import verify
from workbench.core.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
RECIPE = "name: faults\nsteps:\n  - step: structure\n  - step: length\n    params: {min_words: 2}\n  - step: exact_dedup\n"


def make_inputs(root: Path, n: int = 8000) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    rows = root / "rows.jsonl"
    with open(rows, "w", encoding="utf-8") as fh:
        for i in range(n):
            a = f"Question {i % (n // 2)}: what is {i} times three?"  # half are exact duplicates
            fh.write(json.dumps({"messages": [{"role": "user", "content": a},
                                              {"role": "assistant", "content": f"{i} times three is {3 * i}."}]}) + "\n")
    other = root / "other.jsonl"
    with open(other, "w", encoding="utf-8") as fh:
        for i in range(n // 4):
            fh.write(json.dumps({"prompt": f"Name the number after {i}.", "completion": f"It is {i + 1}."}) + "\n")
    (root / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    (root / "mix.yaml").write_text(
        "variants:\n  - name: mixed\n    sources:\n      - {version: rows, weight: 1}\n      - {version: other, weight: 1}\n"
        "    balance: examples\n    budget: {records: 2000}\n    seed: 0\n", encoding="utf-8")
    return {"rows": rows, "other": other, "recipe": root / "recipe.yaml", "mix": root / "mix.yaml"}


def model_inputs(root: Path, model_dir: Path) -> dict[str, Path]:
    """What the model commands read: a small training set and config, prompts, a tiny ablation."""
    from tests.ablate_helpers import mini_spec

    small = root / "small.jsonl"
    small.write_text("".join(json.dumps({"prompt": f"What is {i} plus {i}?", "completion": f"{i} plus {i} is {2 * i}."})
                             + "\n" for i in range(16)), encoding="utf-8")
    (root / "train.yaml").write_text("max_steps: 6\nbatch_size: 2\nsave_steps: 2\nsanity_prompts: 0\n", encoding="utf-8")
    return {"model": model_dir, "small": small, "train": root / "train.yaml", "alpaca": REPO / "tests" / "fixtures" / "alpaca.jsonl",
            "spec": mini_spec(root / "ablate", model_dir, "faults", max_steps=4, save_steps=2)}


def scripted_teacher_for(home: Path, files: dict) -> None:
    """The synth teacher: the tiny model, biased to answer the ingested prompts with set texts."""
    from tests.test_synth import scripted_teacher
    from workbench.data.store import load_records

    files["teacher"] = scripted_teacher(files["model"], home.parent / "teacher", load_records(Workspace(home), "src"))


# each command: the setup commands (run to completion first) and the command that is killed
COMMANDS = {
    "ingest": ([], ["data", "ingest", "{rows}", "--name", "rows"]),
    "curate": ([["data", "ingest", "{rows}", "--name", "rows"]], ["curate", "rows", "--recipe", "{recipe}", "--name", "cur"]),
    "mix": ([["data", "ingest", "{rows}", "--name", "rows"], ["data", "ingest", "{other}", "--name", "other"]],
            ["mix", "--spec", "{mix}"]),
    "synth": ([["data", "ingest", "{alpaca}", "--name", "src"]],
              ["synth", "src", "--mode", "both", "--teacher", "{teacher}", "--name", "syn", "--max-new-tokens", "48",
               "--batch-size", "1"]),
    "train": ([["data", "ingest", "{small}", "--name", "small"]],
              ["train", "--data", "small", "--base", "{model}", "--config", "{train}"]),
    "eval": ([], ["eval", "{model}", "--suites", "arith_choice", "--limit", "2"]),
    "ablate": ([], ["ablate", "{spec}", "--in-process", "--no-report"]),
}
MODEL_COMMANDS = ("synth", "train", "eval", "ablate")  # need the tiny test model
# a model loaded in each of 3+ processes: minutes each on 2 shared cores, so only with -m faults_long
# (train and ablate resume after kill -9 are also in test_train.py and test_ablate_e2e.py)
SLOW = ("ablate", "synth", "train")


def _argv(args: list[str], files: dict[str, Path]) -> list[str]:
    return [str(files[a[1:-1]]) if a.startswith("{") else a for a in args]


def _env(home: Path) -> dict:
    return {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(REPO)}


def wb(home: Path, args: list[str], files, here: bool = False) -> tuple[float, str]:
    """Run the command to completion: a fresh process, or with `here` in this one."""
    start = time.monotonic()
    if here:
        proc = run_cli_here(*_argv(args, files), env={"WORKBENCH_HOME": str(home)}, check=False)
    else:
        proc = subprocess.run([sys.executable, "-m", "workbench", *_argv(args, files)], env=_env(home),
                              capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return time.monotonic() - start, proc.stdout + proc.stderr


def kill_at(home: Path, args: list[str], files, after_s: float) -> bool:
    """Start the command, SIGKILL it after `after_s`; True if it was still running then."""
    proc = subprocess.Popen([sys.executable, "-m", "workbench", *_argv(args, files)], env=_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=after_s)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def catalog_ids(home: Path) -> dict[str, set]:
    """The ids a command makes: versions, training runs, eval results and ablation tasks."""
    cat = Workspace(home).catalog()
    return {"versions": {v["id"] for v in cat.list_versions()},
            "runs": {r["id"] for r in cat.query("SELECT id FROM runs")},
            "evals": {r["id"] for r in cat.query("SELECT id FROM eval_results")},
            "tasks": {(r["ablation"], r["task_id"]) for r in cat.query("SELECT ablation, task_id FROM ablation_tasks")}}


def finished(home: Path) -> dict[str, set]:
    """What is complete: every run finished, every ablation task done, no task lease left."""
    cat = Workspace(home).catalog()
    return {"runs": {r["status"] for r in cat.query("SELECT status FROM runs")} - {"finished"},
            "tasks": {r["status"] for r in cat.query("SELECT status FROM ablation_tasks")} - {"done"},
            "leases": {r["task_id"] for r in cat.leases()}}


def duplicate_rows(home: Path) -> dict[str, int]:
    cat = Workspace(home).catalog()
    tables = [r["t"] for r in cat.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'main'")]
    dups = {}
    for t in tables:
        n = cat.query(f'SELECT count(*) AS n FROM "{t}"')[0]["n"]
        d = cat.query(f'SELECT count(*) AS n FROM (SELECT DISTINCT * FROM "{t}")')[0]["n"]
        if n != d:
            dups[t] = n - d
    return dups


def check_after_kill(home: Path) -> None:
    report = verify(Workspace(home))
    assert report.ok, report.problems  # no partial version: every row has its full body
    assert duplicate_rows(home) == {}


def run_faults(command: str, tmp_path: Path, moments: int, seed: int = 0, model_dir: Path | None = None) -> list[float]:
    files = make_inputs(tmp_path / "inputs", n=8000 if command not in MODEL_COMMANDS else 40)
    if model_dir is not None:
        files.update(model_inputs(tmp_path / "inputs", model_dir))
    setup, target = COMMANDS[command]
    base = tmp_path / "base"  # the setup runs once; each trial starts from a copy of it
    base.mkdir()
    for s in setup:
        wb(base, s, files, here=True)
    if command == "synth":
        scripted_teacher_for(base, files)
    ref = tmp_path / "reference"
    shutil.copytree(base, ref)
    wall, _ = wb(ref, target, files)
    expected = catalog_ids(ref)
    assert finished(ref) == {"runs": set(), "tasks": set(), "leases": set()}
    rng = random.Random(seed)
    killed_at = []
    for k in range(moments):
        home = tmp_path / f"kill-{k}"
        shutil.copytree(base, home)
        frac = rng.uniform(0.15, 0.95)
        if kill_at(home, target, files, after_s=frac * wall):
            killed_at.append(round(frac, 2))
        check_after_kill(home)
        ids = catalog_ids(home)
        assert all(ids[key] <= expected[key] for key in ids), (ids, expected)  # nothing but what a full run makes
        held = finished(home)["leases"]  # a killed ablation leaves the lease of the task it was running
        _, out = wb(home, target, files, here=True)  # the rerun completes (it does not wait for the dead holder) ...
        assert catalog_ids(home) == expected  # ... with the same ids as an uninterrupted run
        assert finished(home) == {"runs": set(), "tasks": set(), "leases": set()}
        if held:
            assert "taking over from" in out and "is gone)" in out, out[-3000:]
        check_after_kill(home)
    return killed_at


def _model(command: str, request) -> Path | None:
    return request.getfixturevalue("tiny_model_dir") if command in MODEL_COMMANDS else None


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.faults_long) if c in SLOW else c
                                     for c in sorted(COMMANDS)])
def test_kill_9_sampled_moments(command, tmp_path, request):
    run_faults(command, tmp_path, moments=1 if command in MODEL_COMMANDS else 2,
               seed=sorted(COMMANDS).index(command), model_dir=_model(command, request))


@pytest.mark.faults_long
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_9_many_moments(command, tmp_path, request):
    moments = int(os.environ.get("WORKBENCH_FAULT_MOMENTS", "8"))
    killed = run_faults(command, tmp_path, moments=moments, seed=1, model_dir=_model(command, request))
    assert killed, "no kill landed while the command ran"
