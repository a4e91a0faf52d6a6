"""What validation curves cost: the quickstart's training (12 steps of 2 x 3, bundled SmolLM2-135M,
244 example records) with and without a held-out split evaluated at eval_steps, side by side.

    python benchmarks/validation_cost.py [--eval-fraction 0.1] [--eval-steps 4] [--repeats 1]

Prints each run's training wall time (Trainer.train, which includes the evaluations), the time
the evaluations took inside it (the run's meta `eval_s`, from the Trainer's eval_runtime: measured
in the same run, so machine load cancels) and the cost ratio. `--only-on` skips the run without.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUICKSTART = {"max_steps": 12, "batch_size": 2, "grad_accum": 3, "lr": 5.0e-4, "warmup_ratio": 0.1, "max_length": 384,
              "save_steps": 4, "sanity_prompts": 2, "sanity_max_new_tokens": 48}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-fraction", type=float, default=0.1)
    ap.add_argument("--eval-steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only-on", action="store_true")
    a = ap.parse_args()
    from workbench.data.ingest import ingest
    from workbench.train import train
    from workbench.core.workspace import Workspace

    walls: dict[str, list[float]] = {"off": [], "on": []}
    evals: list[float] = []
    for rep in range(a.repeats):
        for arm in (("on",) if a.only_on else ("on", "off")):  # alternating, so both arms see the same machine load on average
            ws = Workspace(Path(tempfile.mkdtemp(prefix="wb-val-bench-")))
            vid = ingest(ws, REPO / "datasets" / "example_clean.jsonl", name="curated").version.id
            cfg = dict(QUICKSTART)
            if arm == "on":
                cfg.update(eval_fraction=a.eval_fraction, eval_steps=a.eval_steps)
            r = train(ws, vid, None, cfg, seed=rep, progress=False)
            row = ws.catalog().get_run(r.id)
            walls[arm].append(r.wall_s)
            ev = row["meta"].get("eval_s") or 0.0
            if arm == "on":
                evals.append(ev)
            print(f"repeat {rep} validation {arm}: train wall {r.wall_s:.1f} s, of which held-out eval {ev:.1f} s "
                  f"({row['n_eval']} records): {100 * ev / (r.wall_s - ev):+.1f}% on the training alone", flush=True)
    if evals:
        share = sum(evals) / sum(w - e for w, e in zip(walls["on"], evals))
        print(f"\nheld-out evaluation inside the runs with it: {100 * share:+.1f}% on their training time "
              f"(the quickstart turns it on below +10%)")
    if walls["off"]:
        off, on = sum(walls["off"]) / len(walls["off"]), sum(walls["on"]) / len(walls["on"])
        print(f"mean train wall: off {off:.1f} s, on {on:.1f} s ({100 * (on / off - 1):+.1f}%, across runs: load-sensitive)")


if __name__ == "__main__":
    main()
