"""The engine's batched paired decisions (issue 26) give the numbers of one `paired_seed_diff` per pair.

`suite_questions` builds each variant's seed x item matrix once per metric and decides the paired pairs
of a metric together (`engine.paired_batch`: stacked statistics, the Behrens-Fisher bisection over the
stack, `behrens.detectable` for the MDE). Everything but the MDE is the same computation on the same
numbers (checked to 1e-9 relative); the MDE's root-finder differs from brentq (xtol 1e-8 on the
noncentrality), so it is checked to 1e-8 x se."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest

from workbench.evals import behrens
from workbench.evals.decide import common_seeds, paired_seed_diff, pooled_seed_variance, seed_aware_diff
from workbench.evals.engine import ALPHA, PAIRED_MIN_SEEDS, metric_scores, paired_batch, suite_questions

METRICS = ["acc", "bits_per_byte"]  # higher is better, lower is better


def direction(suite: str, metric: str) -> bool:
    return metric != "bits_per_byte"


def reference_questions(suite, metrics, headline, pairs, per_variant, trained, control=None, family_size=1):
    """The per-pair path as it was before the batch: one `paired_seed_diff` or `seed_aware_diff` per pair."""
    out = []
    for metric in metrics:
        hib, head = direction(suite, metric), metric in headline
        var = pooled_seed_variance([metric_scores(per_variant[v], metric) for v in trained if v in per_variant])
        if control is not None and head:
            v, seeds = control
            scores = metric_scores(per_variant[v], metric)
            for other in seeds[1:]:
                if seeds[0] in scores and other in scores:
                    out.append(seed_aware_diff({seeds[0]: scores[seeds[0]]}, {other: scores[other]},
                                               higher_is_better=hib, seed_var=var, alpha=ALPHA))
        for a, b in pairs:
            sa, sb = metric_scores(per_variant[a], metric), metric_scores(per_variant[b], metric)
            if not sa or not sb:
                continue
            size = family_size if head else 1
            common = common_seeds(sa, sb) if a in trained and b in trained and a != b else []
            if len(common) >= PAIRED_MIN_SEEDS:
                out.append(paired_seed_diff(sa, sb, common, higher_is_better=hib, alpha=ALPHA, family_size=size))
            else:
                out.append(seed_aware_diff(sa, sb, higher_is_better=hib, seed_var=var, a_trained=a in trained,
                                           b_trained=b in trained, alpha=ALPHA, family_size=size))
    return out


def assert_same(got, want):
    for f in fields(want):
        x, y = getattr(got, f.name), getattr(want, f.name)
        if isinstance(y, float) and not isinstance(y, bool):
            if math.isnan(y) or math.isinf(y):
                assert x == y or (math.isnan(x) and math.isnan(y)), (f.name, x, y)
            elif f.name == "mdd":
                assert abs(x - y) <= 1e-8 * want.se + 1e-15, (f.name, x, y, want.se)
            else:
                assert x == pytest.approx(y, rel=1e-9, abs=1e-15), (f.name, x, y)
        else:
            assert x == y, (f.name, x, y)


def world(rng, n_variants: int, n_seeds: int, n_items: int, holes: bool):
    """variant -> seed -> item -> {metric: score}: the base (one "base" seed), trained variants with
    their own effects, one variant a copy of another (no item differs), one shifted by a constant,
    and with `holes`: items missing from some seeds, a metric missing on some items, seeds missing."""
    items = [f"i{j:03d}" for j in range(n_items)]
    ability = rng.normal(0, 1, n_items)
    per = {"base": {"base": {i: {"acc": float(rng.random() < 0.5), "bits_per_byte": float(1 + 0.1 * ability[j])}
                             for j, i in enumerate(items)}}}
    for v in range(n_variants):
        noise = 0.05 * (1 + 3 * (v == 1))  # one noisier variant
        seeds = {}
        for s in range(n_seeds):
            off = rng.normal(0, noise)
            seeds[str(s)] = {i: {"acc": float(rng.random() < 0.5 + 0.05 * v + off),
                                 "bits_per_byte": float(1 + 0.1 * ability[j] - 0.01 * v + off + rng.normal(0, 0.02))}
                             for j, i in enumerate(items)}
        per[f"v{v}"] = seeds
    per["copy"] = {s: {i: dict(m) for i, m in its.items()} for s, its in per["v0"].items()}
    per["shift"] = {s: {i: {"acc": m["acc"], "bits_per_byte": m["bits_per_byte"] + 0.25} for i, m in its.items()}
                    for s, its in per["v0"].items()}
    if holes:
        per["v2"]["0"].pop(items[0])  # an item one seed of one variant did not score
        per["v3"].pop("1")  # a seed missing
        for s in per["v4" if n_variants > 4 else "v3"].values():
            s[items[1]].pop("bits_per_byte")  # a metric missing on an item
        per["v0"]["extra"] = {i: dict(m) for i, m in per["v0"]["0"].items()}  # a seed only v0 has
    return per


@pytest.mark.parametrize("n_variants,n_seeds,n_items,holes", [
    (3, 3, 2, False), (5, 4, 7, True), (6, 5, 40, False), (6, 6, 40, True), (4, 2, 30, True)])
def test_batched_questions_match_one_pair_at_a_time(n_variants, n_seeds, n_items, holes):
    rng = np.random.default_rng(n_variants * 100 + n_seeds * 10 + n_items + holes)
    per = world(rng, n_variants, n_seeds, n_items, holes)
    order = list(per)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    trained = set(order) - {"base"}
    control = ("v0", ["0", "1", "2"][:n_seeds])
    got = suite_questions("s", METRICS, ["acc"], pairs, per, trained, direction, control, family_size=len(pairs))
    want = reference_questions("s", METRICS, ["acc"], pairs, per, trained, control, family_size=len(pairs))
    assert len(got) == len(want)
    for q, w in zip(got, want):
        assert_same(q.diff, w)
    paired = [q.diff for q in got if q.diff.paired_seeds]
    assert paired or n_seeds < PAIRED_MIN_SEEDS
    if paired:
        assert any(d.all_equal for d in paired) and any(not d.higher_is_better for d in paired)
        assert any(d.n_items_unpaired for d in paired) == holes


@pytest.mark.parametrize("k,n", [(2, 2), (3, 5), (5, 50), (20, 300)])
@pytest.mark.parametrize("hib", [True, False])
def test_paired_batch_matches_paired_seed_diff(k, n, hib):
    rng = np.random.default_rng(k * n)
    pairs, dicts = [], []
    for j in range(7):
        a = rng.normal(0, 1, (k, n)) + rng.normal(0, 0.3 * j, (k, 1))
        b = a + rng.normal(0.05 * j, 0.2, (k, n)) + rng.normal(0, 0.1 * j, (k, 1))
        if j == 0:
            b = a.copy()  # all equal
        if j == 1:
            b = a + 0.5  # every cell moved alike: the sign test
        pairs.append((a, b, 0))
        dicts.append(tuple({str(s): {f"i{i}": float(m[s, i]) for i in range(n)} for s in range(k)} for m in (a, b)))
    for size in (1, 40):
        got = paired_batch(pairs, higher_is_better=hib, alpha=ALPHA, family_size=size)
        for g, (da, db) in zip(got, dicts):
            assert_same(g, paired_seed_diff(da, db, higher_is_better=hib, alpha=ALPHA, family_size=size))


def test_detectable_matches_min_detectable():
    rng = np.random.default_rng(7)
    se = rng.uniform(1e-4, 2, 300)
    df = np.concatenate([rng.uniform(1, 5, 100), rng.uniform(5, 200, 100), rng.uniform(200, 1e6, 100)])
    for alpha in (0.05, 0.05 / 100):
        got = behrens.detectable(se, df, alpha)
        want = np.array([behrens.min_detectable(s, d, alpha) for s, d in zip(se, df)])
        assert np.all(np.abs(got - want) <= 1e-8 * se)
    edge = behrens.detectable([0.0, np.nan, 1.0, np.inf], [3.0, 3.0, 0.0, 3.0])
    assert np.isnan(edge).all()


def test_tail_is_the_two_sided_sum_bit_for_bit():
    """`behrens._tail` evaluates the t distribution function once per grid point (the grid is
    symmetric); the sum is the one of both tails evaluated apart, to the last bit."""
    from scipy import special

    rng = np.random.default_rng(11)
    a2 = rng.uniform(0, 1, 400) * rng.choice([0.0, 1e-6, 1.0, 100.0], 400)
    b2 = rng.uniform(0, 1, 400) * rng.choice([0.0, 1e-4, 1.0, 100.0], 400)
    dfa, dfb = rng.uniform(0.5, 2000, 400), rng.choice([1.0, 2.0, 5.5, 19.0, 300.0], 400)
    x = rng.normal(0, 3, 400) * np.sqrt(a2 + b2)
    tg, so, odf, ok = prepared = behrens._prepare(a2, dfa, b2, dfb)
    ax = np.abs(x)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        both = ((special.stdtr(odf, (tg - ax) / so) + special.stdtr(odf, (-ax - tg) / so)) * behrens._W).sum(axis=-1)
    assert np.array_equal(behrens._tail(x, prepared), np.where(ok, np.minimum(both, 1.0), np.nan), equal_nan=True)


def as_arrays(per: dict) -> dict:
    """The same world held as the report reads it (issue 26): each seed's items a metrics x items array
    (NaN where a metric is missing) in a `matrices.SeedScores`; seeds with the same items share a tuple."""
    from workbench.evals.matrices import SeedScores, score_tables

    shared: dict[tuple, tuple] = {}
    out = {}
    for v, seeds in per.items():
        arrays = {}
        for s, its in seeds.items():
            items = shared.setdefault(tuple(sorted(its)), tuple(sorted(its)))
            arrays[s] = (items, np.array([[its[i].get(m, np.nan) for i in items] for m in METRICS], dtype=float))
        out[v] = SeedScores(score_tables(METRICS, arrays))
    return out


@pytest.mark.parametrize("n_variants,n_seeds,n_items,holes", [(5, 4, 7, True), (6, 5, 40, False), (4, 2, 30, True)])
def test_the_array_path_decides_as_the_dict_path(n_variants, n_seeds, n_items, holes):
    """`suite_questions` on `SeedScores` (matrices stacked from arrays) gives the dict path's decisions to the
    last bit, holes included; the arrays read back as the dicts they hold."""
    rng = np.random.default_rng(n_variants * 100 + n_seeds * 10 + n_items + holes)
    per = world(rng, n_variants, n_seeds, n_items, holes)
    arrays = as_arrays(per)
    assert arrays == per
    for v in per:
        for m in METRICS:
            assert metric_scores(arrays[v], m) == metric_scores(per[v], m)
    order = list(per)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    trained = set(order) - {"base"}
    control = ("v0", ["0", "1", "2"][:n_seeds])
    got = suite_questions("s", METRICS, ["acc"], pairs, arrays, trained, direction, control, family_size=len(pairs))
    want = suite_questions("s", METRICS, ["acc"], pairs, per, trained, direction, control, family_size=len(pairs))
    assert [repr(q) for q in got] == [repr(q) for q in want]
