"""Calibration of the strategy verdict (issue 13): size-matched random controls on synthetic
per-item scores with seed noise and a per-draw offset (which rows went).

A strategy of STEPS removal variants, each a fixed draw of rows, each against its random
control drawn anew per seed (2 seeds), with the seed variance pooled over every control of the
strategy (`decide.removal_vs_control`'s weight 1/k + 1), Holm over the strategy's family and
helps / hurts / inconclusive as report/strategies.py calls them. Prints:

(a) random-subset removals (no effect): the share called "helps" and called at all;
(b) a planted benefit of one MDE (taken at alpha / STEPS, the Holm worst case) in one step:
    the share called "helps" (target 80%);
(c) suggest-thresholds on a synthetic dose-response with a known slope: the share of fits
    whose threshold is within 10% of the true one.

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


def family(spec: SimSpec, rng, shifts: list[float], reps: int) -> list[dict]:
    """batch_diff results (removal - control) of each of STEPS removals, per replicate."""
    names = {f"step{j}": shifts[j] for j in range(STEPS)} | {f"control{j}": 0.0 for j in range(STEPS)}
    s = simulate(spec, names, reps, rng, redraw=tuple(f"control{j}" for j in range(STEPS)))
    pool = [s[f"control{j}"] for j in range(STEPS)]
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--items", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"| regime | comparisons | random removal called helps | called at all | power at 1 x MDE | MDE |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, (name, base) in enumerate(REGIMES.items()):
        spec = SimSpec(**{**base.__dict__, "n_items": args.items})
        hib = spec.binary
        null = family(spec, np.random.default_rng(100 + i), [0.0] * STEPS, args.reps)
        codes = verdict_codes(null, hib)
        mdd = family_mdd(null)
        planted = family(spec, np.random.default_rng(200 + i), [(mdd if hib else -mdd)] + [0.0] * (STEPS - 1),
                         args.reps)
        power = float(np.mean(verdict_codes(planted, hib)[:, 0] == 1))
        print(f"| {name} | {codes.size} | {np.mean(codes == 1):.1%} | {np.mean(codes != 0):.1%} | {power:.1%} | "
              f"{mdd:.4f} |")
    print(f"\nsuggest-thresholds, slope -0.8 per unit rate, tolerance 0.1 (true rate 0.125), 4 rates, se 0.01: "
          f"{threshold_recovery(args.reps, np.random.default_rng(7)):.1%} of {args.reps} fits within 10%")


if __name__ == "__main__":
    main()
