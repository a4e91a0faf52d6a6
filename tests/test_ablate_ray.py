"""The Ray executor on a real local Ray instance (2 CPUs, shared by the session): a tiny 2-variant
ablation, its driver killed with kill -9 once a train task is done and then run again, resumes
with no duplicate rows and ends with the very ids and per-item scores of the local executor; the
workers never open the catalog (the driver applies their rows)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.ablate_helpers import filled_workspace, tiny_spec
from workbench.ablate import run_ablation
from workbench.core.workspace import Workspace

pytest.importorskip("ray", reason="the ray extra is not installed (bash setup.sh installs it)")

TABLES = ("versions", "lineage", "removals", "runs", "run_steps", "eval_results", "eval_samples",
          "curation_steps", "dedup_clusters", "ablation_tasks")


def _spec(folder: Path, model_dir: Path) -> Path:
    path = tiny_spec(folder, model_dir)  # filled_workspace's spec, plus resources (which no id depends on)
    spec = yaml.safe_load(path.read_text())
    spec["resources"] = {"train": {"num_cpus": 1}, "eval": {"num_cpus": 1}}  # two tasks at once on 2 CPUs
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _state(ws: Workspace) -> dict:
    cat = ws.catalog(reader=True)
    tasks = {t["task_id"]: (t["status"], t["output"].get("version") or t["output"].get("run_id")
                            or t["output"].get("target")) for t in cat.ablation_tasks("tiny")}
    samples = cat.query("SELECT r.run_id, r.suite, s.item_id, s.scores FROM eval_samples s "
                        "JOIN eval_results r ON r.id = s.result_id ORDER BY 1, 2, 3")
    counts = {t: cat.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}
    runs = sorted(r["id"] for r in cat.query("SELECT id FROM runs"))
    return {"tasks": tasks, "samples": [tuple(r.values()) for r in samples], "counts": counts, "runs": runs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    """The same ablation on the local executor: the session's filled workspace (tests/ablate_helpers;
    its tasks ran with torch's default threads, the Ray tasks with one each)."""
    return _state(filled_workspace(tmp_path_factory, tiny_model_dir))


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, tiny_model_dir, ray_address):
    """`workbench ablate SPEC --executor ray` killed with kill -9 once a train task is done, then the
    same ablation run again (on the session's Ray instance): (workspace, tasks before, the rerun)."""
    from workbench.ablate.ray_executor import RayExecutor

    folder = tmp_path_factory.mktemp("ray")
    home, spec = folder / "home", _spec(folder, tiny_model_dir)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "ablate", str(spec), "--executor", "ray",
                             "--address", ray_address, "--no-report"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ws = Workspace(home)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (home / "catalog.duckdb").exists():
                try:
                    tasks = ws.catalog(reader=True).ablation_tasks("tiny")
                except Exception:  # noqa: BLE001 - not created yet, or locked for a moment
                    tasks = []
                if any(t["kind"] == "train" and t["status"] == "done" for t in tasks):
                    break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ablation finished before it could be killed"
    before = ws.catalog(reader=True).ablation_tasks("tiny")
    # the resume reuses Ray's worker processes (torch imported once per worker, not once per model
    # task); the killed run above had a fresh worker per model task, the CLI's default
    rerun = run_ablation(ws, spec, executor=RayExecutor(address=ray_address, isolate=False))
    return ws, spec, before, rerun


def test_ray_runs_the_ablation_with_the_local_executors_ids_and_scores(resumed, reference, ray_address):
    from workbench.ablate.ray_executor import RayExecutor

    ws, spec, _, rerun = resumed
    assert not rerun.failures, [(o.task.label, o.error) for o in rerun.failures]
    got = _state(ws)
    assert got["tasks"] == reference["tasks"] and got["runs"] == reference["runs"]
    assert got["samples"] == reference["samples"]
    # every task ran on a Ray worker, which says so; the driver wrote all the rows
    where = [t["output"]["where"] for t in ws.catalog(reader=True).ablation_tasks("tiny")]
    assert len(where) == 7 and all("ray node" in w for w in where), where
    # the "nothing new to do" rerun
    again = run_ablation(ws, spec, executor=RayExecutor(address=ray_address))
    assert again.n_new == 0 and {o.status for o in again.outcomes} == {"cached"}


def test_a_driver_killed_mid_way_resumes_on_rerun_with_no_duplicate_rows(resumed, reference):
    ws, _, before, rerun = resumed
    assert any(t["status"] != "done" for t in before) or len(before) < 7  # it was cut off mid-way
    assert any(o.status == "cached" for o in rerun.outcomes) and rerun.n_new > 0
    got = _state(ws)
    assert got["counts"] == reference["counts"]  # every table: not one row more than the local run's
    assert {s for s, _ in got["tasks"].values()} == {"done"}
