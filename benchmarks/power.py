"""Power by design, read from a finished strategies ablation on real trainings (issue 28).

Everything comes from the report's own decisions (workbench.report.gather.report_data: one engine),
per suite headline metric:

(a) each removal against its size-matched random controls: the difference, its interval and the
    minimum detectable difference (target <= 0.03 bits per byte);
(b) random controls of the same size against each other (different draws and seeds): the largest
    difference of their means (target <= 0.02), as is and with each seed's shared effect taken out
    (each control against the source's run of its own seed); and, with `draw_check: true`, two draws
    trained with the same seed (the draw A/A);
(c) each planted defect against its source: the verdict (target: "hurts");
(d) every random control against the source it was drawn from: how many the engine calls better or
    worse (target <= 5%);
(e) the ablation's tasks and their wall time summed.

    workbench ablate examples/strategies.yaml
    python benchmarks/power.py strategies [--home WORKBENCH_HOME]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ablation")
    ap.add_argument("--home", help="WORKBENCH_HOME of the workspace (default: the usual one)")
    a = ap.parse_args()
    if a.home:
        os.environ["WORKBENCH_HOME"] = a.home
    from workbench.ablate.strategies import tags
    from workbench.core.workspace import Workspace
    from workbench.report.gather import report_data

    data = report_data(Workspace.default(), a.ablation)
    tagged = tags(data.spec)
    controls = {n for n, t in tagged.items() if t.role == "control"}
    means = {(s["variant"], s["suite"], s["metric"]): s["mean"] for s in data.scores}
    heads = [(suite, m) for suite, ms in data.headlines.items() for m in ms]

    print("(a) removal vs its size-matched random controls")
    shown = set()  # a variant with two roles (per_step: one step alone = the other left out) has a row for each
    for r in data.strategies:
        if r.vs_control is not None and (r.variant, r.suite, r.metric) not in shown:
            shown.add((r.variant, r.suite, r.metric))
            c = r.vs_control
            print(f"  {r.variant:34s} {r.suite} {r.metric}: {c.delta:+.4f} [{c.lo:+.4f}, {c.hi:+.4f}] "
                  f"df {c.df:.1f}, MDD {c.mdd:.4f}, {r.rows_removed} rows removed -> {r.verdict}")

    print("(b) random controls of the same size, mean against mean; and each against the source's run of its own")
    print("    seed first (the seed's effect, shared by every run of that seed, taken out)")
    by_of: dict[str, list[str]] = {}
    for n in sorted(controls):
        by_of.setdefault(tagged[n].control_of, []).append(n)
    per_seed = {(r["variant"], r["suite"], r["metric"]): r["seeds"] for r in data.seed_spread}
    worst = worst_adj = 0.0
    for suite, m in heads:
        for of, names in by_of.items():
            src = per_seed.get((tagged[of].compare_to, suite, m), {})
            for x, y in itertools.combinations(names, 2):
                if (x, suite, m) in means and (y, suite, m) in means:
                    d = means[(y, suite, m)] - means[(x, suite, m)]
                    worst = max(worst, abs(d))
                    adj = ""
                    sx, sy = str(tagged[x].seed), str(tagged[y].seed)
                    if sx in src and sy in src:
                        a = d - (src[sy] - src[sx])
                        worst_adj = max(worst_adj, abs(a))
                        adj = f", {a:+.4f} against the source at the same seeds"
                    print(f"  {y} - {x} ({suite} {m}): {d:+.4f}{adj}")
    print(f"  largest |difference|: {worst:.4f}; with the seed's effect taken out: {worst_adj:.4f}")
    checks = [r for r in data.strategies if r.role == "draw_check"]
    if checks:
        print("    the draw A/A (`draw_check`): another draw trained with the same seed as a control, mean against mean")
        worst_same = 0.0
        for r in checks:
            (ctrl,) = r.controls
            if (r.variant, r.suite, r.metric) in means and (ctrl, r.suite, r.metric) in means:
                d = means[(r.variant, r.suite, r.metric)] - means[(ctrl, r.suite, r.metric)]
                worst_same = max(worst_same, abs(d))
                side = r.vs_control.text() if r.vs_control else "not decided"
                print(f"  {r.variant} - {ctrl} ({r.suite} {r.metric}): {d:+.4f}; engine: {side} -> {r.verdict}")
        print(f"  largest |difference| of two draws at one seed: {worst_same:.4f}")

    print("(c) planted defects against their source")
    for r in data.strategies:
        if r.role == "defect" and r.vs_source is not None:
            s = r.vs_source
            print(f"  {r.variant} ({r.suite} {r.metric}): {s.delta:+.4f} [{s.lo:+.4f}, {s.hi:+.4f}], "
                  f"p_adj {s.p_adjusted:.2g} -> {r.verdict}")

    print("(d) random removals against their source (every pair the report decides)")
    sources = {n: t.compare_to for n, t in tagged.items() if t.role == "control"}
    called = total = 0
    for c in data.comparisons:
        for ctrl, other in ((c.b, c.a), (c.a, c.b)):
            if c.headline and ctrl in sources and other == sources[ctrl]:
                total += 1
                called += c.verdict in ("better", "worse")
                print(f"  {ctrl} vs {other} ({c.suite} {c.metric}): {c.delta:+.4f} [{c.lo:+.4f}, {c.hi:+.4f}] "
                      f"-> {c.verdict}")
    print(f"  called better or worse: {called} of {total}")

    print("(e) cost")
    wall = sum(float(t.get("wall_s") or 0) for t in data.tasks)
    print(f"  tasks: {len(data.tasks)}, their wall time summed: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
