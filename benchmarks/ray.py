"""A 4-variant tiny ablation on the Ray executor vs the local one, on this machine.

Each arm runs the same spec in a fresh workspace: the local executor as `workbench ablate` runs
it (train and eval tasks in a child process each, every core), and the Ray executor on a local
Ray instance with every core (1 CPU per task, so two tasks run at once on 2 cores). Prints each
arm's wall time, the ratio (Ray / local, with and without Ray's start-up), whether the ids and
per-item scores match, and where each task ran.

    python benchmarks/ray.py                   # the tiny test model, 2 train steps, limit 2
    python benchmarks/ray.py --max-steps 4 --limit 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# this file is named ray.py: take its folder off the path so `import ray` finds Ray, not this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever is installed


def spec_file(folder: Path, model: Path, max_steps: int, limit: int) -> Path:
    import yaml

    from tests.ablate_helpers import tiny_spec, write_data

    paths = write_data(folder / "data")
    extra = [{"name": "all-raw", "sources": [str(paths["all"])]},
             {"name": "both", "sources": [str(paths["all"]), str(paths["math"])],
              "recipe": {"steps": [{"step": "exact_dedup"}]}}]
    spec = tiny_spec(folder, model, name="raybench", max_steps=max_steps, extra_variants=extra)
    data = yaml.safe_load(spec.read_text())
    data["eval"]["limit"] = limit
    data["resources"] = {"train": {"num_cpus": 1}, "eval": {"num_cpus": 1}}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def state(home: Path) -> tuple:
    from workbench.workspace import Workspace

    cat = Workspace(home).catalog(reader=True)
    tasks = sorted((t["task_id"], t["status"]) for t in cat.ablation_tasks("raybench"))
    scores = cat.query("SELECT r.run_id, r.suite, s.item_id, s.scores FROM eval_samples s "
                       "JOIN eval_results r ON r.id = s.result_id ORDER BY 1, 2, 3")
    return tasks, [tuple(r.values()) for r in scores]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-steps", type=int, default=2)
    ap.add_argument("--limit", type=int, default=2)
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import importlib.util

    import ray

    loader = importlib.util.spec_from_file_location("ablate_memory", REPO / "benchmarks" / "ablate_memory.py")
    ablate_memory = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(ablate_memory)
    tiny_model = ablate_memory.tiny_model

    from workbench.ablate import LocalExecutor, run_ablation
    from workbench.ablate.ray_executor import RayExecutor
    from workbench.workspace import Workspace

    folder = Path(tempfile.mkdtemp(prefix="wb-raybench-"))
    model = tiny_model(folder / "model")
    spec = spec_file(folder, model, a.max_steps, a.limit)
    cpus = os.cpu_count() or 1
    print(f"4 variants x 1 seed (4 builds, 4 trains, 5 evals), tiny model, {a.max_steps} train steps, "
          f"eval limit {a.limit}, {cpus} cores")

    t0 = time.perf_counter()
    local = run_ablation(Workspace(folder / "local"), spec, executor=LocalExecutor(isolate=True))
    t_local = time.perf_counter() - t0
    assert not local.failures, [(o.task.label, o.error) for o in local.failures]

    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, object_store_memory=256 * 1024 ** 2, log_to_driver=False,
             configure_logging=False)
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run_ablation(Workspace(folder / "ray"), spec, executor=RayExecutor())
    t_ray = time.perf_counter() - t0
    assert not res.failures, [(o.task.label, o.error) for o in res.failures]
    ray.shutdown()

    (ids_l, scores_l), (ids_r, scores_r) = state(folder / "local"), state(folder / "ray")
    print(f"local executor (a child process per train/eval task): {t_local:.1f}s")
    print(f"ray executor: {t_ray:.1f}s, plus {t_start:.1f}s to start the local Ray instance")
    print(f"ray/local wall time: {t_ray / t_local:.2f}x without start-up, {(t_ray + t_start) / t_local:.2f}x with it")
    print(f"same task ids and statuses: {ids_l == ids_r}; same per-item scores: {scores_l == scores_r} "
          "(local uses every core per task, ray 1 thread per task)")
    print("placement (ray):")
    for t in Workspace(folder / "ray").catalog(reader=True).ablation_tasks("raybench"):
        print(f"  {t['label']:<24} {t['wall_s']:6.1f}s  {t['output'].get('where')}")


if __name__ == "__main__":
    main()
