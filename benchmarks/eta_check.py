"""How good was the ablation's ETA? Replays the per-kind estimate over a finished ablation's
recorded task times (the catalog's ablation_tasks) and prints, at the start and after each
finished task, what the display said was left against what really was left.

    python benchmarks/eta_check.py [--home WORKBENCH_HOME] [NAME]     # default: quickstart

Run it after `workbench ablate examples/quickstart.yaml` on a fresh workspace (cached tasks
have no time and are left out).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workbench.ablate.estimate import recorded, replay
from workbench.progress import fmt_s
from workbench.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?", default="quickstart")
    ap.add_argument("--home", default=os.environ.get("WORKBENCH_HOME", ".workbench"))
    args = ap.parse_args()
    tasks = recorded(Workspace(Path(args.home).resolve()), args.name)
    if not tasks:
        raise SystemExit(f"no finished tasks with recorded times for {args.name!r} in {args.home}")
    print(f"{'after':32s} {'prior':>7s} {'took':>7s} {'said left':>10s} {'was left':>9s} {'error':>6s}")
    points = replay(tasks)
    for i, p in enumerate(points):
        prior, took = (fmt_s(tasks[i - 1][0].prior_s), fmt_s(tasks[i - 1][1])) if i else ("", "")
        print(f"{p.after:32s} {prior:>7s} {took:>7s} {fmt_s(p.estimate_s):>10s} {fmt_s(p.actual_s):>9s} {p.error:6.0%}")
    first_eval = next(i for i, p in enumerate(points) if p.kind == "eval")
    live = points[:-1]  # the last point has nothing left
    print(f"worst error from the first line: {max(p.error for p in live):.0%}; "
          f"from the first finished eval: {max((p.error for p in live[first_eval:]), default=0):.0%}")


if __name__ == "__main__":
    main()
