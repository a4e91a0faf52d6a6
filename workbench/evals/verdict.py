"""Verdicts over a family of comparisons: multiplicity control and the A/A noise floor.

  adjust_pvalues   Holm-Bonferroni (default) or Benjamini-Hochberg, NaN/None-safe
  noise_floor      the earlier A/A floor (the largest |delta| a control CI allows); no longer part of
                   the rule, kept for benchmarks/decisions.py's before/after
  verdict_word     "better" | "worse" | "noise" (or "helps" | "hurts" | "inconclusive")
The rule the report quotes is VERDICT_RULE. These are the rule's parts; `workbench.evals.engine.decide`
is the one function that applies them to comparisons (benchmarks apply `verdict_codes` vectorized).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from workbench.evals.decide import SeedAwareDiff

ADJUST_METHODS = {"holm": "Holm-Bonferroni", "bh": "Benjamini-Hochberg"}

VERDICT_RULE = (
    "A difference is called real (better/worse) when its multiplicity-adjusted p-value ({method}, over "
    "every variant pair x suite headline metric) is below {alpha}; otherwise it is noise. Training noise "
    "is in the interval: variants trained on common seeds pair seed s with seed s (the pair's own seed "
    "differences, Behrens-Fisher fiducial p), others use the seed variance pooled over the trained "
    "variants, the A/A control's seeds included. The A/A control is decided the same way as a check "
    "(clean: none of its comparisons significant), not as a second threshold."
)

WORDS = ("better", "worse", "noise")
STRATEGY_WORDS = ("helps", "hurts", "inconclusive")


def rule_text(method: str = "holm", alpha: float = 0.05) -> str:
    return VERDICT_RULE.format(method=ADJUST_METHODS[method], alpha=alpha)


def _finite(p) -> bool:
    return p is not None and isinstance(p, (int, float, np.floating)) and math.isfinite(float(p))


def adjust_pvalues(ps: Iterable[float | None], method: str = "holm") -> list[float | None]:
    """Adjusted p-values in input order. None and NaN stay as they are and do not count in the
    family size. holm: step-down Holm-Bonferroni (controls the family-wise error rate);
    bh: Benjamini-Hochberg step-up (controls the false discovery rate)."""
    if method not in ADJUST_METHODS:
        raise ValueError(f"unknown p-value adjustment {method!r}: use one of {sorted(ADJUST_METHODS)}")
    ps = list(ps)
    idx = [i for i, p in enumerate(ps) if _finite(p)]
    out: list[float | None] = [None if p is None else float(p) for p in ps]
    m = len(idx)
    if m == 0:
        return out
    vals = np.array([float(ps[i]) for i in idx])
    order = np.argsort(vals, kind="stable")
    sorted_p = vals[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * sorted_p)
    else:
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * sorted_p[::-1])[::-1]
    adj = np.minimum(adj, 1.0)
    for rank, j in enumerate(order):
        out[idx[j]] = float(adj[rank])
    return out


def ci_bound(diff: SeedAwareDiff) -> float:
    """The largest |delta| a comparison's CI allows (|delta| when there is no interval)."""
    if math.isfinite(diff.lo) and math.isfinite(diff.hi):
        return max(abs(diff.lo), abs(diff.hi))
    return abs(diff.delta) if math.isfinite(diff.delta) else 0.0


def noise_floor(control: Iterable[SeedAwareDiff]) -> float | None:
    """The earlier A/A floor for one suite and metric: max over the control's comparisons of
    max(|lo|, |hi|) (None without a control). It counted the noise twice (an interval that already
    holds it, then a threshold as wide as a control interval's far end); `engine.decide` no longer
    applies it. benchmarks/decisions.py part (a) measures both rules."""
    bounds = [ci_bound(c) for c in control]
    return max(bounds) if bounds else None


def verdict_codes(delta, p_adjusted, floor=None, higher_is_better=True, alpha: float = 0.05) -> np.ndarray:
    """Vectorized rule: +1 B better, -1 B worse, 0 noise. NaN p or delta is noise."""
    delta = np.asarray(delta, dtype=float)
    p = np.asarray(p_adjusted, dtype=float)
    real = np.nan_to_num(p, nan=1.0) < alpha
    if floor is not None:
        real &= np.abs(np.nan_to_num(delta)) > np.asarray(floor, dtype=float)
    sign = np.sign(np.nan_to_num(delta)) * np.where(np.asarray(higher_is_better), 1, -1)
    return np.where(real, sign, 0).astype(int)


def verdict_word(delta: float, p_adjusted: float | None, *, higher_is_better: bool = True,
                 floor: float | None = None, alpha: float = 0.05, strategy: bool = False) -> str:
    """"better"/"worse"/"noise" (strategy=True: "helps"/"hurts"/"inconclusive") by VERDICT_RULE."""
    p = float("nan") if p_adjusted is None else p_adjusted
    code = int(verdict_codes(delta, p, floor, higher_is_better, alpha))
    words = STRATEGY_WORDS if strategy else WORDS
    return {1: words[0], -1: words[1], 0: words[2]}[code]
