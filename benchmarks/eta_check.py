"""How good was the ablation's ETA? Replays the per-kind estimate over a finished ablation's
recorded task times (the catalog's ablation_tasks) and prints, at the start and after each
finished task, what the display said was left against what really was left.

    python benchmarks/eta_check.py [--home WORKBENCH_HOME] [--wall S] [NAME]   # default: quickstart

`--wall S`: the command's wall time (from /usr/bin/time); what followed the last task (summary
and report) is then part of what was left, against the estimate's allowance for it.

Run it after `workbench ablate examples/quickstart.yaml` on a fresh workspace (cached tasks
have no time and are left out).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workbench.ablate.estimate import AFTER_TASKS_S, REPORT_S, recorded, replay
from workbench.progress import fmt_s
from workbench.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?", default="quickstart")
    ap.add_argument("--home", default=os.environ.get("WORKBENCH_HOME", ".workbench"))
    ap.add_argument("--wall", type=float, help="the ablate command's wall time in seconds")
    args = ap.parse_args()
    ws = Workspace(Path(args.home).resolve())
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


if __name__ == "__main__":
    main()
