"""Per-task overhead of the local executor: a fresh process per model task with sanity generations
(before) against one warm worker without them (after, the ablation's default), side by side.

One small training data set (the quickstart's example data, ingested) and a base model. For seed
0..N-1 a train task (max_steps steps) and an eval of its run (think_follow smoke, a few items;
--suite picks another).
The first --cold seeds run in both arms, interleaved task by task (cold train, warm train, cold
eval, warm eval), each arm in its own workspace; the warm arm then goes on alone to --seeds seeds
(2 x seeds tasks in one worker). Per task:

- wall: around `executor.run`, in the parent;
- work: the training loop (the run's train_wall_s) or the suites' generation and scoring (wall_s);
- overhead = wall - work: start-up, imports, loading, saving, sanity generations, bookkeeping;
- for the warm worker, its RSS after the task and the task's own peak (VmHWM, reset per task).

It also checks that both arms gave the same run ids and the same eval metrics.

    python benchmarks/warm_workers.py                                   # SmolLM2-135M, 3 cold, 10 warm seeds
    python benchmarks/warm_workers.py --seeds 10 --cold 3 --max-steps 2
    python benchmarks/warm_workers.py --model DIR --suite gsm_style_bpb   # a tiny model: RSS over 20 tasks
    /usr/bin/time -v python benchmarks/warm_workers.py                  # + the largest process's peak
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever is installed


def spec_file(folder: Path, model: str, max_steps: int, limit: int, suite: str) -> Path:
    spec = {
        "name": "warm-bench", "base": model, "seeds": [0],
        # the quickstart's settings, fewer steps: batch 2, max_length 384, 2 sanity prompts x 48 tokens
        "train": {"max_steps": max_steps, "batch_size": 2, "grad_accum": 1, "max_length": 384, "save_steps": 50,
                  "sanity_prompts": 2, "sanity_max_new_tokens": 48},
        "eval": {"suites": [suite], "layer": "smoke", "limit": limit},
        "variants": [{"name": "raw", "sources": [str(REPO / "datasets" / "example_raw.jsonl")]}],
    }
    path = folder / "warm-bench.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def work_s(kind: str, out) -> float:
    if kind == "train":
        return out.train_wall_s or 0.0
    return sum(r.wall_s for r in out.results) if kind == "eval" else 0.0


class Arm:
    def __init__(self, name: str, home: Path, executor):
        from workbench.core.workspace import Workspace

        self.name, self.ws, self.ex = name, Workspace(home), executor
        self.rows: list[dict] = []
        self.outputs: dict[tuple, object] = {}

    def run(self, task, seed: int):
        t0 = time.perf_counter()
        out = self.ex.run(self.ws, task)
        wall = time.perf_counter() - t0
        row = {"kind": task.kind, "seed": seed, "wall": wall, "work": work_s(task.kind, out)}
        worker = getattr(self.ex, "worker", None)
        if worker is not None and task.kind != "build" and worker.stats.tasks:
            info = worker.stats.tasks[-1]
            row.update(rss=info["rss_mb"], peak=info["task_peak_mb"], pid=info["pid"])
        self.rows.append(row)
        self.outputs[(task.kind, seed)] = out
        extra = f"  rss {row['rss']:,.0f} MiB, task peak {row['peak']:,.0f} MiB" if "rss" in row else ""
        print(f"{self.name:5s} {task.kind:5s} seed {seed}: wall {wall:6.1f} s, work {row['work']:5.1f} s, "
              f"overhead {wall - row['work']:5.1f} s{extra}", flush=True)
        return out


def summary(arms: list[Arm], seeds_both: int) -> None:
    print("\nper-task overhead (wall - work), seconds: median [min, max] over the seeds both arms ran")
    print(f"{'arm':6s} {'kind':6s} {'n':>3s} {'overhead':>22s} {'wall':>8s} {'work':>8s}")
    for arm in arms:
        for kind in ("train", "eval"):
            rows = [r for r in arm.rows if r["kind"] == kind and r["seed"] < seeds_both]
            if not rows:
                continue
            ov = [r["wall"] - r["work"] for r in rows]
            print(f"{arm.name:6s} {kind:6s} {len(rows):3d} {statistics.median(ov):8.1f} [{min(ov):5.1f}, {max(ov):5.1f}]"
                  f" {statistics.median(r['wall'] for r in rows):8.1f} {statistics.median(r['work'] for r in rows):8.1f}")
    warm = arms[1]
    rows = [r for r in warm.rows if r["kind"] != "build"]
    if len(rows) > 1:
        later = [r["wall"] - r["work"] for r in rows[1:]]
        print(f"warm, every task after the first ({len(later)}): overhead median {statistics.median(later):.1f} s, "
              f"max {max(later):.1f} s")
        rss = [r["rss"] for r in rows if "rss" in r]
        pids = {r["pid"] for r in rows if "pid" in r}
        print(f"warm worker RSS after each task (MiB): {', '.join(f'{x:,.0f}' for x in rss)}")
        print(f"  first {rss[0]:,.0f}, last {rss[-1]:,.0f}, max {max(rss):,.0f}; task peaks max "
              f"{max(r['peak'] for r in rows):,.0f} MiB; worker processes used: {len(pids)} "
              f"(recycled {warm.ex.worker.stats.recycled}, bound {warm.ex.worker.max_rss_mb:,.0f} MiB)")


def same_results(cold: Arm, warm: Arm, seeds: int) -> bool:
    ok = True
    for seed in range(seeds):
        a, b = cold.outputs[("train", seed)], warm.outputs[("train", seed)]
        ea, eb = cold.outputs[("eval", seed)], warm.outputs[("eval", seed)]
        ma = [(r.suite, r.result_id, r.metrics) for r in ea.results]
        mb = [(r.suite, r.result_id, r.metrics) for r in eb.results]
        same = a.run_id == b.run_id and ma == mb
        ok &= same
        print(f"seed {seed}: run {a.run_id} / {b.run_id}, eval metrics {'equal' if ma == mb else 'DIFFER'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--seeds", type=int, default=10, help="warm arm: seeds (2 tasks each)")
    ap.add_argument("--cold", type=int, default=3, help="seeds both arms run, interleaved")
    ap.add_argument("--max-steps", type=int, default=2)
    ap.add_argument("--limit", type=int, default=4, help="eval items")
    ap.add_argument("--suite", default="think_follow", help="the eval suite (gsm_style_bpb: likelihood only, fast)")
    ap.add_argument("--folder", type=Path, default=None)
    args = ap.parse_args()

    from workbench.ablate import LocalExecutor, build_task, eval_task, load_spec, resolved_train_config, train_task

    folder = args.folder or Path(tempfile.mkdtemp(prefix="warm-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    spec = load_spec(spec_file(folder, args.model, args.max_steps, args.limit, args.suite))
    config = resolved_train_config(spec)
    cold = Arm("cold", folder / "home-cold", LocalExecutor(isolate=True, warm=False, sanity=True))
    warm = Arm("warm", folder / "home-warm", LocalExecutor(isolate=True, warm=True, sanity=False))
    build = build_task(spec, spec.variants[0])
    versions = {arm.name: arm.run(build, -1).version for arm in (cold, warm)}  # the warm worker starts here
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        arms = (cold, warm) if seed < args.cold else (warm,)
        trains = {arm.name: arm.run(train_task(spec, "raw", versions[arm.name], seed, config), seed) for arm in arms}
        for arm in arms:
            arm.run(eval_task(spec, "raw", seed, trains[arm.name].run_id), seed)
    print(f"\nall tasks: {time.perf_counter() - t0:.0f} s")
    summary([cold, warm], args.cold)
    same = same_results(cold, warm, args.cold)
    print(f"same run ids and eval metrics, cold vs warm: {same}")
    warm.ex.close()


if __name__ == "__main__":
    main()
