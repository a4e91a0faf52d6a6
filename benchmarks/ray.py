"""A 4-variant tiny ablation on the Ray executor vs the local one, side by side in one run.

Three arms, each the same spec in a fresh workspace, each in its own process under
`/usr/bin/time -v` (peak RSS of the largest process) with its process tree's summed RSS sampled
(the Ray arms' tree holds the local Ray instance: GCS, raylet, workers):

- local: the local executor as `workbench ablate` runs it (train and eval tasks in a child
  process each, with every core; builds in the runner's process), one task at a time;
- ray: a local Ray instance with every core, 1 CPU (= 1 thread) per task, so tasks run side by side;
- ray-serial: every task asks for every core, so Ray runs one at a time with the local arm's
  thread count: the same work as local, so its extra time is Ray's overhead alone;
- ray-reuse: as ray, but train and eval tasks reuse worker processes (`--in-process`, i.e.
  isolate=False: no fresh process, no torch import per model task; memory is not given back).

Prints each arm's wall time and peak memory, the ratios to local (with and without Ray's
start-up), the overhead per task (ray-serial minus local, over the tasks, and where Ray's time
went per task: snapshot, wait for a worker, imports, step, trip back, applying rows), whether the
ids and per-item scores match, and where each task ran.

    python benchmarks/ray.py                   # the tiny test model, 2 train steps, limit 2
    python benchmarks/ray.py --max-steps 4 --limit 4 --arms local,ray   # local is always needed
    python benchmarks/ray.py --report /tmp/wb-raybench-XXXX             # the arms a cut-short run finished
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# this file is named ray.py: take its folder off the path so `import ray` finds Ray, not this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever is installed
ARMS = ("local", "ray", "ray-serial", "ray-reuse")


def _ablate_memory():
    loader = importlib.util.spec_from_file_location("ablate_memory", REPO / "benchmarks" / "ablate_memory.py")
    mod = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mod)
    return mod


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
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


# --- one arm, in its own process ------------------------------------------------------
def run_arm(arm: str, home: str, spec: str, out: str) -> None:
    from workbench.ablate import LocalExecutor, run_ablation
    from workbench.ablate.ray_executor import RayExecutor
    from workbench.ablate.spec import ResourcesSpec
    from workbench.core.workspace import Workspace

    cpus = os.cpu_count() or 1
    start_s = 0.0
    if arm == "local":
        executor = LocalExecutor(isolate=True)
    else:
        share = cpus if arm == "ray-serial" else 1
        executor = RayExecutor(num_cpus=cpus, isolate=arm != "ray-reuse", resources=ResourcesSpec.model_validate(
            {k: {"num_cpus": share} for k in ("build", "train", "eval")}))
        t0 = time.perf_counter()
        executor._start()  # the local Ray instance, timed apart
        start_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_ablation(Workspace(Path(home)), spec, executor=executor)
    run_s = time.perf_counter() - t0
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    timings = [dict(vars(t), overhead_s=t.overhead_s) for t in getattr(executor, "timings", [])]
    Path(out).write_text(json.dumps({"start_s": start_s, "run_s": run_s, "n_tasks": result.n_new, "timings": timings}))
    if arm != "local":
        import ray

        ray.shutdown()


def measure(arm: str, folder: Path, spec: Path) -> dict:
    """One arm under /usr/bin/time -v, its process tree's RSS sampled every 0.2 s."""
    import psutil

    tree_rss = _ablate_memory().tree_rss
    home, out, err = folder / f"home-{arm}", folder / f"{arm}.json", folder / f"{arm}.err"
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--arm", arm, "--home", str(home), "--spec", str(spec),
           "--out", str(out)]
    with open(err, "w") as fh:
        proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, env={**os.environ, "WORKBENCH_PROGRESS": "0"})
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, tree_rss(proc))
            except psutil.Error:
                pass
            time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"arm {arm} failed ({proc.returncode}):\n{err.read_text()[-4000:]}")
    (folder / f"{arm}.tree").write_text(str(peak / 2**20))
    return load_arm(folder, arm)


def load_arm(folder: Path, arm: str) -> dict:
    """A finished arm's figures, from its files in `folder`."""
    res = json.loads((folder / f"{arm}.json").read_text())
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", (folder / f"{arm}.err").read_text())
    tree = folder / f"{arm}.tree"
    res.update(arm=arm, home=folder / f"home-{arm}", max_process_mib=int(rss.group(1)) / 1024 if rss else float("nan"),
               tree_mib=float(tree.read_text()) if tree.exists() else float("nan"))
    return res


# --- the comparison ---------------------------------------------------------------------
def state(home: Path) -> tuple:
    from workbench.core.workspace import Workspace

    cat = Workspace(home).catalog(reader=True)
    tasks = sorted((t["task_id"], t["status"]) for t in cat.ablation_tasks("raybench"))
    scores = cat.query("SELECT r.run_id, r.suite, s.item_id, s.scores FROM eval_samples s "
                       "JOIN eval_results r ON r.id = s.result_id ORDER BY 1, 2, 3")
    return tasks, [tuple(r.values()) for r in scores]


def breakdown(timings: list[dict]) -> None:
    """Mean seconds per task, per kind, of where a Ray task's time went."""
    cols = ("snapshot_s", "wait_s", "imports_s", "step_s", "back_s", "apply_s", "overhead_s")
    print(f"    {'kind':6s} {'n':>2s} " + " ".join(f"{c[:-2]:>8s}" for c in cols))
    for kind in ("build", "train", "eval"):
        rows = [t for t in timings if t["kind"] == kind]
        if rows:
            print(f"    {kind:6s} {len(rows):2d} " + " ".join(f"{statistics.mean(t[c] for t in rows):8.2f}" for c in cols))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-steps", type=int, default=2)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--arms", default=",".join(ARMS), help=f"a comma list of {', '.join(ARMS)}")
    ap.add_argument("--arm")
    ap.add_argument("--home")
    ap.add_argument("--spec")
    ap.add_argument("--out")
    ap.add_argument("--report", help="print the figures of the arms finished in this folder (of a run cut short)")
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if a.arm:
        return run_arm(a.arm, a.home, a.spec, a.out)
    if a.report:
        return report({arm: load_arm(Path(a.report), arm) for arm in ARMS if (Path(a.report) / f"{arm}.json").exists()})
    arms = a.arms.split(",")
    if not set(arms) <= set(ARMS) or "local" not in arms:
        raise SystemExit(f"--arms: a comma list of {', '.join(ARMS)}, with local (the reference)")

    folder = Path(tempfile.mkdtemp(prefix="wb-raybench-"))
    model = _ablate_memory().tiny_model(folder / "model")
    spec = spec_file(folder, model, a.max_steps, a.limit)
    cpus = os.cpu_count() or 1
    print(f"4 variants x 1 seed (4 builds, 4 trains, 5 evals), tiny model, {a.max_steps} train steps, "
          f"eval limit {a.limit}, {cpus} cores, load average {os.getloadavg()[0]:.1f} at the start")
    res = {arm: measure(arm, folder, spec) for arm in arms}
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    report(res)


def report(res: dict) -> None:
    local = res["local"]
    print(f"\n| arm | wall s | Ray start-up s | ratio to local (with start-up) | peak RSS largest process MiB | "
          "peak RSS process tree MiB |\n|---|---:|---:|---:|---:|---:|")
    for arm, r in res.items():
        ratio = f"{r['run_s'] / local['run_s']:.2f}x ({(r['run_s'] + r['start_s']) / local['run_s']:.2f}x)"
        print(f"| {arm} | {r['run_s']:.1f} | {r['start_s']:.1f} | {ratio} | {r['max_process_mib']:.0f} | "
              f"{r['tree_mib']:.0f} |")
    ref = state(local["home"])
    for arm, r in res.items():
        if arm == "local":
            continue
        got = state(r["home"])
        print(f"\n{arm}: same task ids and statuses as local: {got[0] == ref[0]}; same per-item scores: {got[1] == ref[1]}")
        extra = r["run_s"] + r["start_s"] - local["run_s"]
        print(f"  over local: {extra:+.1f}s in all, {extra / local['n_tasks']:+.2f}s per task "
              f"({r['start_s']:.1f}s of it Ray's start-up); per task, where the time went (s):")
        breakdown(r["timings"])
    if "ray" in res:
        from workbench.core.workspace import Workspace

        print("\nplacement (ray):")
        for t in Workspace(res["ray"]["home"]).catalog(reader=True).ablation_tasks("raybench"):
            print(f"  {t['label']:<24} {t['wall_s']:6.1f}s  {t['output'].get('where')}")


if __name__ == "__main__":
    main()
