"""The Ray executor on a real local Ray instance (2 CPUs, shared by the module): a tiny 2-variant
ablation gets the very ids and per-item scores of the local executor, the workers never open the
catalog (the driver applies their rows), and a driver killed with kill -9 resumes cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.ablate_helpers import tiny_spec
from workbench.ablate import LocalExecutor, run_ablation
from workbench.workspace import Workspace

ray = pytest.importorskip("ray", reason="the ray extra is not installed (bash setup.sh installs it)")

TABLES = ("versions", "lineage", "removals", "runs", "run_steps", "eval_results", "eval_samples",
          "curation_steps", "dedup_clusters", "ablation_tasks")


@pytest.fixture(scope="module")
def ray_address():
    ctx = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 ** 2,
                   log_to_driver=False, configure_logging=False)
    yield ctx.address_info["gcs_address"]
    ray.shutdown()


def _spec(folder: Path, model_dir: Path) -> Path:
    path = tiny_spec(folder, model_dir, max_steps=2)
    spec = yaml.safe_load(path.read_text())
    spec["eval"]["limit"] = 2
    spec["resources"] = {"train": {"num_cpus": 1}, "eval": {"num_cpus": 1}}  # the same threads both ways
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
    """The same ablation on the local executor (in this process, one thread like the Ray tasks)."""
    import torch

    folder = tmp_path_factory.mktemp("local")
    ws = Workspace(folder / "home")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_ablation(ws, _spec(folder, tiny_model_dir), executor=LocalExecutor())
    finally:
        torch.set_num_threads(threads)
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    return _state(ws)


def test_ray_runs_the_ablation_with_the_local_executors_ids_and_scores(tmp_path, tiny_model_dir, ray_address,
                                                                        reference):
    from workbench.ablate.ray_executor import RayExecutor

    ws = Workspace(tmp_path / "home")
    spec = _spec(tmp_path, tiny_model_dir)
    result = run_ablation(ws, spec, executor=RayExecutor(address=ray_address))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    got = _state(ws)
    assert got["tasks"] == reference["tasks"] and got["runs"] == reference["runs"]
    assert got["samples"] == reference["samples"] and got["counts"] == reference["counts"]
    # every task ran on a Ray worker, which says so; the driver wrote all the rows
    where = [t["output"]["where"] for t in ws.catalog(reader=True).ablation_tasks("tiny")]
    assert len(where) == 7 and all("ray node" in w for w in where), where
    # the "nothing new to do" rerun
    again = run_ablation(ws, spec, executor=RayExecutor(address=ray_address))
    assert again.n_new == 0 and {o.status for o in again.outcomes} == {"cached"}


def test_a_driver_killed_mid_way_resumes_on_rerun_with_no_duplicate_rows(tmp_path, tiny_model_dir, ray_address,
                                                                         reference):
    from workbench.ablate.ray_executor import RayExecutor

    home = tmp_path / "home"
    spec = _spec(tmp_path, tiny_model_dir)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "ablate", str(spec), "--executor", "ray",
                             "--address", ray_address, "--no-report"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ws = Workspace(home)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:  # kill it once a train task is done
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
    assert any(t["status"] != "done" for t in before) or len(before) < 7

    result = run_ablation(ws, spec, executor=RayExecutor(address=ray_address))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    assert any(o.status == "cached" for o in result.outcomes) and result.n_new > 0
    got = _state(ws)
    assert got["tasks"] == reference["tasks"] and got["counts"] == reference["counts"]
    assert got["samples"] == reference["samples"] and got["runs"] == reference["runs"]
