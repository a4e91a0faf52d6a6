"""With isolate=True the local executor runs train and eval tasks in a child process: the output comes back as
plain data, a child's error is raised in the parent as itself, and Ctrl-C stops the child and
leaves the task marked interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.ablate_helpers import tiny_spec
from workbench.ablate import LocalExecutor, Task, execute
from workbench.ablate.executors import run_in_child
from workbench.catalog import CatalogError
from workbench.workspace import Workspace


def test_a_childs_error_is_raised_in_the_parent_with_its_message_and_traceback(tmp_path):
    ws = Workspace(tmp_path / "home")
    task = Task("train", "v", 0, "train v seed 0", {"version": "nope", "base": "x", "config": {}, "seed": 0})
    with pytest.raises(CatalogError, match="no dataset version 'nope'") as info:
        LocalExecutor(isolate=True).run(ws, task)
    assert any("in the task's process" in n and "resolve_version" in n for n in info.value.__notes__)
    with pytest.raises(KeyError, match="nope"):
        run_in_child(ws.home, {"kind": "nope", "inputs": {}})


def test_a_build_runs_in_process_and_an_eval_in_a_child_with_the_same_output(tmp_path, tiny_model_dir):
    ws = Workspace(tmp_path / "home")
    task = {"kind": "eval", "inputs": {"target": str(tiny_model_dir), "suites": ["gsm_style"], "layer": "smoke",
                                       "limit": 2}}
    here = execute(ws.home, task)
    there = run_in_child(ws.home, task)  # cached by the evals area: the same result ids
    assert there == here and here["results"][0]["n_items"] == 2


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def test_ctrl_c_during_training_stops_the_child_and_marks_the_task_interrupted(tmp_path, tiny_model_dir):
    spec = tiny_spec(tmp_path, tiny_model_dir, name="sigint", max_steps=5000, suites=["gsm_style"])
    home = tmp_path / "home"
    script = ("import sys; from pathlib import Path; from workbench.ablate import LocalExecutor, run_ablation; "
              "from workbench.workspace import Workspace; "
              "run_ablation(Workspace(Path(sys.argv[1])), sys.argv[2], executor=LocalExecutor(isolate=True))")
    proc = subprocess.Popen([sys.executable, "-c", script, str(home), str(spec)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ws = Workspace(home)
    child = None
    try:
        deadline = time.monotonic() + 400
        while child is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            try:
                running = [t for t in ws.catalog(reader=True).ablation_tasks("sigint")
                           if t["kind"] == "train" and t["status"] == "running"]
            except Exception:  # noqa: BLE001 - the catalog may not exist yet
                running = []
            kids = [p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)]
            if running and kids:
                child = kids[0]
        assert child is not None, proc.communicate()
        time.sleep(3)  # into the training loop
        os.kill(proc.pid, signal.SIGINT)  # the runner only, as a terminal's Ctrl-C reaches it
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    child.wait(timeout=30)  # gone, not an orphan still training
    tasks = ws.catalog(reader=True).ablation_tasks("sigint")
    assert [t["status"] for t in tasks if t["kind"] == "train"] == ["interrupted"], (out, err)
