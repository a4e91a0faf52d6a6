"""Seed-aware paired differences: is variant B better than variant A, counting training noise?

Scores come per seed and per item, `{seed: {item_id: score}}`. Items are shared by the two
variants (paired); seeds are not (seed 0 of A and seed 0 of B are unrelated training runs).
The untrained base model is one "seed" without training noise (`a_trained=False`).

Model of one score: y[v, s, i] = mu_v + item_i + u[v, i] + seed[v, s] + e[v, s, i], with
item x model noise u, a training-noise offset per seed (variance `sigma_s^2`) and a seed x item
residual e. With d_i the per-item difference of seed-averaged scores and delta = mean_i d_i:

    var(delta) = var_item + var_seed
    var_item   = var(d_i) / n                            (paired, from the items)
    var_seed   = sigma_s^2 * (1/k_A + 1/k_B)             (only the trained sides count)

sigma_s^2 is estimated per variant from its per-seed means, `var_s(mean_i y[s, i])`, minus the
part the item residual already puts there (`MS_resid / n`, the two-way seed x item residual mean
square), pooled across the variants of an ablation (`pooled_seed_variance`), floored at 0.
The t reference has Welch-Satterthwaite degrees of freedom, so two seeds per variant give few
degrees of freedom and a wide interval, as they should. With 2-3 seeds a bootstrap over seeds is
degenerate (two clusters); this variance-components estimate is used at every seed count.
One seed per variant and no pooled estimate: the interval is item-only, and the result says so.

Paired seeds (issue 28 §1). When training with seed s is common to the variants (the same data
order and initialisation for the same seed), seed[v, s] = c_s + g[v, s]: a part c_s every variant
shares and the variant x seed interaction g, whose variance may differ per variant. Seed s of A is
paired with seed s of B and c_s cancels. With D[s, i] = y[B, s, i] - y[A, s, i] over the k common
seeds, its two-way mean squares (items, seeds, residual) give

    var(delta) = item + seed,   item = (MS_item - MS_resid) / (n k)   (items; Satterthwaite df)
                                seed = var_s(d_s) / k                  (the pair's own seeds; k - 1 df)

with d_s the seed-level mean difference: `seed` holds var(g_A) + var(g_B) whatever each is, so one
noisy variant costs its own comparisons only. Welch-Satterthwaite df are liberal when `seed`
dominates at 1-2 df, so the p-value and interval are the Behrens-Fisher fiducial ones
(`workbench.evals.behrens`), which hold alpha for any ratio of the two parts; `df` is the t
equivalent of that interval. benchmarks/decisions.py part (d) measures it with one variant's seed
noise 10x another's (`seed_interaction`, pooled over the variant x seed table, is miscalibrated
there). Variants not on common seeds keep the unpaired path.
"""

from __future__ import annotations

import math
from operator import itemgetter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from workbench.evals import behrens, dist
from workbench.evals.behrens import min_detectable  # noqa: F401  (its home was here: callers import it from here)

Scores = Mapping[Hashable, Mapping[str, float]]  # {seed: {item_id: score}}

TRAINING_NOISE_MISSING = "training noise is not in this interval"
FEW_SEED_DF = 3
FEW_SEED_DF_NOTE = ("under 3 seed degrees of freedom: the false-positive rate can exceed alpha when training "
                    "noise dominates; pool the seed variance over more variants or add an A/A control")
METHOD_NOTE = ("paired t on per-item differences of seed-averaged scores; variance = item component "
               "(var of differences / n) + seed component (training-noise variance of a per-seed mean, "
               "pooled across variants, times 1/k_A + 1/k_B); Welch-Satterthwaite degrees of freedom")


@dataclass(frozen=True)
class SeedVariance:
    """Training noise of one seed's mean score, pooled over the variants that have 2+ seeds."""

    var: float  # sigma_s^2, floored at 0
    df: float  # effective (Satterthwaite) degrees of freedom of `var`; 0 when unknown
    between: float  # pooled variance of per-seed means
    between_df: int  # sum of (k - 1) over contributing variants
    within: float  # pooled seed x item residual mean square
    within_df: int
    n_items: float  # mean item count of the contributing variants
    n_variants: int

    @property
    def known(self) -> bool:
        return self.between_df > 0

    def as_dict(self) -> dict:
        return asdict(self)


NO_SEED_VARIANCE = SeedVariance(0.0, 0.0, 0.0, 0, 0.0, 0, 0.0, 0)


@dataclass(frozen=True)
class Interaction:
    """The variant x seed interaction of per-seed mean scores, over the trained variants that share
    the seeds `seeds` (2+ variants, 2+ seeds): what training noise a paired difference carries."""

    ms: float  # interaction mean square: var(g) + sigma_e^2 / n per cell mean
    df: int  # (V - 1)(k - 1)
    seeds: tuple[str, ...]
    n_variants: int
    n_items: int

    @property
    def known(self) -> bool:
        return self.df > 0

    def as_dict(self) -> dict:
        return asdict(self)


def interaction_ms(cells: np.ndarray) -> np.ndarray:
    """Interaction mean square of a (..., V, k) table of cell means (V, k >= 2)."""
    v, k = cells.shape[-2], cells.shape[-1]
    resid = cells - cells.mean(axis=-1, keepdims=True) - cells.mean(axis=-2, keepdims=True) \
        + cells.mean(axis=(-2, -1), keepdims=True)
    return (resid**2).sum(axis=(-2, -1)) / ((v - 1) * (k - 1))


@dataclass(frozen=True)
class SeedAwareDiff:
    delta: float  # mean_B - mean_A (means over seeds, then items); sign independent of direction
    lo: float  # NaN when no spread can be estimated (see `reason`)
    hi: float
    se: float
    df: float
    p: float  # two-sided t with `df` degrees of freedom
    n_items: int
    n_seeds_a: int
    n_seeds_b: int
    var_item: float
    var_seed: float
    mdd: float  # minimum detectable |delta| at alpha and power, this item and seed count
    method: str
    training_noise_included: bool
    all_equal: bool  # every paired difference is exactly zero
    significant: bool  # p < alpha (unadjusted; see workbench.evals.verdict for the verdict)
    higher_is_better: bool = True
    n_items_unpaired: int = 0  # items missing from some seed of A or B, left out (counted here)
    reason: str = ""
    paired_seeds: bool = False  # seed s of A paired with seed s of B; training noise = the interaction

    def __iter__(self):  # unpacks as (delta, lo, hi)
        return iter((self.delta, self.lo, self.hi))

    @property
    def improvement(self) -> float:
        """delta signed so that positive means B is better (lower-is-better metrics flip)."""
        return self.delta if self.higher_is_better else -self.delta

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------
# Vectorized core: arrays shaped (..., seeds, items); the leading axes are replicates
# ---------------------------------------------------------------------------------------


def seed_components(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(between, within) of a (..., k, n) array: variance of per-seed means and the two-way
    seed x item residual mean square. Needs k >= 2 and n >= 2."""
    x = np.asarray(x, dtype=float)
    k, n = x.shape[-2], x.shape[-1]
    seed_means = x.mean(axis=-1)
    between = seed_means.var(axis=-1, ddof=1)
    resid = x - seed_means[..., :, None] - x.mean(axis=-2)[..., None, :] + x.mean(axis=(-2, -1))[..., None, None]
    within = (resid**2).sum(axis=(-2, -1)) / ((k - 1) * (n - 1))
    return between, within


def pool_components(parts: list[tuple[np.ndarray, np.ndarray, int, int]]) -> tuple:
    """Pool (between, within, k, n) per variant into (var, df, between, bdf, within, wdf, n_mean)."""
    if not parts:
        return 0.0, 0.0, 0.0, 0, 0.0, 0, 0.0
    bdf = sum(k - 1 for _, _, k, _ in parts)
    wdf = sum((k - 1) * (n - 1) for _, _, k, n in parts)
    between = sum((k - 1) * np.asarray(b, dtype=float) for b, _, k, _ in parts) / bdf
    within = sum((k - 1) * (n - 1) * np.asarray(w, dtype=float) for _, w, k, n in parts) / wdf
    n_mean = sum(n for *_, n in parts) / len(parts)
    raw = between - within / n_mean
    var = np.maximum(raw, 0.0)
    denom = between**2 / bdf + (within / n_mean) ** 2 / wdf
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(var > 0, var**2 / np.where(denom > 0, denom, np.inf), float(bdf))
    return var, df, between, bdf, within, wdf, n_mean


def diff_arrays(a: np.ndarray, b: np.ndarray, between, between_df, within, within_df, n_pool, weight: float):
    """delta, se, df, p, var_item, var_seed for (..., k_A, n) and (..., k_B, n) score arrays.

    With Q1 = var(d_i)/n (df n-1), Q2 = weight * between (df between_df) and
    Q3 = weight * within / n_pool (df within_df), the variance is the largest of Q1 (items),
    Q2 (per-seed means) and Q1 + Q2 - Q3 (both, the residual counted once), each a lower bound of
    var(delta) in expectation, with its Satterthwaite degrees of freedom. `weight` is
    1/k_A + 1/k_B over the trained sides; between_df 0 means no seed estimate (item-only).
    Where the variance is zero the p-value is NaN (the caller names why)."""
    d = np.asarray(b, dtype=float).mean(axis=-2) - np.asarray(a, dtype=float).mean(axis=-2)
    n = d.shape[-1]
    delta = d.mean(axis=-1)
    q1 = d.var(axis=-1, ddof=1) / n if n > 1 else np.zeros_like(delta)
    scale = np.maximum(1.0, np.abs(d).max(axis=-1)) if n else 1.0
    q1 = np.where(q1 <= (1e-12 * scale) ** 2, 0.0, q1)  # every item moved alike: no spread, not rounding
    df1 = float(max(n - 1, 1))
    if weight > 0 and between_df > 0:
        q2 = weight * np.asarray(between, dtype=float) * np.ones_like(delta)
        q3 = weight * np.asarray(within, dtype=float) / n_pool * np.ones_like(delta)
        v3 = q1 + q2 - q3
        with np.errstate(divide="ignore", invalid="ignore"):
            den3 = q1**2 / df1 + q2**2 / between_df + q3**2 / max(within_df, 1)
            df3 = np.where(den3 > 0, v3**2 / den3, df1)
        v = np.maximum(np.maximum(q1, q2), v3)
        df = np.where(v == v3, df3, np.where(v == q1, df1, float(between_df)))
    else:
        v, df = q1, np.full_like(delta, df1)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(v)
        p = np.where(v > 0, 2 * dist.t_sf(np.abs(delta) / se, df), np.nan)
    return delta, se, df, p, q1, v - q1


# ---------------------------------------------------------------------------------------
# Dict API
# ---------------------------------------------------------------------------------------


def _matrix(scores: Scores, items: list[str]) -> np.ndarray:
    """Seeds (sorted) x items; `itemgetter` takes a seed's row out in C, not item by item."""
    if not items:
        return np.empty((len(scores), 0), dtype=float)
    take = itemgetter(*items) if len(items) > 1 else (lambda per: (per[items[0]],))
    return np.array([take(scores[s]) for s in sorted(scores, key=str)], dtype=float)


def _common_items(*variants: Scores) -> tuple[list[str], int]:
    pers = [per for v in variants for per in v.values()]
    if not pers:
        return [], 0
    first = pers[0].keys()
    if all(per.keys() == first for per in pers[1:]):  # the usual case: every seed scored every item
        return sorted(first), 0
    sets = [set(per) for per in pers]
    common, union = set.intersection(*sets), set.union(*sets)
    return sorted(common), len(union) - len(common)


def _variant_part(scores: Scores) -> tuple[float, float, int, int] | None:
    items = _common_items(scores)[0] if len(scores) >= 2 else []
    if len(items) < 2:
        return None
    between, within = seed_components(_matrix(scores, items))
    return float(between), float(within), len(scores), len(items)


def pooled_seed_variance(variants: Mapping[str, Scores] | Iterable[Scores]) -> SeedVariance:
    """Training-noise variance of one seed's mean score, pooled over the trained variants that have
    2+ seeds (an A/A control is one of them). Pass only trained variants: the untrained base has
    no training noise. Variants with one seed add nothing; with none, the result is not `known`."""
    vs = list(variants.values()) if isinstance(variants, Mapping) else list(variants)
    return pooled_parts([p for p in (_variant_part(v) for v in vs) if p is not None])


def pooled_parts(parts: list[tuple[float, float, int, int]]) -> SeedVariance:
    """`pooled_seed_variance` from each variant's (between, within, k, n) (`seed_components`)."""
    if not parts:
        return NO_SEED_VARIANCE
    var, df, between, bdf, within, wdf, n_mean = pool_components(parts)
    return SeedVariance(float(var), float(df), float(between), int(bdf), float(within), int(wdf), float(n_mean),
                        len(parts))


def seed_aware_diff(a: Scores, b: Scores, *, higher_is_better: bool = True, seed_var: SeedVariance | None = None,
                    a_trained: bool = True, b_trained: bool = True, alpha: float = 0.05, power: float = 0.8,
                    seed_weight: float | None = None, family_size: int = 1) -> SeedAwareDiff:
    """B - A on the items every seed of both scored, with training noise in the interval.

    `seed_var`: the ablation's pooled estimate (`pooled_seed_variance` over all its trained
    variants, control included); None estimates it from A and B alone. `a_trained=False` marks the
    untrained base (no training noise on that side). `seed_weight` overrides 1/k_A + 1/k_B.
    `family_size` m: the MDE is computed at alpha / m, what a Holm-adjusted call needs at worst
    (the p-value and interval stay unadjusted)."""
    if not a or not b:
        raise ValueError("seed_aware_diff needs at least one seed of scores for each variant")
    items, unpaired = _common_items(a, b)
    n, ka, kb = len(items), len(a), len(b)
    if seed_var is None:
        seed_var = pooled_seed_variance([v for v, t in ((a, a_trained), (b, b_trained)) if t])
    weight = seed_weight if seed_weight is not None else (1 / ka if a_trained else 0.0) + (1 / kb if b_trained else 0.0)
    noise_in = weight == 0 or seed_var.known
    if n < 2:
        return SeedAwareDiff(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n,
                             ka, kb, float("nan"), float("nan"), float("inf"), "too few paired items", noise_in, False,
                             False, higher_is_better, unpaired, f"only {n} item(s) scored by every seed of both")
    ma, mb = _matrix(a, items), _matrix(b, items)
    stats = [float(x) for x in diff_arrays(ma, mb, seed_var.between, seed_var.between_df, seed_var.within,
                                           seed_var.within_df, seed_var.n_items, weight)]
    mdd = min_detectable(stats[1], stats[2], alpha / max(family_size, 1), power) if stats[1] > 0 else float("nan")
    return unpaired_result(stats, mdd, bool(np.all(mb.mean(axis=0) - ma.mean(axis=0) == 0)), n, ka, kb, unpaired,
                           seed_var, weight, higher_is_better, alpha)


def unpaired_result(stats, mdd: float, all_equal: bool, n: int, ka: int, kb: int, unpaired: int, seed_var: SeedVariance,
                    weight: float, higher_is_better: bool, alpha: float) -> SeedAwareDiff:
    """`seed_aware_diff`'s result from its `diff_arrays` numbers and MDE (also the engine's batch)."""
    delta, se, df, p, var_item, var_seed = stats
    constant, noise_in = var_item == 0, weight == 0 or seed_var.known
    lo, hi, reason = float("nan"), float("nan"), ""
    if se > 0:
        half = float(dist.t_ppf(1 - alpha / 2, df)) * se
        lo, hi = delta - half, delta + half
        if all_equal:
            reason = f"no item differs ({n} items); the interval is training noise alone"
        elif constant:
            reason = f"every item differs by {delta:+.4g} ({n} items); the interval is training noise alone"
    elif all_equal:
        reason, p = f"no item differs ({n} items)", 1.0
    else:  # every item moved by the same amount and there is no seed spread: exact sign test
        reason, p = f"every item differs by {delta:+.4g} ({n} items): no spread, p from a sign test", 2.0 ** (1 - n)
    parts = [f"paired t over {n} items (seeds A {ka}, B {kb})"]
    if weight > 0 and seed_var.known:
        parts.append(f"seed variance pooled over {seed_var.n_variants} variant(s), {seed_var.between_df} seed df")
        if seed_var.between_df < FEW_SEED_DF:
            parts.append(FEW_SEED_DF_NOTE)
    elif weight > 0:
        parts.append(f"item-only: one seed per variant, {TRAINING_NOISE_MISSING}")
    else:
        parts.append("no trained side: no training noise to include")
    if se > 0:
        parts.append(f"Satterthwaite df {df:.1f}")
    return SeedAwareDiff(delta, lo, hi, se, df, p, n, ka, kb, var_item, var_seed, mdd, "; ".join(parts), noise_in,
                         all_equal, bool(p < alpha), higher_is_better, unpaired, reason)


def common_seeds(*variants: Scores) -> list:
    """The seed labels every given variant was trained with."""
    sets = [set(v) for v in variants]
    return sorted(set.intersection(*sets), key=str) if sets else []


def seed_interaction(variants: Mapping[str, Scores] | Iterable[Scores], seeds: Iterable) -> Interaction | None:
    """The variant x seed interaction over every trained variant that has all of `seeds`, on the
    items all their cells scored (None with fewer than 2 such variants, 2 seeds or 2 items). Pooled
    over the table it assumes one interaction variance for every variant; the decisions do not use
    it (benchmarks/decisions.py part d: 24% false positives when one variant's seed noise is 10x)."""
    vs = list(variants.values()) if isinstance(variants, Mapping) else list(variants)
    seeds = tuple(sorted(seeds, key=str))
    rows = [{s: v[s] for s in seeds} for v in vs if all(s in v for s in seeds)]
    if len(rows) < 2 or len(seeds) < 2:
        return None
    items, _ = _common_items(*rows)
    if len(items) < 2:
        return None
    cells = np.array([_matrix(r, items).mean(axis=-1) for r in rows])
    return Interaction(float(interaction_ms(cells)), (len(rows) - 1) * (len(seeds) - 1), seeds, len(rows), len(items))


def paired_components(a: np.ndarray, b: np.ndarray) -> tuple:
    """delta, item variance and df, seed variance and df of B - A over (..., k, n) arrays whose seed
    s is paired: the two-way seed x item table D of differences, var(delta) = item + seed with
    item = (MS_item - MS_resid) / (n k) (Satterthwaite df, floored at 0) and seed = var_s(d_s) / k,
    k - 1 df (see the module docstring)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    k, n = d.shape[-2], d.shape[-1]
    delta = d.mean(axis=(-2, -1))
    ms_item = k * d.mean(axis=-2).var(axis=-1, ddof=1)
    _, ms_resid = seed_components(d)
    scale = np.maximum(1.0, np.abs(d).max(axis=(-2, -1)))
    tiny = (1e-12 * scale) ** 2  # every cell moved alike: no spread, not rounding
    item_ms, resid_ms = ms_item / (n * k), ms_resid / (n * k)
    item = item_ms - resid_ms
    with np.errstate(divide="ignore", invalid="ignore"):
        den = item_ms**2 / (n - 1) + resid_ms**2 / ((k - 1) * (n - 1))
        item_df = np.where((item > tiny) & (den > 0), item**2 / np.where(den > 0, den, 1.0), float(n - 1))
    item = np.where(item > tiny, item, 0.0)
    seed = d.mean(axis=-1).var(axis=-1, ddof=1) / k
    seed = np.where(seed > tiny, seed, 0.0)
    return delta, item, item_df, seed, np.full_like(delta, float(k - 1))


def paired_arrays(a: np.ndarray, b: np.ndarray, alpha: float = 0.05, interval: bool = True) -> dict:
    """B - A on (..., k, n) arrays whose seed s is paired: delta, se, df (the t equivalent of the
    fiducial interval), p (Behrens-Fisher fiducial), half (the interval's half-width; NaN unless
    `interval`), var_item, var_seed and the components' df."""
    delta, item, item_df, seed, seed_df = paired_components(a, b)
    se = np.sqrt(item + seed)
    p = behrens.tail(delta, item, item_df, seed, seed_df)
    half = behrens.critical(item, item_df, seed, seed_df, alpha) if interval else np.full_like(delta, np.nan)
    df = behrens.equivalent_df(half, se, alpha) if interval else np.full_like(delta, np.nan)
    return {"delta": delta, "se": se, "df": df, "p": p, "half": half, "var_item": item, "var_seed": seed,
            "item_df": item_df, "seed_df": seed_df}


def paired_seed_diff(a: Scores, b: Scores, seeds: Iterable | None = None, *, higher_is_better: bool = True,
                     alpha: float = 0.05, power: float = 0.8, family_size: int = 1) -> SeedAwareDiff:
    """B - A pairing seed s of A with seed s of B over `seeds` (default: every seed both have, 2+
    needed), on the items both scored on every one of them. Training noise is the pair's own
    seed-to-seed spread of differences, so a variant whose seed noise is 10x another's costs only
    its own comparisons (see the module docstring)."""
    seeds = tuple(sorted(seeds if seeds is not None else common_seeds(a, b), key=str))
    if len(seeds) < 2:
        raise ValueError(f"paired seeds need 2+ seeds common to both variants, got {list(seeds)}")
    a, b = {s: a[s] for s in seeds}, {s: b[s] for s in seeds}
    items, unpaired = _common_items(a, b)
    n, k = len(items), len(seeds)
    if n < 2:
        return seed_aware_diff(a, b, higher_is_better=higher_is_better, alpha=alpha, power=power)
    ma, mb = _matrix(a, items), _matrix(b, items)
    r = {key: float(v) for key, v in paired_arrays(ma, mb, alpha).items()}
    mdd = float("nan")
    if r["se"] > 0:
        m_alpha = alpha / max(family_size, 1)
        half_m = float(behrens.critical(r["var_item"], r["item_df"], r["var_seed"], r["seed_df"], m_alpha))
        mdd = min_detectable(r["se"], float(behrens.equivalent_df(half_m, r["se"], m_alpha)), m_alpha, power)
    return paired_result(r, n, k, unpaired, bool(np.all(ma == mb)), mdd, higher_is_better, alpha)


def paired_result(r: Mapping[str, float], n: int, k: int, unpaired: int, all_equal: bool, mdd: float,
                  higher_is_better: bool, alpha: float) -> SeedAwareDiff:
    """The SeedAwareDiff of one paired-seed difference from its `paired_arrays` numbers `r` and its MDE
    (shared by `paired_seed_diff` and the engine's batch over every pair of a suite and metric)."""
    delta, se, df, p = r["delta"], r["se"], r["df"], r["p"]
    lo, hi, reason = float("nan"), float("nan"), ""
    if se > 0:
        lo, hi = delta - r["half"], delta + r["half"]
        if all_equal:
            reason = f"no item differs ({n} items); the interval is training noise alone"
    elif all_equal:
        reason, p = f"no item differs ({n} items)", 1.0
    else:  # every cell moved by the same amount: exact sign test over the items
        reason, p = f"every item differs by {delta:+.4g} ({n} items, {k} seeds): no spread, p from a sign test", \
            2.0 ** (1 - n)
    method = (f"paired seeds: seed s of A with seed s of B over {k} common seeds, {n} items; training noise from "
              f"the pair's own seed differences ({k - 1} df), item part {r['item_df']:.1f} df; Behrens-Fisher "
              f"fiducial p and interval (t-equivalent df {df:.1f})")
    return SeedAwareDiff(delta, lo, hi, se, df, p, n, k, k, r["var_item"], r["var_seed"], mdd, method, True,
                         all_equal, bool(p < alpha), higher_is_better, unpaired, reason, True)
