"""Paired statistics: A/A never significant, planted differences found, exact values where known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.evals import engine, stats


def _decide(items_a: dict, items_b: dict, primary: str) -> list[engine.Decision]:
    """Two one-seed models on one suite, through the decision engine as `workbench compare` does."""
    metrics = sorted({m for d in items_a.values() for m in d})
    qs = engine.suite_questions("s", metrics, [primary], [("A", "B")], {"A": {"0": items_a}, "B": {"0": items_b}},
                                set(), lambda suite, metric: True)
    return engine.decide(qs)


def test_mean_ci_binary_is_wilson_and_continuous_is_t():
    r = stats.mean_ci([1] * 7 + [0] * 3)
    assert r.mean == pytest.approx(0.7) and r.n == 10
    # Wilson 95% interval for 7/10
    assert (r.lo, r.hi) == pytest.approx((0.3968, 0.8922), abs=1e-3)
    c = stats.mean_ci([0.2, 0.4, 0.6, 0.8])
    assert c.mean == pytest.approx(0.5)
    half = 3.182446 * np.std([0.2, 0.4, 0.6, 0.8], ddof=1) / 2
    assert (c.lo, c.hi) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-5)
    mean, lo, hi = stats.mean_ci([1, 1, 1])
    assert mean == 1.0 and hi == 1.0 and lo < 1.0


def test_mcnemar_exact_values():
    # 6 items only A passed, 1 item only B passed: two-sided binomial p = 2 * P(X <= 1 | n=7)
    a = [1] * 6 + [0] * 1 + [1] * 5 + [0] * 8
    b = [0] * 6 + [1] * 1 + [1] * 5 + [0] * 8
    m = stats.mcnemar_exact(a, b)
    assert (m.b01, m.b10) == (1, 6)
    assert m.p == pytest.approx(2 * (1 + 7) / 2**7)
    assert stats.mcnemar_exact([1, 0, 1], [1, 0, 1]).p == 1.0
    with pytest.raises(ValueError):
        stats.mcnemar_exact([0.5, 1], [1, 0])


def test_paired_bootstrap_is_seeded_and_deterministic():
    rng = np.random.default_rng(1)
    a, b = rng.random(50), rng.random(50)
    assert stats.paired_bootstrap(a, b, seed=3) == stats.paired_bootstrap(a, b, seed=3)
    d = stats.paired_bootstrap(a, b, seed=3)
    assert d.delta == pytest.approx(float(np.mean(b - a)))
    assert d.lo <= d.delta <= d.hi
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1, 0], [1])


@pytest.mark.parametrize("seed", range(20))
def test_aa_identical_result_sets_are_never_different(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    binary = rng.random(n) < rng.uniform(0.1, 0.9)
    cont = rng.random(n)
    for a in (binary.astype(float), cont):
        d = stats.paired_bootstrap(a, a.copy(), seed=seed)
        assert not d.significant and d.delta == 0.0 and d.lo == 0.0 and d.hi == 0.0
    assert stats.mcnemar_exact(binary, binary.copy()).p == 1.0
    items = {str(i): {"pass": float(binary[i]), "sim": float(cont[i])} for i in range(n)}
    comps = _decide(items, dict(items), "pass")
    assert len(comps) == 2 and not any(c.significant or c.called for c in comps)
    assert [c.verdict for c in comps] == ["noise", ""]  # the primary metric gets a verdict, the other its raw p


def test_aa_two_samples_of_the_same_model_rarely_called_different():
    """Two noisy runs of the same 'model' (same pass rate per item): false-positive rate near 5%."""
    rng = np.random.default_rng(7)
    p_item = rng.uniform(0.2, 0.8, size=200)
    hits = 0
    for seed in range(60):
        a = (rng.random(200) < p_item).astype(float)
        b = (rng.random(200) < p_item).astype(float)
        hits += stats.paired_bootstrap(a, b, n_boot=2000, seed=seed).significant
    assert hits <= 8  # expected about 3 of 60


def test_planted_real_difference_is_found():
    rng = np.random.default_rng(11)
    n = 300
    a = (rng.random(n) < 0.4).astype(float)
    b = a.copy()
    # B fixes 20% of the items A failed and breaks none: a real +~12 point gain
    fixable = np.where(a == 0)[0]
    b[rng.choice(fixable, size=len(fixable) // 5, replace=False)] = 1.0
    d = stats.paired_bootstrap(a, b, seed=0)
    assert d.significant and d.lo > 0
    assert stats.mcnemar_exact(a, b).p < 0.001
    assert stats.min_detectable_difference(a, b) < d.delta
    items_a = {str(i): {"pass": a[i]} for i in range(n)}
    items_b = {str(i): {"pass": b[i]} for i in range(n)}
    (c,) = _decide(items_a, items_b, "pass")
    assert c.verdict == "better" and c.colour == "green" and c.delta > 0 and c.p < 0.001 and c.n == n
    # the same gain in the other direction is called too, with a negative delta
    (r,) = _decide(items_b, items_a, "pass")
    assert r.verdict == "worse" and r.colour == "red" and r.delta < 0 and r.hi < 0


def test_min_detectable_difference_shrinks_with_more_items():
    rng = np.random.default_rng(0)
    small = stats.min_detectable_difference(rng.random(30) < 0.5, rng.random(30) < 0.5)
    big = stats.min_detectable_difference(rng.random(1000) < 0.5, rng.random(1000) < 0.5)
    assert big < small
    # identical runs fall back to the runs' variances; constant runs to the worst pass/fail case
    assert math.isfinite(stats.min_detectable_difference([1, 0, 1, 0], [1, 0, 1, 0]))
    assert stats.min_detectable_difference([1, 1, 1, 1], [1, 1, 1, 1]) == pytest.approx(2.8016 * math.sqrt(0.5) / 2, abs=1e-3)
    assert stats.min_detectable_difference([1]) == float("inf")


def test_comparisons_use_the_items_both_have():
    a = {"1": {"pass": 1.0}, "2": {"pass": 0.0}, "3": {"pass": 1.0}}
    b = {"2": {"pass": 1.0}, "3": {"pass": 1.0}, "4": {"pass": 0.0}}
    (c,) = _decide(a, b, "pass")
    assert c.n == 2 and c.delta == pytest.approx(0.5)
