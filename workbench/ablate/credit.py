"""Shapley credit of a recipe's steps: the exact weights, as linear contrasts of subset scores.

A recipe of n steps (the players) defines 2^n subsets; subset S is the source with S's steps
applied in recipe order, and v(S) is its score on a metric. Subsets are indexed by bit mask
(bit j set: step j applied), so `v[mask]` is one number per subset. Every quantity here is a
fixed linear combination `w @ v` of the subset scores:

- Shapley value of step j:  phi_j = sum_{S not containing j} |S|! (n-|S|-1)! / n! (v(S+j) - v(S));
  the values add up to v(all) - v(none) (efficiency), and in an additive game they are the
  singles v({j}) - v(none).
- pairwise Shapley interaction of steps i, j (Grabisch & Roubens):
  I_ij = sum_{S without i, j} |S|! (n-|S|-2)! / (n-1)! (v(S+ij) - v(S+i) - v(S+j) + v(S)):
  the difference the pair makes beyond their separate effects, averaged over the contexts;
  for n = 2 it is v(ij) - v(i) - v(j) + v(none).
- the additivity gap: v(all) - v(none) - sum_j (v({j}) - v(none)) ("the whole vs the sum of
  the singles").

Because each is a contrast (weights summing to 0), applying its weights to the per-seed, per-item
scores of the subsets gives per-seed, per-item values of the contrast itself. Their mean is the
estimate and their spread over items and (paired) seeds its standard error: the same
variance decomposition the decision engine uses for B - A (`contrast_scores`, then
workbench.report.credit asks the engine). Pure numpy: no catalog, no training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

MAX_EXACT = 5  # 2^5 = 32 subsets: the most a spec may ask to train


def masks(n: int) -> list[int]:
    """Every subset of n players as a bit mask, the empty one first."""
    return list(range(1 << n))


def members(mask: int, n: int) -> list[int]:
    return [j for j in range(n) if mask >> j & 1]


def shapley_weights(n: int) -> np.ndarray:
    """(n, 2^n): phi = W @ v for subset scores v indexed by mask."""
    w = np.zeros((n, 1 << n))
    for j in range(n):
        for s in masks(n):
            if s >> j & 1:
                continue
            k = bin(s).count("1")
            c = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            w[j, s | 1 << j] += c
            w[j, s] -= c
    return w


def interaction_weights(n: int) -> dict[tuple[int, int], np.ndarray]:
    """(i, j) -> weights over the 2^n subsets of the pairwise Shapley interaction index."""
    out = {}
    for i, j in combinations(range(n), 2):
        w = np.zeros(1 << n)
        for s in masks(n):
            if s >> i & 1 or s >> j & 1:
                continue
            k = bin(s).count("1")
            c = math.factorial(k) * math.factorial(n - k - 2) / math.factorial(n - 1)
            w[s | 1 << i | 1 << j] += c
            w[s | 1 << i] -= c
            w[s | 1 << j] -= c
            w[s] += c
        out[(i, j)] = w
    return out


def additivity_weights(n: int) -> np.ndarray:
    """v(all) - v(none) - sum_j (v({j}) - v(none))."""
    w = np.zeros(1 << n)
    w[(1 << n) - 1] += 1
    w[0] -= 1
    for j in range(n):
        w[1 << j] -= 1
        w[0] += 1
    return w


def shapley_values(v: Sequence[float]) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    n = int(round(math.log2(len(v))))
    if 1 << n != len(v):
        raise ValueError(f"need one score per subset (2^n), got {len(v)}")
    return shapley_weights(n) @ v


def interactions(v: Sequence[float]) -> dict[tuple[int, int], float]:
    v = np.asarray(v, dtype=float)
    n = int(round(math.log2(len(v))))
    return {k: float(w @ v) for k, w in interaction_weights(n).items()}


def contrast_scores(per_subset: Sequence[Mapping[str, Mapping[str, float]]], weights: Sequence[float]
                    ) -> dict[str, dict[str, float]]:
    """{seed: {item: sum_S w_S y[S, seed, item]}} over the seeds every subset with a nonzero weight was
    trained with and the items every one of those runs scored (subsets with weight 0 need no scores).
    `per_subset[mask]`: that subset's {seed: {item: score}}."""
    used = [(w, s) for w, s in zip(weights, per_subset) if w != 0]
    if not used or any(not s for _, s in used):
        return {}
    seeds = sorted(set.intersection(*(set(s) for _, s in used)), key=str)
    out = {}
    for seed in seeds:
        items = set.intersection(*(set(s[seed]) for _, s in used))
        if items:
            out[seed] = {i: float(sum(w * s[seed][i] for w, s in used)) for i in sorted(items)}
    common = set.intersection(*(set(v) for v in out.values())) if out else set()
    return {seed: {i: x for i, x in v.items() if i in common} for seed, v in out.items() if common}
