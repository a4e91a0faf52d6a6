"""Warm workers (workbench/ablate/worker.py): the local executor's model tasks run one after another
in a long-lived process, and each task keeps the isolation a fresh process gave it: a crash
fails that task alone, the parent's death ends the worker, each task's output goes to its log,
and the results are the ones a fresh process gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.ablate import AblationError, LocalExecutor, build_task, eval_task, load_spec, train_task
from workbench.ablate.tasks import resolved_train_config
from workbench.ablate.worker import WarmWorker
from workbench.core.catalog import CatalogError
from workbench.core.processes import pid_alive
from workbench.core.progress import task_output
from workbench.core.workspace import Workspace

from tests.ablate_helpers import tiny_spec

WAIT_S = 600  # a generous cap on waiting for an event (a loaded machine); never a timing assertion


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _tasks(tmp_path, tiny_model_dir, suites=("gsm_style_bpb",), **train):
    """The tiny spec's "math" variant (no recipe); a likelihood-only suite unless `suites` (fast)."""
    spec = load_spec(tiny_spec(tmp_path / "spec", tiny_model_dir, suites=list(suites), **train))
    return spec, resolved_train_config(spec), build_task(spec, spec.variants[1])


def _train(ex: LocalExecutor, ws: Workspace, spec, config, build, seed: int):
    return ex.run(ws, train_task(spec, "math", ex.run(ws, build).version, seed, config))


def _train_and_eval(ex: LocalExecutor, ws: Workspace, spec, config, build, seed: int):
    run = _train(ex, ws, spec, config, build, seed)
    ev = ex.run(ws, eval_task(spec, "math", seed, run.run_id))
    cat = ws.catalog(reader=True)
    row = cat.get_run(run.run_id)
    samples = [json.dumps(s, sort_keys=True, default=str) for r in ev.results for s in cat.result_samples(r.result_id)]
    assert samples
    return run.run_id, row["train_tokens"], row["final_loss"], [(r.result_id, r.metrics) for r in ev.results], samples


def test_warm_and_cold_give_the_same_runs_and_per_item_outputs(tmp_path, tiny_model_dir):
    spec, config, build = _tasks(tmp_path, tiny_model_dir, suites=("gsm_style", "gsm_style_bpb"))
    cold = _train_and_eval(LocalExecutor(isolate=True, warm=False), Workspace(tmp_path / "cold"), spec, config, build, 0)
    warm_ex = LocalExecutor(isolate=True)
    ws = Workspace(tmp_path / "warm")
    _train(warm_ex, ws, spec, config, build, 1)  # another run first, in the same worker
    warm = _train_and_eval(warm_ex, ws, spec, config, build, 0)
    stats = warm_ex.worker.stats
    assert stats.started == 1 and len(stats.tasks) == 3 and len({t["pid"] for t in stats.tasks}) == 1
    assert warm == cold


def test_a_crash_inside_a_warm_worker_fails_that_task_alone_and_the_next_task_runs(tmp_path, tiny_model_dir):
    spec, config, build = _tasks(tmp_path, tiny_model_dir, max_steps=2000, save_steps=5000)
    ws = Workspace(tmp_path / "home")
    ex = LocalExecutor(isolate=True)
    version = ex.run(ws, build).version
    long_train = train_task(spec, "math", version, 0, config)
    failed: list[BaseException] = []

    def run():
        try:
            ex.run(ws, long_train)
        except BaseException as e:  # noqa: BLE001 - what the task raised, for the assertions below
            failed.append(e)

    t = threading.Thread(target=run)
    t.start()
    _wait_for(lambda: failed or any(r["status"] == "running" for r in ws.catalog(reader=True).list_runs()),
              "the training to start")
    assert not failed, failed
    os.kill(ex.worker.pid, signal.SIGKILL)  # a crash inside the task (segfault, OOM killer)
    t.join()
    assert len(failed) == 1 and isinstance(failed[0], AblationError) and "exit code -9" in str(failed[0])
    # the next task runs, in a fresh worker
    out = ex.run(ws, eval_task(spec, "base", None, str(tiny_model_dir)))
    assert out.results[0].n_items == 3 and out.results[0].metrics
    # an exception (not a crash) fails its task alone too, and the worker that raised it is replaced
    bad = train_task(spec, "math", "no-such-version", 0, config)
    with pytest.raises(CatalogError, match="no-such-version"):
        ex.run(ws, bad)
    again = ex.run(ws, eval_task(spec, "base", None, str(tiny_model_dir)))
    assert again == out
    assert ex.worker.stats.replaced == 2 and ex.worker.stats.started == 3


def test_each_task_writes_to_its_own_log(tmp_path, tiny_model_dir):
    spec, config, build = _tasks(tmp_path, tiny_model_dir, max_steps=1)
    ws = Workspace(tmp_path / "home")
    ex = LocalExecutor(isolate=True)
    version = ex.run(ws, build).version
    logs = []
    for seed in (0, 1):
        log = tmp_path / f"train-{seed}.log"
        with task_output(log):
            run = ex.run(ws, train_task(spec, "math", version, seed, config))
        logs.append((log.read_text(), run.run_id))
    (first, run0), (second, run1) = logs
    assert f"run {run0}" in first and f"run {run1}" not in first
    assert f"run {run1}" in second and f"run {run0}" not in second
    assert len({t["pid"] for t in ex.worker.stats.tasks}) == 1


def test_a_worker_past_its_memory_bound_is_recycled(tmp_path, tiny_model_dir):
    spec, _, _ = _tasks(tmp_path, tiny_model_dir)
    ws = Workspace(tmp_path / "home")
    worker = WarmWorker(ws.home, max_rss_mb=1.0)  # every worker is over 1 MiB after a task
    task = {**eval_task(spec, "base", None, str(tiny_model_dir)).to_dict(), "threads": None}
    outs = [worker.run(task) for _ in range(2)]
    assert outs[0]["results"] == outs[1]["results"]
    assert worker.stats.recycled == 2 and len({t["pid"] for t in worker.stats.tasks}) == 2
    assert all(t["rss_mb"] > 1.0 and t["task_peak_mb"] >= t["rss_mb"] * 0.5 for t in worker.stats.tasks)
    worker.close()


PARENT = """
import sys
from workbench.ablate.worker import WarmWorker
w = WarmWorker(sys.argv[1])
w.start()
print(w.pid, flush=True)
sys.stdin.read()  # until killed
"""


def test_the_worker_ends_when_its_parent_is_killed(tmp_path):
    repo = str(Path(__file__).resolve().parents[1])
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "home")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=repo, env={**os.environ, "PYTHONPATH": repo})
    pid = int(parent.stdout.readline())
    assert pid_alive(pid)
    parent.kill()  # kill -9: no clean-up runs in the parent
    parent.wait()
    _wait_for(lambda: not pid_alive(pid), "the orphaned worker to exit")
