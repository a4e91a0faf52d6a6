"""Paired statistics: is run B better than run A on the same items, or is it noise?

Pure functions on per-item score arrays (the ablation report reuses them):
  mean_ci                    mean with a 95% CI (Wilson for pass/fail, t otherwise)
  paired_bootstrap           mean of b - a on the same items with a seeded bootstrap CI
  mcnemar_exact              exact McNemar p-value for pass/fail items
  min_detectable_difference  the smallest true difference this many items would detect

These resample items only, one score per item, and decide nothing. Every comparison workbench
shows (better / worse / noise) is made by workbench.evals.engine (seed-aware differences from
workbench.evals.decide, the rule of workbench.evals.verdict); `compare_runs` is its view for two
models or runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.evals import dist
from workbench.evals.engine import compare_targets

N_BOOT = 10_000


def _arr(x) -> np.ndarray:
    a = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=float)
    if a.ndim != 1:
        raise ValueError("scores must be a 1-D sequence")
    return a


def is_binary(x) -> bool:
    a = _arr(x)
    return bool(a.size) and bool(np.all((a == 0) | (a == 1)))


@dataclass(frozen=True)
class MeanCI:
    mean: float
    lo: float
    hi: float
    n: int

    def __iter__(self):  # unpacks as (mean, lo, hi)
        return iter((self.mean, self.lo, self.hi))


def mean_ci(values, confidence: float = 0.95) -> MeanCI:
    """Mean with a CI: Wilson score interval for 0/1 scores, Student t for continuous ones."""
    a = _arr(values)
    n = a.size
    if n == 0:
        return MeanCI(float("nan"), float("nan"), float("nan"), 0)
    m = float(a.mean())
    z = float(dist.norm_ppf(0.5 + confidence / 2))
    if is_binary(a):
        denom = 1 + z * z / n
        centre = (m + z * z / (2 * n)) / denom
        half = z * math.sqrt(m * (1 - m) / n + z * z / (4 * n * n)) / denom
        return MeanCI(m, max(0.0, centre - half), min(1.0, centre + half), n)
    if n == 1:
        return MeanCI(m, m, m, 1)
    se = float(a.std(ddof=1)) / math.sqrt(n)
    t = float(dist.t_ppf(0.5 + confidence / 2, n - 1))
    return MeanCI(m, m - t * se, m + t * se, n)


@dataclass(frozen=True)
class PairedDiff:
    delta: float  # mean of b - a
    lo: float
    hi: float
    n: int
    significant: bool

    def __iter__(self):  # unpacks as (delta, lo, hi)
        return iter((self.delta, self.lo, self.hi))


def paired_bootstrap(a, b, n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95) -> PairedDiff:
    """Mean per-item difference b - a with a percentile bootstrap CI over items (deterministic)."""
    a, b = _arr(a), _arr(b)
    if a.size != b.size:
        raise ValueError(f"paired scores need the same items: {a.size} vs {b.size}")
    n = a.size
    if n == 0:
        return PairedDiff(float("nan"), float("nan"), float("nan"), 0, False)
    d = b - a
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = d[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = (float(x) for x in np.quantile(means, [alpha, 1 - alpha]))
    return PairedDiff(float(d.mean()), lo, hi, n, bool(lo > 0 or hi < 0))


@dataclass(frozen=True)
class McNemar:
    b01: int  # items A failed and B passed
    b10: int  # items A passed and B failed
    p: float


def mcnemar_exact(a, b) -> McNemar:
    """Exact (binomial) two-sided McNemar test on paired pass/fail items."""
    a, b = _arr(a), _arr(b)
    if a.size != b.size:
        raise ValueError(f"paired scores need the same items: {a.size} vs {b.size}")
    if not (is_binary(a) or a.size == 0) or not (is_binary(b) or b.size == 0):
        raise ValueError("McNemar needs pass/fail (0/1) scores")
    b01 = int(np.sum((a == 0) & (b == 1)))
    b10 = int(np.sum((a == 1) & (b == 0)))
    m = b01 + b10
    p = 1.0 if m == 0 else float(min(1.0, 2 * dist.binom_cdf(min(b01, b10), m, 0.5)))
    return McNemar(b01, b10, p)


def min_detectable_difference(a, b=None, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a paired test on these items detects with `power`.

    Uses the spread of the per-item differences; when that is zero (identical runs) or
    only one run is given, falls back to the runs' own variances as if independent, and
    for constant scores to the worst case of a pass/fail score (sd 0.5 per run).
    """
    a = _arr(a)
    n = a.size
    if n < 2:
        return float("inf")
    sd = 0.0
    if b is not None:
        b = _arr(b)
        sd = float((b - a).std(ddof=1))
        if sd == 0:
            sd = math.sqrt(float(a.var(ddof=1)) + float(b.var(ddof=1)))
    else:
        sd = math.sqrt(2 * float(a.var(ddof=1)))
    if sd == 0:
        sd = math.sqrt(2 * 0.25)
    z = float(dist.norm_ppf(1 - alpha / 2) + dist.norm_ppf(power))
    return z * sd / math.sqrt(n)


def compare_runs(ws, a: str, b: str, suites: list[str] | str | None = None, layer: str = "smoke"):
    """Two models or runs (names, run ids or model keys) on the suites both were scored on: the
    decision engine's `Decision`s (`workbench.evals.engine.compare_targets`), nothing decided here."""
    return compare_targets(ws, a, b, suites, layer)
