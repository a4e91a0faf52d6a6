"""The Behrens-Fisher fiducial test for a mean with two independent variance components.

A paired-seed difference delta = mean over seeds and items of B - A carries an item part (items
are a sample; its variance is estimated with many degrees of freedom) and a seed part (training
noise of the pair; its variance is estimated from the pair's own k seeds, k - 1 degrees of
freedom). With one variant's seed noise 10x another's, no pooled estimate is valid for every pair,
and Welch-Satterthwaite degrees of freedom are liberal when the seed part dominates at k - 1 = 1
(12% false positives at alpha 0.05, benchmarks/decisions.py part d). The fiducial distribution of
delta is  a T_a + b T_b  (T_a, T_b independent t with the components' degrees of freedom, a^2 and
b^2 the estimated variances); its tail probability is a p-value that holds alpha whatever the
ratio of the true variances (Robinson 1976: the Behrens-Fisher fiducial interval is conservative),
and is the exact t test when either part is zero.

Vectorized over leading axes: the tail is a Gaussian-weighted quadrature over the quantiles of the
component with the smaller scale, the other one's t distribution function in closed form.
Degrees of freedom are rounded down to 0.1 below 10, to integers below 1000 and capped there (a
slightly heavier tail, never a lighter one), so a batch needs few quantile grids.

Also here: the minimum detectable difference of a t test on the noncentral t, per value
(`min_detectable`, brentq) and over arrays (`detectable`, one bracketed root-find for all).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special
from scipy.optimize import elementwise

from workbench.evals import dist

_Z = np.linspace(-8.5, 8.5, 129)
_W = np.exp(-_Z**2 / 2) / np.exp(-_Z**2 / 2).sum()
_U = special.ndtr(-np.abs(_Z))  # lower tail only: 1 - ndtr(8.5) rounds to 0
_SIGN = np.sign(_Z)
assert np.array_equal(np.abs(_Z), np.abs(_Z[::-1])), "the grid must be symmetric (see _tail)"


def round_df(df) -> np.ndarray:
    df = np.clip(np.nan_to_num(np.asarray(df, dtype=float), nan=1.0), 1.0, 1000.0)
    return np.where(df < 10, np.floor(df * 10 + 1e-9) / 10, np.floor(df + 1e-9))


def _prepare(a2, dfa, b2, dfb):
    a2, dfa, b2, dfb = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a2, dfa, b2, dfb)))
    a2, b2, dfa, dfb = np.maximum(a2, 0.0), np.maximum(b2, 0.0), round_df(dfa), round_df(dfb)
    grid_a = a2 <= b2  # the smaller scale on the grid, the larger in closed form
    gdf = np.where(grid_a, dfa, dfb)
    vals, inverse = np.unique(gdf, return_inverse=True)
    q = (special.stdtrit(vals[:, None], _U[None, :]) * _SIGN)[inverse.reshape(gdf.shape)]  # (..., grid)
    tg = q * np.sqrt(np.where(grid_a, a2, b2))[..., None]
    o2, odf = np.where(grid_a, b2, a2), np.where(grid_a, dfb, dfa)
    return tg, np.sqrt(o2)[..., None], odf[..., None], o2 > 0


def _tail(x, prepared):
    """P(T >= |x|) + P(T <= -|x|) summed over the grid. The grid is symmetric (tg[j] = -tg[-1 - j]
    exactly), so the lower tail at grid point j is the upper tail's term at -1 - j: one t distribution
    function per grid point, bit for bit the sum of the two."""
    tg, so, odf, ok = prepared
    ax = np.abs(np.asarray(x, dtype=float))[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = special.stdtr(odf, (tg - ax) / so)
        p = ((upper + upper[..., ::-1]) * _W).sum(axis=-1)
    return np.where(ok, np.minimum(p, 1.0), np.nan)


def tail(x, a2, dfa, b2, dfb) -> np.ndarray:
    """P(|a T_a + b T_b| >= |x|) for a = sqrt(a2), b = sqrt(b2): the two-sided p-value of x (NaN
    where both variances are zero)."""
    return _tail(x, _prepare(a2, dfa, b2, dfb))


def critical(a2, dfa, b2, dfb, alpha: float = 0.05, iters: int = 24) -> np.ndarray:
    """The half-width c with tail(c) = alpha: delta +- c is the fiducial interval (bisection between
    the t quantiles at the summed and the smallest degrees of freedom, Mickey and Brown's bounds)."""
    prepared = _prepare(a2, dfa, b2, dfb)
    a2, dfa, b2, dfb = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a2, dfa, b2, dfb)))
    a2, b2, dfa, dfb = np.maximum(a2, 0.0), np.maximum(b2, 0.0), round_df(dfa), round_df(dfb)
    se = np.sqrt(a2 + b2)
    low = np.minimum(np.where(a2 > 0, dfa, 1e3), np.where(b2 > 0, dfb, 1e3))
    lo = special.stdtrit(dfa + dfb, 1 - alpha / 2) * se * 0.999
    hi = special.stdtrit(low, 1 - alpha / 2) * se * 1.001
    for _ in range(iters):
        mid = (lo + hi) / 2
        above = _tail(mid, prepared) > alpha
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.where(se > 0, (lo + hi) / 2, np.nan)


def equivalent_df(half, se, alpha: float = 0.05, iters: int = 40) -> np.ndarray:
    """Degrees of freedom of the t whose interval at `alpha` has this half-width for this se: what
    the reported df and MDE use (1e6 where the interval is as narrow as the normal's)."""
    half, se = np.broadcast_arrays(np.asarray(half, dtype=float), np.asarray(se, dtype=float))
    ratio = np.where(se > 0, half / np.where(se > 0, se, 1.0), np.nan)
    lo, hi = np.full_like(ratio, np.log(0.2)), np.full_like(ratio, np.log(1e6))
    for _ in range(iters):  # the t quantile falls as df grows
        mid = (lo + hi) / 2
        wide = special.stdtrit(np.exp(mid), 1 - alpha / 2) > ratio
        lo, hi = np.where(wide, mid, lo), np.where(wide, hi, mid)
    return np.where(np.isfinite(ratio), np.exp((lo + hi) / 2), np.nan)


def min_detectable(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true |delta| a two-sided t test (df) with this standard error detects with `power`
    (solved on the noncentral t, so few degrees of freedom cost what they should)."""
    if not (se > 0 and df > 0 and math.isfinite(se)):
        return float("nan")
    tc = float(dist.t_ppf(1 - alpha / 2, df))

    def gap(ncp: float) -> float:
        lower = float(dist.nct_cdf(-tc, df, ncp))  # negligible; scipy gives NaN far in the tail
        return float(dist.nct_sf(tc, df, ncp)) + (lower if math.isfinite(lower) else 0.0) - power

    hi = tc + 10.0
    while gap(hi) < 0 and hi < 1e4:
        hi *= 2
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-8)) * se


def _power_gap(ncp, tc, df, power):
    with np.errstate(invalid="ignore"):
        lower = dist.nct_cdf(-tc, df, ncp)
    return dist.nct_sf(tc, df, ncp) + np.where(np.isfinite(lower), lower, 0.0) - power


def detectable(se, df, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """`min_detectable` over arrays: the same bracket, then Chandrupatla's method for every element at
    once (scipy.optimize.elementwise.find_root), the noncentrality to 1e-12 where brentq stops within
    its xtol 1e-8; so the two agree within 1e-8 * se. NaN where `min_detectable` gives NaN."""
    se, df = np.broadcast_arrays(np.asarray(se, dtype=float), np.asarray(df, dtype=float))
    with np.errstate(invalid="ignore"):
        ok = (se > 0) & (df > 0) & np.isfinite(se)
    out = np.full(se.shape, np.nan)
    if not ok.any():
        return out
    d = df[ok]
    tc = dist.t_ppf(1 - alpha / 2, d)
    hi = tc + 10.0
    for _ in range(16):  # min_detectable's `while gap(hi) < 0 and hi < 1e4: hi *= 2`
        grow = (_power_gap(hi, tc, d, power) < 0) & (hi < 1e4)
        if not grow.any():
            break
        hi = np.where(grow, hi * 2, hi)
    res = elementwise.find_root(_power_gap, (np.zeros_like(hi), hi), args=(tc, d, power),
                                tolerances={"xatol": 1e-12, "xrtol": 4 * np.finfo(float).eps})
    out[ok] = np.where(res.success, res.x, np.nan) * se[ok]
    return out
