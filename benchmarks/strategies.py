"""Calibration of the strategy verdict (issue 13): size-matched random controls on synthetic
per-item scores with seed noise and a per-draw offset (which rows went).

A strategy of STEPS removal variants, each a fixed draw of rows, each against its random
control drawn anew per seed (2 seeds), with the seed variance pooled over every control of the
strategy (`controls.removal_vs_control`'s weight 1/k + 1), Holm over the strategy's family and
helps / hurts / inconclusive as report/strategies.py calls them. Prints:

(a) random-subset removals (no effect): the share called "helps" and called at all;
(b) a planted benefit of one MDE (taken at alpha / STEPS, the Holm worst case) in one step:
    the share called "helps" (target 80%);
(c) suggest-thresholds on a synthetic dose-response with a known slope: the share of fits
    whose threshold is within 10% of the true one.

(d) with 3 common seeds and a seed effect shared by every run of a seed: the controls' own spread
    against the paired differences' spread (controls.paired_control_variance), null and planted.

Run: python benchmarks/strategies.py [--reps 1000] [--items 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.ablate.thresholds import fit_dose, threshold_rate  # noqa: E402
from workbench.evals import verdict  # noqa: E402
from workbench.evals.decide import min_detectable  # noqa: E402
from workbench.evals.simulate import SimSpec, batch_diff, simulate  # noqa: E402

STEPS = 4
REGIMES = {"continuous": SimSpec(sd_draw=0.02), "draw_heavy": SimSpec(sd_draw=0.05, sd_seed=0.02),
           "binary": SimSpec(binary=True, sd_ixm=0.1, sd_seed=0.03, sd_draw=0.03)}
# issue 28: 3 seeds shared by every variant (common random numbers) with a seed effect c_s that moves every
# run of seed s alike (sd_common), as the redesigned examples/strategies.yaml measured (its seed-1 runs
# were 0.02-0.03 bits per byte lower in every control); each rule with and without the pairing
PAIRED_REGIMES = {"3 seeds, common seed effect 0.02": SimSpec(seeds=3, sd_draw=0.01, sd_seed=0.005, sd_common=0.02),
                  "3 seeds, no common seed effect": SimSpec(seeds=3, sd_draw=0.01, sd_seed=0.005),
                  "3 seeds, draw-heavy, common 0.02": SimSpec(seeds=3, sd_draw=0.03, sd_seed=0.01, sd_common=0.02)}


def family(spec: SimSpec, rng, shifts: list[float], reps: int, paired: bool = False) -> list[dict]:
    """batch_diff results (removal - control) of each of STEPS removals, per replicate. `paired`: the
    training noise from the spread of the paired differences removal_s - control_s over seeds
    (`controls.paired_control_variance`), else from the controls' own spread."""
    names = {f"step{j}": shifts[j] for j in range(STEPS)} | {f"control{j}": 0.0 for j in range(STEPS)}
    s = simulate(spec, names, reps, rng, redraw=tuple(f"control{j}" for j in range(STEPS)))
    pool = [s[f"step{j}"] - s[f"control{j}"] if paired else s[f"control{j}"] for j in range(STEPS)]
    return [batch_diff(s[f"control{j}"], s[f"step{j}"], pool, seed_weight=1 / spec.seeds + 1) for j in range(STEPS)]


def verdict_codes(res: list[dict], higher_is_better: bool) -> np.ndarray:
    """(reps, STEPS) codes: +1 helps, -1 hurts, 0 inconclusive; Holm within each replicate's strategy."""
    p = np.stack([r["p"] for r in res], axis=1)
    d = np.stack([r["delta"] for r in res], axis=1)
    adj = np.array([verdict.adjust_pvalues(list(row)) for row in p], dtype=float)
    return verdict.verdict_codes(d, adj, higher_is_better=higher_is_better)


def family_mdd(res: list[dict], n: int = 300) -> float:
    r = res[0]
    return float(np.mean([min_detectable(float(r["se"][j]), float(r["df"][j]), alpha=0.05 / STEPS)
                          for j in range(min(n, len(r["se"])))]))


def threshold_recovery(reps: int, rng, slope: float = -0.8, tolerance: float = 0.1, se: float = 0.01) -> float:
    rates, true = [0.05, 0.1, 0.2, 0.3], tolerance / -slope
    hits = 0
    for _ in range(reps):
        fit = fit_dose(rates, [slope * r + rng.normal(0, se) for r in rates], [se] * len(rates))
        hits += abs(threshold_rate(fit, tolerance)[0] - true) / true <= 0.10
    return hits / reps


def null_and_planted(spec: SimSpec, null_seed: int, planted_seed: int, reps: int, paired: bool = False) -> tuple:
    """(verdict codes of a strategy of random removals, its MDE, the share of one planted MDE-sized
    benefit called "helps")."""
    hib = spec.binary
    null = family(spec, np.random.default_rng(null_seed), [0.0] * STEPS, reps, paired)
    mdd = family_mdd(null)
    planted = family(spec, np.random.default_rng(planted_seed), [(mdd if hib else -mdd)] + [0.0] * (STEPS - 1), reps,
                     paired)
    return verdict_codes(null, hib), mdd, float(np.mean(verdict_codes(planted, hib)[:, 0] == 1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--items", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"| regime | comparisons | random removal called helps | called at all | power at 1 x MDE | MDE |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, (name, base) in enumerate(REGIMES.items()):
        spec = SimSpec(**{**base.__dict__, "n_items": args.items})
        codes, mdd, power = null_and_planted(spec, 100 + i, 200 + i, args.reps)
        print(f"| {name} | {codes.size} | {np.mean(codes == 1):.1%} | {np.mean(codes != 0):.1%} | {power:.1%} | "
              f"{mdd:.4f} |")
    print("\nPaired controls (control s drawn and trained with seed s, as the removal's seed s): training noise from")
    print("the controls' own spread (unpaired) or from the paired differences (paired)\n")
    print("| regime | rule | comparisons | random removal called helps | called at all | power at 1 x MDE | MDE |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for i, (name, base) in enumerate(PAIRED_REGIMES.items()):
        spec = SimSpec(**{**base.__dict__, "n_items": args.items})
        for paired in (False, True):
            codes, mdd, power = null_and_planted(spec, 300 + i, 400 + i, args.reps, paired)
            print(f"| {name} | {'paired' if paired else 'unpaired'} | {codes.size} | {np.mean(codes == 1):.1%} | "
                  f"{np.mean(codes != 0):.1%} | {power:.1%} | {mdd:.4f} |")
    print(f"\nsuggest-thresholds, slope -0.8 per unit rate, tolerance 0.1 (true rate 0.125), 4 rates, se 0.01: "
          f"{threshold_recovery(args.reps, np.random.default_rng(7)):.1%} of {args.reps} fits within 10%")


if __name__ == "__main__":
    main()
