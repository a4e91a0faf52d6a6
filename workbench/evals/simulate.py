"""Synthetic per-item scores with item, item x model and seed noise, for calibrating decisions.

`simulate` draws many replicate ablations at once as numpy arrays shaped (reps, seeds, items);
`batch_diff` runs the same variance-components code as `decide.seed_aware_diff` on them, so the
calibration tests and benchmarks/decisions.py measure the product's statistics, vectorized.

Continuous scores (bits-per-byte-like, lower is better):
    y = base + item_i + u[v, i] + seed[v, s] + e[v, s, i] + shift_v
with seed[v, s] = c_s + g[v, s]: c_s (sd `sd_common`) is shared by every trained variant's seed s
(common random numbers: the same data order and initialisation for the same seed), g is the
variant x seed interaction (sd `sd_seed`, or per variant through `seed_sd`).
`batch_paired` pairs seed s of A with seed s of B as `decide.paired_seed_diff` does;
`batch_interaction` is the earlier pooled-interaction rule, kept for the benchmark's comparison.
Pass/fail scores: y ~ Bernoulli(clip(q_i + u[v, i] + seed[v, s] + shift_v, 0, 1)), with item
pass rates q_i ~ Uniform(q_lo, q_hi); the Bernoulli draw is the seed x item residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.evals.decide import diff_arrays, interaction_ms, paired_arrays, pool_components, seed_components


@dataclass(frozen=True)
class SimSpec:
    n_items: int = 40
    seeds: int = 2
    binary: bool = False
    base: float = 1.2  # continuous: mean score (bits per byte)
    sd_item: float = 0.3  # spread of item difficulty (shared by every variant)
    sd_ixm: float = 0.05  # item x model interaction, per variant (zero for an A/A pair of one data set)
    sd_seed: float = 0.01  # training noise: offset of one seed's mean score
    sd_resid: float = 0.03  # seed x item residual (continuous only)
    sd_draw: float = 0.0  # offset of one random draw of training rows (issue 13's random removals)
    sd_common: float = 0.0  # seed effect shared by every variant trained with that seed
    q_lo: float = 0.25  # binary: range of item pass rates
    q_hi: float = 0.75


def simulate(spec: SimSpec, shifts: dict[str, float], reps: int, rng: np.random.Generator,
             same_data: tuple[str, ...] = (), seeds: dict[str, int] | None = None,
             untrained: tuple[str, ...] = (), redraw: tuple[str, ...] = (),
             seed_sd: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """{variant: (reps, k, n) scores}. Variants in `same_data` share one item x model draw (an A/A
    control trained on the baseline's data); the others get their own. `seeds` overrides k;
    `untrained` variants (the base model) have no seed offset. With `sd_draw` > 0 every trained
    variant is one draw of rows (an offset of sd `sd_draw`); `redraw` variants (a size-matched
    random control) draw their rows anew per seed: the offset and item x model part per seed.
    `seed_sd` overrides the interaction sd `sd_seed` per variant; seed s of every trained variant
    shares the common offset c_s (sd `sd_common`)."""
    n = spec.n_items
    if spec.binary:
        item = rng.uniform(spec.q_lo, spec.q_hi, size=(reps, 1, n))
    else:
        item = spec.base + rng.normal(0.0, spec.sd_item, size=(reps, 1, n))
    shared_u = rng.normal(0.0, spec.sd_ixm, size=(reps, 1, n))
    max_k = max([spec.seeds, *(seeds or {}).values()])
    common = rng.normal(0.0, spec.sd_common, size=(reps, max_k, 1)) if spec.sd_common else np.zeros((1, max_k, 1))
    out = {}
    for name, shift in shifts.items():
        k = (seeds or {}).get(name, spec.seeds)
        per = k if name in redraw else 1
        u = shared_u if name in same_data else rng.normal(0.0, spec.sd_ixm, size=(reps, per, n))
        trained = name not in untrained
        sd = (seed_sd or {}).get(name, spec.sd_seed)
        seed = rng.normal(0.0, sd if trained else 0.0, size=(reps, k, 1)) + (common[:, :k] if trained else 0.0)
        draw = rng.normal(0.0, spec.sd_draw if trained else 0.0, size=(reps, per, 1))
        mean = item + u + seed + draw + shift
        if spec.binary:
            out[name] = (rng.random((reps, k, n)) < np.clip(mean, 0.0, 1.0)).astype(float)
        else:
            out[name] = mean + rng.normal(0.0, spec.sd_resid, size=(reps, k, n))
    return out


def batch_pool(arrays: list[np.ndarray]) -> tuple:
    """Pooled (between, between_df, within, within_df, n) per replicate over (reps, k, n) arrays."""
    parts = [(*seed_components(x), x.shape[-2], x.shape[-1]) for x in arrays if x.shape[-2] >= 2]
    _, _, between, bdf, within, wdf, n_mean = pool_components(parts)
    return between, bdf, within, wdf, n_mean


def batch_diff(a: np.ndarray, b: np.ndarray, pool: list[np.ndarray], a_trained: bool = True, b_trained: bool = True,
               alpha: float = 0.05, seed_weight: float | None = None) -> dict[str, np.ndarray]:
    """delta, se, df, p, lo, hi per replicate for B - A, with the seed variance pooled over `pool`."""
    from workbench.evals import dist

    ka, kb = a.shape[-2], b.shape[-2]
    weight = seed_weight if seed_weight is not None else (1 / ka if a_trained else 0.0) + (1 / kb if b_trained else 0.0)
    delta, se, df, p, var_item, var_seed = diff_arrays(a, b, *batch_pool(pool), weight)
    half = dist.t_ppf(1 - alpha / 2, df) * se
    return {"delta": delta, "se": se, "df": df, "p": p, "lo": delta - half, "hi": delta + half,
            "var_item": var_item, "var_seed": var_seed}


def batch_paired(a: np.ndarray, b: np.ndarray, alpha: float = 0.05, interval: bool = True) -> dict[str, np.ndarray]:
    """B - A per replicate pairing seed s of A with seed s of B, as `decide.paired_seed_diff` does:
    the pair's own seed differences and the items, Behrens-Fisher fiducial p and interval."""
    r = paired_arrays(a, b, alpha, interval)
    return {**r, "lo": r["delta"] - r["half"], "hi": r["delta"] + r["half"]}


def batch_interaction(a: np.ndarray, b: np.ndarray, table: list[np.ndarray], alpha: float = 0.05) -> dict[str, np.ndarray]:
    """The previous opt-in paired rule, for comparison in benchmarks/decisions.py: training noise
    from the variant x seed interaction mean square of `table` ((reps, k, n) arrays on the same
    seeds; (V - 1)(k - 1) df), combined with the items by `decide.diff_arrays` (the largest of three
    variance estimates, the winner's df). `table` = [a, b] is the pair's own seeds (k - 1 df)."""
    from workbench.evals import dist

    cells = np.stack([x.mean(axis=-1) for x in table], axis=-2)  # (reps, V, k)
    v, k = cells.shape[-2], cells.shape[-1]
    n = a.shape[-1]
    _, within = seed_components(np.asarray(b, dtype=float) - np.asarray(a, dtype=float))
    delta, se, df, p, var_item, var_seed = diff_arrays(a, b, 2 * interaction_ms(cells), (v - 1) * (k - 1), within,
                                                       (k - 1) * (n - 1), n, 1 / k)
    half = dist.t_ppf(1 - alpha / 2, df) * se
    return {"delta": delta, "se": se, "df": df, "p": p, "lo": delta - half, "hi": delta + half,
            "var_item": var_item, "var_seed": var_seed}
