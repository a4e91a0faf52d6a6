"""`workbench ablate` end to end on a tiny model made in the test: two variants, a real
kill -9 in the middle of training, resume, report, and a second call that does nothing new.

The killed run is the console script with its default child process per model task; the calls
after it run the same command line in the test's process (`run_cli_here`, and the resume with
`--in-process`), which saves an interpreter start-up and a torch import per task (the child
process path, its errors included, is tested in test_ablate_executors.py and test_ux.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.ablate_helpers import tiny_spec
from tests.conftest import run_cli_here


# A likelihood suite: what this test checks (kill, resume, report, reuse) needs scores, not
# generations, and the random tiny model generates to the suites' max_gen_toks (128-192 tokens,
# about 30 s per eval task on 2 loaded cores); generation is tested in the evals area's tests.
SUITES = ["arith_choice"]


def _wait(cond, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"ablation ended (rc {proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _tasks(ws, name):
    try:
        return ws.catalog(reader=True).ablation_tasks(name)
    except Exception:  # noqa: BLE001 - the catalog or the ablation row may not exist yet
        return []


def _training_in_progress(ws, name):
    """A train task is running and its run has logged at least one optimizer step."""
    cat = ws.catalog(reader=True)
    running = [t for t in _tasks(ws, name) if t["kind"] == "train" and t["status"] == "running"]
    if not running:
        return None
    rows = cat.query("SELECT count(*) AS n FROM run_steps")  # training area's per-step loss rows
    return running[0] if rows[0]["n"] >= 1 else None


def test_two_variants_kill_9_mid_training_then_resume(ws, tmp_path, tiny_model_dir):
    spec = tiny_spec(tmp_path, tiny_model_dir, name="e2e", max_steps=12, save_steps=2, suites=SUITES,
                     extra_variants=[{"name": "broken", "sources": [str(tmp_path / "data" / "broken.jsonl")]}])
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "ablate", str(spec)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _training_in_progress(ws, "e2e"), 240, "a training step", proc)
        children = psutil.Process(proc.pid).children(recursive=True)  # the training task's process
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # the task's process stops itself (before the resume below, in this process, takes its run over)
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"a task's process outlived its killed parent: {alive}"

    st = run_cli_here("ablate", "status", "e2e", cwd=tmp_path)
    assert "interrupted" in st.stdout, st.stdout
    assert "failed" in st.stdout  # the broken variant

    rerun = run_cli_here("ablate", str(spec), "--in-process", cwd=tmp_path, check=False)
    assert rerun.returncode == 1, rerun.stderr  # the broken variant is reported as failed ...
    assert "retrying (interrupted before)" in rerun.stderr
    assert "build broken" in rerun.stdout and "malformed" in (rerun.stdout + rerun.stderr).lower()

    cat = ws.catalog(reader=True)
    tasks = cat.ablation_tasks("e2e")
    by_label = {t["label"]: t for t in tasks}
    assert len(by_label) == len(tasks)
    done = {t["label"] for t in tasks if t["status"] == "done"}
    # ... and the others went on: both good variants are built, trained and evaluated, and the base too
    assert done == {"build all", "build math", "train all seed 0", "train math seed 0",
                    "eval base (untrained)", "eval all seed 0", "eval math seed 0"}
    assert by_label["build broken"]["status"] == "failed"
    assert sum(t["attempts"] > 1 for t in tasks if t["kind"] == "train") == 1  # only the killed one re-ran
    run_ids = [t["output"]["run_id"] for t in tasks if t["kind"] == "train"]
    assert cat.query("SELECT count(*) AS n FROM runs")[0]["n"] == 2, "no duplicate run rows after the kill"
    assert len(set(run_ids)) == 2

    html = (tmp_path / "reports" / "e2e" / "report.html").read_text()
    md = (tmp_path / "reports" / "e2e" / "report.md").read_text()
    for name in ("all", "math"):
        assert f"<b>{name}</b>" in html and f"**{name}**" in md
    assert "<svg" in html and "Failures" in md

    before = {t["task_id"]: (t["attempts"], t["finished"]) for t in cat.ablation_tasks("e2e")}
    again = run_cli_here("ablate", str(spec), cwd=tmp_path, check=False)
    assert "0 steps run now" in again.stdout, again.stdout
    after = {t["task_id"]: (t["attempts"], t["finished"]) for t in cat.ablation_tasks("e2e")
             if t["status"] == "done"}
    assert all(before[k] == v for k, v in after.items()), "a finished task was touched again"

    # the same variants in another ablation, with the same data in another folder, are reused
    # by content hash: nothing runs again
    other = tiny_spec(tmp_path / "other", tiny_model_dir, name="e2e-copy", max_steps=12, save_steps=2, suites=SUITES)
    copy = run_cli_here("ablate", str(other), cwd=tmp_path)
    assert "reused" in copy.stderr
    assert "0 steps run now" in copy.stdout, copy.stdout


def test_base_model_that_cannot_load_is_reported_per_step(ws, tmp_path, tiny_model_dir):
    spec = tiny_spec(tmp_path, tiny_model_dir, name="nobase")
    text = spec.read_text().replace(str(tiny_model_dir), str(tmp_path / "no-such-model"))
    spec.write_text(text)
    (tmp_path / "no-such-model").mkdir()  # a directory, but not a model
    proc = run_cli_here("ablate", str(spec), "--in-process", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    tasks = ws.catalog().ablation_tasks("nobase")
    status = {t["label"]: t["status"] for t in tasks}
    assert status["build all"] == status["build math"] == "done"
    for label in ("eval base (untrained)", "train all seed 0", "train math seed 0"):
        assert status[label] == "failed"
        err = next(t["error"] for t in tasks if t["label"] == label)
        assert "no-such-model" in err
    assert "config.json" in proc.stdout + proc.stderr
