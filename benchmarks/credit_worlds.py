"""Simulated worlds for mixture search and Shapley credit (issue 25): known truth, no training.

Mixture search. Four record sources with the example data's token counts (datasets/example_raw.jsonl,
SmolLM2 tokenizer), an 8,000-token budget, weights in [0.05, 0.6] (examples/mixture_search.yaml). Each
world draws a response surface over the weights, f(w) = sum_j a_j log(w_j + c_j) + sum_{i<j} b_ij w_i w_j
(random a >= 0, c, b: not the model's own form), scaled so that its range over the feasible simplex is
R ~ log-uniform(0.05, 0.5) bits per byte (lower is better: score = base - f). Per-item, per-seed scores come from
workbench.evals.simulate with the noise sizes benchmarks/decisions.py uses (training-noise and residual
sd from DESIGN.md's A/A pair, item x model sd 0.05, item sd 0.5, a common seed offset sd 0.03), 40
items, 3 seeds. Then exactly the product's path: `mixsearch.bounds` and `design` (as mixgen lays out
the K mixtures), each mixture's score (mean over seeds, then items), `report.mixture.fit_search` (both
models, leave-one-out, the proposal of the better one with its bootstrap interval), and the validation:
the proposal's scores simulated on the same seeds, `validation_questions` against the natural and the
best sampled mixture, `engine.decide` (Holm over the two), `status_of`.

  hit: f(optimum) - f(proposal) <= delta, the optimum over a 40,000-point feasible grid drawn apart
  from the proposal's own candidate pool. delta = the median minimum detectable difference (alpha 0.05
  Holm over 2, power 0.8) of the validation's own comparison (proposal vs natural, K = 16): a proposal
  within delta of the optimum is one the validation could not tell from it.
  Beside it, the peers in the same worlds: the natural mixture, the best observed of the K mixtures (no
  model), and the log-linear model alone.

Shapley. Recipes of n = 3 and 5 steps; each world's game v(S) = sum of step effects (sd 0.03) + pair
interactions (sd 0.015, half of them 0) + one three-way term; every subset simulated with the same
noise, on 2 and 3 seeds. Truth: the average marginal contribution over all n! orders (itertools, not
the product's weights). Estimate and interval: the product's weights (`credit.shapley_weights`,
`interaction_weights`) applied to the per-seed, per-item scores, then the engine's paired statistics
(`simulate.batch_paired`, the vectorized `decide.paired_seed_diff`; the first worlds are checked
against the report's own path, `report.credit._contrast_diff`, to 1e-9).

Run:  python benchmarks/credit_worlds.py [--worlds 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.ablate.credit import interaction_weights, masks, shapley_weights  # noqa: E402
from workbench.ablate.mixsearch import LogLinear, bounds, candidates, design, propose  # noqa: E402
from workbench.evals.engine import decide  # noqa: E402
from workbench.evals.simulate import SimSpec, batch_paired, simulate  # noqa: E402
from workbench.report.credit import _contrast_diff, welch  # noqa: E402
from workbench.report.mixture import fit_search, status_of, validation_questions  # noqa: E402

SOURCES = {"formatting": 4280.0, "general": 3635.0, "math": 5576.0, "reasoning": 5679.0}
BUDGET, MIN_W, MAX_W = 8000, 0.05, 0.6
# benchmarks/decisions.py: DESIGN.md's A/A pair (training noise, residual) and its item sizes
SEED_SD = 0.010 / 2**0.5
RESID_SD = 0.008 / 2.045 * 30**0.5 / 2**0.5
NOISE = SimSpec(n_items=40, seeds=3, base=1.2, sd_item=0.5, sd_ixm=0.05, sd_seed=SEED_SD, sd_resid=RESID_SD,
                sd_common=0.03)


def _to_dict(x: np.ndarray) -> dict:
    """(k, n) array -> {seed: {item: score}}, the catalog's shape."""
    return {str(s): {f"i{i:02d}": float(v) for i, v in enumerate(row)} for s, row in enumerate(x)}


# --- mixture search ------------------------------------------------------------------------------


def surfaces(worlds: int, n: int, grid: np.ndarray, rng) -> list:
    """Per world a callable f(w) -> improvement (higher is better), ranged R over the grid."""
    out = []
    for _ in range(worlds):
        a = rng.uniform(0.0, 1.0, n)
        c = np.exp(rng.uniform(np.log(0.003), np.log(0.3), n))
        b = np.triu(rng.normal(0.0, 0.5 * a.mean() + 0.1, (n, n)), 1)
        raw = lambda w, a=a, c=c, b=b: np.log(np.asarray(w) + c) @ a + np.einsum("ki,ij,kj->k", w, b, w)
        g = raw(grid)
        scale = np.exp(rng.uniform(np.log(0.05), np.log(0.5))) / (g.max() - g.min())
        out.append(lambda w, raw=raw, lo=g.min(), s=scale: (raw(np.atleast_2d(w)) - lo) * s)
    return out


def mixture_worlds(k: int, worlds: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, k])
    names = list(SOURCES)
    lo, hi = bounds(names, {n: SOURCES[n] * 0.999 for n in names}, BUDGET, MIN_W, MAX_W)  # as mixgen
    points = design(names, SOURCES, lo, hi, k, seed=0)
    labels = [label for label, _ in points]
    w = np.array([x for _, x in points])
    grid = candidates(lo, hi, seed=4242, size=32000)  # the truth's grid, not the proposal's pool (seed 0)
    fs = surfaces(worlds, len(names), grid, rng)
    shifts = {label: np.array([-f(w[j])[0] for f in fs])[:, None, None] for j, label in enumerate(labels)}
    sim = simulate(NOISE, {**shifts, "proposal": 0.0}, worlds, rng)  # one call: the seeds' common offsets shared
    y = np.stack([sim[label].mean(axis=(1, 2)) for label in labels], axis=1)  # (worlds, k)
    out = {key: [] for key in ("regret", "natural", "observed_best", "log_linear", "status", "mdd", "in_interval",
                               "range", "model")}
    for i, f in enumerate(fs):
        g = f(grid)
        fits, _, prop = fit_search(w, y[i], names, lo, hi, False, seed=0)
        star = np.array([prop["weights"][n] for n in names])
        f_star = f(star)[0]
        ll = propose(LogLinear, w, y[i], lo, hi, False, seed=0, n_boot=0).weights
        best_f = max(g.max(), f_star, f(w).max(), f(ll)[0])
        sampled = [j for j, label in enumerate(labels) if label != "natural"]
        best = sampled[int(np.argmin(y[i, sampled]))]  # the product's best sampled mixture (lower is better)
        mine = sim["proposal"][i] - f_star
        scores = {"proposal": _to_dict(mine), "natural": _to_dict(sim["natural"][i]),
                  labels[best]: _to_dict(sim[labels[best]][i])}
        asked = validation_questions(scores, "proposal", {"vs_natural": "natural", "vs_best": labels[best]},
                                     "think_follow", "bits_per_byte", False, "mix")
        ds = decide([q for _, q in asked])
        out["regret"].append(best_f - f_star)
        out["natural"].append(best_f - f(w[0])[0])
        out["observed_best"].append(best_f - f(w[int(np.argmin(y[i]))])[0])
        out["log_linear"].append(best_f - f(ll)[0])
        out["status"].append(status_of([d.verdict for d in ds]))
        out["mdd"].append(ds[0].mdd)
        out["in_interval"].append(prop["lo"] <= mine.mean() <= prop["hi"] if math.isfinite(prop["lo"]) else False)
        out["range"].append(g.max() - g.min())
        out["model"].append(prop["model"])
    return {key: np.array(v) for key, v in out.items()}


# --- Shapley -------------------------------------------------------------------------------------


def true_values(v: np.ndarray, n: int) -> np.ndarray:
    """(worlds, n): the average marginal contribution over every order of the n steps."""
    phi = np.zeros((v.shape[0], n))
    orders = list(itertools.permutations(range(n)))
    for order in orders:
        mask = 0
        for j in order:
            phi[:, j] += v[:, mask | 1 << j] - v[:, mask]
            mask |= 1 << j
    return phi / len(orders)


def true_interactions(v: np.ndarray, n: int) -> dict:
    """(i, j) -> (worlds,): the pair's second difference averaged over the other steps' subsets with
    the Shapley interaction weights |S|! (n - |S| - 2)! / (n - 1)! (Grabisch & Roubens), from the definition."""
    out = {}
    for i, j in itertools.combinations(range(n), 2):
        tot = np.zeros(v.shape[0])
        for s in range(1 << n):
            if s >> i & 1 or s >> j & 1:
                continue
            m = bin(s).count("1")
            c = math.factorial(m) * math.factorial(n - m - 2) / math.factorial(n - 1)
            tot += c * (v[:, s | 1 << i | 1 << j] - v[:, s | 1 << i] - v[:, s | 1 << j] + v[:, s])
        out[(i, j)] = tot
    return out


def shapley_worlds(n: int, seeds: int, worlds: int, seed: int, seed_sd: float = SEED_SD, check: int = 3) -> dict:
    rng = np.random.default_rng([seed, n, seeds, int(seed_sd * 1e4)])
    ms = masks(n)
    single = rng.normal(0.0, 0.03, (worlds, n))
    pair = rng.normal(0.0, 0.015, (worlds, n, n)) * (rng.random((worlds, n, n)) < 0.5)
    triple = rng.normal(0.0, 0.01, worlds)
    v = np.zeros((worlds, len(ms)))
    for m in ms:
        inside = [j for j in range(n) if m >> j & 1]
        v[:, m] = single[:, inside].sum(axis=1) + sum(pair[:, a, b] for a, b in itertools.combinations(inside, 2))
        v[:, m] += triple * (m & 7 == 7)
    spec = SimSpec(**{**NOISE.__dict__, "seeds": seeds, "sd_seed": seed_sd})
    sim = simulate(spec, {m: v[:, m][:, None, None] for m in ms}, worlds, rng)
    y = np.stack([sim[m] for m in ms], axis=1)  # (worlds, 2^n, k, items)
    terms = [("value", shapley_weights(n), true_values(v, n))]
    inter = interaction_weights(n)
    truth_i = true_interactions(v, n)
    terms.append(("interaction", np.array(list(inter.values())), np.stack([truth_i[p] for p in inter], axis=1)))
    out = {}
    for term, weights, truth in terms:
        cover, engine, err, width = [], [], [], []
        for t, w in enumerate(weights):
            d = np.tensordot(w, y, axes=([0], [1]))  # (worlds, k, items): the contrast per seed and item
            r = batch_paired(np.zeros_like(d), d)  # the engine's paired statistics (Behrens-Fisher interval)
            lo, hi, *_ = welch(r["delta"], r["var_item"], r["item_df"], r["var_seed"], r["seed_df"])
            for i in range(min(check, worlds)):  # the report's own path gives the same numbers
                ref = _contrast_diff([_to_dict(y[i, m]) for m in ms], w, False, None)
                assert abs(ref.delta - r["delta"][i]) < 1e-9 and abs(ref.lo - lo[i]) < 1e-9, (ref, lo[i])
            cover.append((lo <= truth[:, t]) & (truth[:, t] <= hi))
            engine.append((r["lo"] <= truth[:, t]) & (truth[:, t] <= r["hi"]))
            err.append(r["delta"] - truth[:, t])
            width.append(hi - lo)
        out[term] = {"cover": np.array(cover), "engine": np.array(engine), "err": np.array(err),
                     "width": np.array(width), "truth_sd": float(truth.std())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ks", default="8,16,32")
    ap.add_argument("--parts", default="mixture,shapley")
    args = ap.parse_args()
    t0 = time.time()
    print(f"Simulated worlds (seed {args.seed}, {args.worlds} worlds per cell); noise: item sd {NOISE.sd_item}, "
          f"item x model sd {NOISE.sd_ixm}, training-noise sd {SEED_SD:.4f}, residual sd {RESID_SD:.4f}, "
          f"common seed sd {NOISE.sd_common}; {NOISE.n_items} items")
    print(f"\n(a) mixture search: 4 sources, budget {BUDGET} tokens, weights in [{MIN_W}, {MAX_W}], "
          f"{NOISE.seeds} seeds; surface range log-uniform(0.05, 0.5) bits per byte")
    runs = {}
    for k in [int(x) for x in args.ks.split(",")] if "mixture" in args.parts else []:
        t = time.time()
        runs[k] = mixture_worlds(k, args.worlds, args.seed)
        print(f"    K = {k}: {time.time() - t:.0f} s")
    if not runs:
        return shapley_part(args, t0)
    ref = 16 if 16 in runs else next(iter(runs))
    delta = float(np.median(runs[ref]["mdd"]))
    print(f"    delta = median minimum detectable difference of the validation (proposal vs natural, K = {ref}): "
          f"{delta:.4f} bits per byte; mean surface range {np.mean(runs[ref]['range']):.3f} "
          f"({np.mean(runs[ref]['range']) / delta:.1f} delta)")
    print("    K | proposal within delta | within delta/2 | within delta/4 | where the natural misses delta (n) | mean regret | "
          "natural within delta | best observed within delta | log-linear alone within delta | GP chosen | "
          "validation: beat / beat natural, equal best / equal / lost | observed in predicted 95% interval")
    for k, r in runs.items():
        st = {s: float(np.mean(r["status"] == s)) for s in ("beat", "beat the natural mixture, equal to the best "
                                                                     "within noise", "equal within noise", "lost")}
        hard = r["natural"] > delta
        print(f"    {k:2d} | {np.mean(r['regret'] <= delta):.1%} | {np.mean(r['regret'] <= delta / 2):.1%} | "
              f"{np.mean(r['regret'] <= delta / 4):.1%} | {np.mean(r['regret'][hard] <= delta):.1%} ({hard.sum()}) | {r['regret'].mean():.4f} | {np.mean(r['natural'] <= delta):.1%} | "
              f"{np.mean(r['observed_best'] <= delta):.1%} | {np.mean(r['log_linear'] <= delta):.1%} | "
              f"{np.mean(r['model'] != 'log-linear'):.0%} | " + " / ".join(f"{x:.1%}" for x in st.values()) +
              f" | {np.mean(r['in_interval']):.1%}")
    print(f"    (a) {time.time() - t0:.0f} s")
    if "shapley" in args.parts:
        shapley_part(args, t0)


def shapley_part(args, t0: float) -> None:
    print("\n(b) Shapley credit: 95% intervals against the truth (the report's Welch-Satterthwaite t; the "
          "engine's Behrens-Fisher interval beside it)")
    print("    training-noise sd | steps | seeds | term | coverage (per step) | Behrens-Fisher coverage | "
          "mean |error| | RMSE | mean CI width | sd of the true values")
    for sd in (SEED_SD, 4 * SEED_SD):
        for n in (3, 5):
            for seeds in (2, 3):
                res = shapley_worlds(n, seeds, args.worlds, args.seed, sd)
                for term, r in res.items():
                    per = " (" + " ".join(f"{c:.3f}" for c in r["cover"].mean(axis=1)) + ")" if term == "value" else ""
                    print(f"    {sd:.4f} | {n} | {seeds} | {term} | {r['cover'].mean():.1%}{per} | "
                          f"{r['engine'].mean():.1%} | {np.abs(r['err']).mean():.4f} | "
                          f"{np.sqrt((r['err'] ** 2).mean()):.4f} | {r['width'].mean():.4f} | {r['truth_sd']:.4f}")
    print(f"\ntotal {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
