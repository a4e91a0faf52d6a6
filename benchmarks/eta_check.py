"""How good was the ablation's ETA? Replays the per-kind estimate over a finished ablation's
recorded task times (the catalog's ablation_tasks) and prints, at the start and after each
finished task, what the display said was left against what really was left.

    python benchmarks/eta_check.py [--home WORKBENCH_HOME] [--wall S] [NAME]   # default: quickstart
    python benchmarks/eta_check.py --fit [--home WORKBENCH_HOME] [NAME]        # the rates its rows show

`--wall S`: the command's wall time (from /usr/bin/time); what followed the last task (summary
and report) is then part of what was left, against the estimate's allowance for it.

Run it after `workbench ablate examples/quickstart.yaml` on a fresh workspace (cached tasks
have no time and are left out).

`--fit` prints the rates the estimate's constants (workbench/ablate/estimate.py) would take from
this ablation's rows: train tokens/s (the prior's tokens over the training loop's time), seconds
per decoding step of a batch and per likelihood item (the suites' recorded times), and each
kind's overhead per task (the task's wall time less its loop or suites).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import statistics

from workbench.ablate import estimate
from workbench.ablate.estimate import AFTER_TASKS_S, REPORT_S, recorded, replay
from workbench.core.progress import fmt_s
from workbench.core.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?", default="quickstart")
    ap.add_argument("--home", default=os.environ.get("WORKBENCH_HOME", ".workbench"))
    ap.add_argument("--wall", type=float, help="the ablate command's wall time in seconds")
    ap.add_argument("--fit", action="store_true", help="print the rates this ablation's rows show")
    args = ap.parse_args()
    ws = Workspace(Path(args.home).resolve())
    if args.fit:
        fit(ws, args.name)
        return
    tasks = recorded(ws, args.name)
    if not tasks:
        raise SystemExit(f"no finished tasks with recorded times for {args.name!r} in {args.home}")
    actual_tail = 0.0
    if args.wall:
        rows = [t for t in ws.catalog(reader=True).ablation_tasks(args.name) if t["status"] == "done" and t["wall_s"]]
        span = (max(t["finished"] for t in rows) - min(t["started"] for t in rows)).total_seconds()
        actual_tail = max(0.0, args.wall - span)  # the summary and report (and the start-up, a second or two)
        print(f"tasks spanned {fmt_s(span)} of the command's {fmt_s(args.wall)}: {actual_tail:.0f} s after them")
    print(f"{'after':32s} {'prior':>7s} {'took':>7s} {'said left':>10s} {'was left':>9s} {'error':>6s}")
    points = replay(tasks, tail_s=AFTER_TASKS_S + REPORT_S, actual_tail_s=actual_tail)
    for i, p in enumerate(points):
        prior, took = (fmt_s(tasks[i - 1][0].prior_s), fmt_s(tasks[i - 1][1])) if i else ("", "")
        print(f"{p.after:32s} {prior:>7s} {took:>7s} {fmt_s(p.estimate_s):>10s} {fmt_s(p.actual_s):>9s} {p.error:6.0%}")
    first_eval = next(i for i, p in enumerate(points) if p.kind == "eval")
    live = points[:-1]  # the last point has nothing left
    print(f"worst error from the first line: {max(p.error for p in live):.0%}; "
          f"from the first finished eval: {max((p.error for p in live[first_eval:]), default=0):.0%}")


def fit(ws: Workspace, name: str) -> None:
    """The estimate's rates from a finished ablation's rows (tasks that ran, not cached)."""
    cat = ws.catalog(reader=True)
    rows = [t for t in cat.ablation_tasks(name) if t["status"] == "done" and t["wall_s"]]
    tokens = loop = 0.0
    train_over, eval_over = [], []
    steps = items = gen_s = lik_s = 0.0
    for t in rows:
        inputs, out = t["inputs"] or {}, t["output"] or {}
        if t["kind"] == "train" and out.get("train_wall_s"):
            v = cat.resolve_version(inputs["version"])
            stats = v["stats"] if isinstance(v["stats"], dict) else {}
            tokens += estimate.train_tokens(inputs["config"], v["n_rows"], stats["mean_tokens"])
            loop += out["train_wall_s"]
            train_over.append(t["wall_s"] - out["train_wall_s"])
        elif t["kind"] == "eval":
            s, i = estimate.eval_parts(inputs["suites"], inputs["layer"], inputs.get("limit"))
            results = [cat.get_eval_result(r["result_id"]) for r in out.get("results", [])]
            steps, items = steps + s, items + i
            gen_s += sum(r["wall_s"] - (r["likelihood_s"] or 0.0) for r in results)
            lik_s += sum(r["likelihood_s"] or 0.0 for r in results)
            eval_over.append(t["wall_s"] - sum(r["wall_s"] for r in results))
    print(f"{name}: {len(train_over)} trainings, {len(eval_over)} evals")
    if loop:
        print(f"TRAIN_TOKENS_PER_S = {tokens / loop:.1f}   (now {estimate.TRAIN_TOKENS_PER_S})")
        print(f"TRAIN_OVERHEAD_S = {statistics.median(train_over):.1f}   (now {estimate.TRAIN_OVERHEAD_S}; "
              f"per task {', '.join(f'{x:.1f}' for x in train_over)})")
    if steps:
        print(f"BATCH_STEP_S = {gen_s / steps:.3f}   (now {estimate.BATCH_STEP_S})")
    if items:
        print(f"LIKELIHOOD_S_PER_ITEM = {lik_s / items:.3f}   (now {estimate.LIKELIHOOD_S_PER_ITEM})")
    if eval_over:
        print(f"EVAL_OVERHEAD_S = {statistics.median(eval_over):.1f}   (now {estimate.EVAL_OVERHEAD_S}; "
              f"per task {', '.join(f'{x:.1f}' for x in eval_over)})")


if __name__ == "__main__":
    main()
