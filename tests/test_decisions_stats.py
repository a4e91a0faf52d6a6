"""Calibration of the seed-aware decision rule on simulated per-item scores (issue 12 §2, §3, §7;
issue 13 §2): false positives near alpha under the null with seed noise, power as the reported
minimum detectable difference promises, flags for item-only and no-item-differs intervals, and
Holm / Benjamini-Hochberg against hand-computed values. Vectorized: the whole file runs in seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.ablate.outputs import EvalOutput, SuiteOutput

from workbench.evals import decide, engine, verdict
from workbench.evals.simulate import SimSpec, batch_diff, batch_interaction, batch_paired, batch_pool, simulate

REPS = 3000
CONTINUOUS = SimSpec()  # bits-per-byte-like, item and seed noise of comparable size
SEED_HEAVY = SimSpec(sd_seed=0.05)  # training noise 10x the item component's variance
BINARY = SimSpec(binary=True, sd_ixm=0.1, sd_seed=0.05)
REGIMES = {"continuous": CONTINUOUS, "seed_heavy": SEED_HEAVY, "binary": BINARY}


def _ablation(spec: SimSpec, rng, shift: float = 0.0, reps: int = REPS) -> dict[str, np.ndarray]:
    """base (untrained, one seed), raw and B (2 seeds each), control = raw's data, 2 more seeds."""
    return simulate(spec, {"base": 0.0, "raw": 0.0, "B": shift, "control": 0.0}, reps, rng,
                    same_data=("raw", "control"), seeds={"base": 1}, untrained=("base",))


def _pool(s):
    return [s["raw"], s["B"], s["control"]]


def _as_dicts(x: np.ndarray) -> dict[int, dict[str, float]]:
    return {k: {f"item{i}": float(x[k, i]) for i in range(x.shape[1])} for k in range(x.shape[0])}


def _rate(hits) -> float:
    return float(np.mean(hits))


def _reported_mdd(r: dict, n: int = 300) -> float:
    """The MDE the report promises, averaged over replicate analyses (each its own se and df)."""
    return float(np.mean([decide.min_detectable(float(r["se"][j]), float(r["df"][j])) for j in range(n)]))


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_null_false_positive_rate_is_alpha_with_seed_noise(regime):
    s = _ablation(REGIMES[regime], np.random.default_rng(11))
    trained = batch_diff(s["raw"], s["B"], _pool(s))
    from_base = batch_diff(s["base"], s["B"], _pool(s), a_trained=False)
    hits = np.concatenate([trained["p"] < 0.05, from_base["p"] < 0.05])  # 6,000 null comparisons
    assert 0.03 <= _rate(hits) <= 0.07, _rate(hits)
    # the full verdict (adjusted p below alpha AND beyond the A/A control's floor) is stricter still
    ctrl = batch_diff(s["raw"], s["control"], _pool(s))
    floor = np.maximum(np.abs(ctrl["lo"]), np.abs(ctrl["hi"]))
    codes = verdict.verdict_codes(trained["delta"], trained["p"], floor, higher_is_better=False)
    assert _rate(codes != 0) <= 0.05


def test_item_only_bootstrap_would_mistake_seed_noise_for_effects():
    # the failure of DESIGN.md: an A/A pair (same data, seeds differ) judged on items alone
    s = _ablation(SimSpec(sd_ixm=0.0, sd_seed=0.05), np.random.default_rng(5))
    item_only = batch_diff(s["raw"], s["control"], [])
    seed_aware = batch_diff(s["raw"], s["control"], _pool(s))
    assert _rate(item_only["p"] < 0.05) > 0.5
    assert _rate(seed_aware["p"] < 0.05) <= 0.07


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_power_at_the_reported_mdd_is_what_it_promises(regime):
    spec = REGIMES[regime]
    null = _ablation(spec, np.random.default_rng(21))
    mdd = _reported_mdd(batch_diff(null["raw"], null["B"], _pool(null)))
    planted = _ablation(spec, np.random.default_rng(22), shift=-mdd)  # lower is better: B improves
    got = batch_diff(planted["raw"], planted["B"], _pool(planted))
    power = _rate((got["p"] < 0.05) & (got["delta"] < 0))
    assert 0.7 <= power <= 0.9, (power, mdd)


def test_batch_path_is_the_dict_path():
    s = _ablation(CONTINUOUS, np.random.default_rng(3), reps=4)
    r = batch_diff(s["raw"], s["B"], _pool(s))
    for j in range(4):
        per = {k: _as_dicts(v[j]) for k, v in s.items()}
        sv = decide.pooled_seed_variance([per["raw"], per["B"], per["control"]])
        d = decide.seed_aware_diff(per["raw"], per["B"], seed_var=sv, higher_is_better=False)
        assert (d.delta, d.se, d.df, d.p, d.lo, d.hi) == pytest.approx(
            tuple(float(r[k][j]) for k in ("delta", "se", "df", "p", "lo", "hi")), rel=1e-9)
        assert d.training_noise_included and d.var_seed > 0 and d.n_seeds_a == d.n_seeds_b == 2
        assert d.mdd == pytest.approx(decide.min_detectable(d.se, d.df))
        assert d.improvement == -d.delta and "Satterthwaite" in d.method


def test_pooled_seed_variance_is_unbiased_for_training_noise():
    spec = SimSpec(sd_seed=0.04, sd_resid=0.05)
    s = simulate(spec, {f"v{i}": 0.0 for i in range(3)}, 4000, np.random.default_rng(8))
    between, bdf, within, wdf, n = batch_pool(list(s.values()))
    assert bdf == 3 and wdf == 3 * (spec.n_items - 1)
    assert float(np.mean(between - within / n)) == pytest.approx(spec.sd_seed**2, rel=0.08)
    assert float(np.mean(within)) == pytest.approx(spec.sd_resid**2, rel=0.02)


def test_one_seed_per_variant_is_item_only_and_says_so():
    rng = np.random.default_rng(1)
    a = {0: {f"i{j}": float(x) for j, x in enumerate(rng.random(30))}}
    b = {0: {f"i{j}": float(x) for j, x in enumerate(rng.random(30))}}
    d = decide.seed_aware_diff(a, b)
    assert not d.training_noise_included and decide.TRAINING_NOISE_MISSING in d.method
    assert d.var_seed == 0 and d.df == 29 and d.lo < d.delta < d.hi
    # the ablation's pooled estimate (other variants with 2 seeds) puts training noise back in
    items = rng.random(30)
    pool = decide.pooled_seed_variance([{s: {f"i{j}": float(x) + off for j, x in enumerate(items)}
                                         for s, off in enumerate(offsets)} for offsets in ((0, 0.3), (0.1, -0.2))])
    assert pool.known and pool.between_df == 2 and pool.var == pytest.approx((0.3**2 + 0.3**2) / 4)
    d2 = decide.seed_aware_diff(a, b, seed_var=pool)
    assert d2.training_noise_included and d2.var_seed > 0 and (d2.hi - d2.lo) > (d.hi - d.lo)
    # the untrained base against itself has no training noise to leave out
    base = decide.seed_aware_diff(a, b, a_trained=False, b_trained=False)
    assert base.training_noise_included and "no trained side" in base.method


def test_no_item_differs_gives_no_certain_interval():
    a = {0: {f"i{j}": float(j % 2) for j in range(25)}}
    d = decide.seed_aware_diff(a, {0: dict(a[0])})
    assert d.all_equal and d.reason == "no item differs (25 items)"
    assert math.isnan(d.lo) and math.isnan(d.hi) and d.p == 1.0 and not d.significant
    assert verdict.verdict_word(d.delta, d.p) == "noise"
    # with two seeds that agree on every item and training noise pooled in: an interval, flagged
    pool = decide.pooled_seed_variance([{0: {"x": 0.0, "y": 1.0}, 1: {"x": 0.2, "y": 1.2}}])
    d2 = decide.seed_aware_diff(a, {0: dict(a[0])}, seed_var=pool)
    assert d2.all_equal and d2.lo < 0 < d2.hi and "training noise alone" in d2.reason


def test_every_item_moved_alike_uses_a_sign_test():
    a = {0: {f"i{j}": j / 10 for j in range(12)}}
    d = decide.seed_aware_diff(a, {0: {k: v + 0.5 for k, v in a[0].items()}})
    assert d.delta == pytest.approx(0.5) and d.p == pytest.approx(2.0**-11) and math.isnan(d.lo)
    assert "sign test" in d.reason


def test_unpaired_items_are_left_out_and_counted():
    a = {0: {"a": 1.0, "b": 0.0, "c": 1.0}, 1: {"a": 1.0, "b": 1.0, "c": 0.0, "d": 1.0}}
    b = {0: {"a": 0.0, "b": 0.0, "c": 1.0, "e": 0.0}}
    d = decide.seed_aware_diff(a, b)
    assert d.n_items == 3 and d.n_items_unpaired == 2
    with pytest.raises(ValueError):
        decide.seed_aware_diff({}, b)
    assert decide.seed_aware_diff({0: {"a": 1.0}}, {0: {"a": 0.0}}).reason.startswith("only 1 item")


def test_holm_and_bh_against_hand_computed_values():
    ps = [0.01, 0.04, 0.03, 0.005, None, float("nan")]
    holm = verdict.adjust_pvalues(ps)
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 4*0.005, 3*0.01, 2*0.03, max(1*0.04, 0.06)
    assert holm[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm[4] is None and math.isnan(holm[5])
    bh = verdict.adjust_pvalues(ps, method="bh")
    # p * m / rank: 0.02, 0.02, 0.04, 0.04, then the running minimum from the top
    assert bh[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert verdict.adjust_pvalues([0.5, 0.9], "holm") == [1.0, 1.0]
    assert verdict.adjust_pvalues([]) == [] and verdict.adjust_pvalues([None]) == [None]
    with pytest.raises(ValueError, match="holm"):
        verdict.adjust_pvalues([0.1], method="bonferroni")


def test_verdict_rule_flips_for_lower_is_better_and_respects_the_floor():
    assert verdict.verdict_word(0.2, 0.01) == "better"
    assert verdict.verdict_word(0.2, 0.01, higher_is_better=False) == "worse"
    assert verdict.verdict_word(-0.2, 0.01, higher_is_better=False, strategy=True) == "helps"
    assert verdict.verdict_word(0.2, 0.2) == "noise" and verdict.verdict_word(0.2, None) == "noise"
    assert verdict.verdict_word(0.2, 0.01, floor=0.25) == "noise"
    assert verdict.verdict_word(0.2, 0.2, strategy=True) == "inconclusive"
    text = verdict.rule_text("holm", 0.05)
    assert "Holm-Bonferroni" in text and "not as a second threshold" in text and "0.05" in text


def test_decide_adjusts_the_family_and_keeps_the_control_as_a_check_not_a_floor():
    rng = np.random.default_rng(4)
    base = {0: {f"i{j}": float(x) for j, x in enumerate(rng.normal(1.0, 0.3, 40))}}
    big = {s: {k: v - 0.3 + rng.normal(0, 0.02) for k, v in base[0].items()} for s in range(2)}
    small = {s: {k: v - 0.01 + rng.normal(0, 0.002) for k, v in base[0].items()} for s in range(2)}
    ctrl_a = {s: {k: v + rng.normal(0, 0.01) for k, v in base[0].items()} for s in range(2)}
    ctrl_b = {s: {k: v + 0.03 + rng.normal(0, 0.01) for k, v in base[0].items()} for s in range(2, 4)}
    pool = decide.pooled_seed_variance([big, small])
    fam = [decide.seed_aware_diff(base, v, seed_var=pool, a_trained=False, higher_is_better=False)
           for v in (big, small)]
    assert all(f.p < 0.01 for f in fam)  # both significant; the small one sits under the old control floor
    assert abs(fam[1].delta) < verdict.noise_floor([decide.seed_aware_diff(ctrl_a, ctrl_b, higher_is_better=False)])
    control = [decide.seed_aware_diff(ctrl_a, ctrl_b, higher_is_better=False)]
    qs = [engine.Question("base", name, "s", "bits_per_byte", f, family="f", floor=tuple(control))
          for name, f in zip(("big", "small"), fam)]
    qs.append(engine.Question("c0", "c1", "s", "bits_per_byte", control[0], "control", family="control"))
    out = engine.decide(qs)
    assert [d.verdict for d in out[:2]] == ["better", "better"]  # no second threshold: the floor is not applied
    assert out[0].floor is None and out[1].floor is None and out[0].kind == "variant"
    assert out[0].called and out[0].colour == "green" and out[1].called
    assert out[0].p_adjusted == pytest.approx(min(1.0, 2 * min(f.p for f in fam)))
    assert out[2].kind == "control" and out[2].floor is None and out[2].p_adjusted == pytest.approx(control[0].p)
    # lower is better: B's bits per byte went down, so "better" with a negative delta; read as A vs B it is worse
    assert out[0].delta < 0 and out[0].improvement > 0 and out[0].direction == "lower is better"
    assert out[0].flipped().verdict == "worse" and out[0].flipped().colour == "red"
    rows = [d.to_dict() for d in out]
    assert {r["kind"] for r in rows} == {"variant", "control"} and rows[0]["suite"] == "s"
    assert {"delta", "lo", "hi", "p", "p_adjusted", "higher_is_better", "verdict", "se", "df"} <= set(rows[0])
    assert [engine.Decision.from_dict(r) for r in rows][0].to_dict() == rows[0]
    # a question outside any family (not a headline metric) keeps its raw p and gets no verdict
    (raw,) = engine.decide([engine.Question("base", "small", "s", "other", fam[1])])
    assert raw.verdict == "" and raw.p_adjusted is None and raw.significant == fam[1].significant and not raw.headline


# ---------------------------------------------------------------------------------------
# Issue 13: a removal against its size-matched random control, drawn anew per seed
# ---------------------------------------------------------------------------------------

STEPS = 4  # a per-step strategy: four removals, each with its own control; seed variance pooled


def _strategy(spec: SimSpec, rng, shift: float = 0.0, reps: int = 1000, paired: bool = False):
    names = {f"step{j}": shift for j in range(STEPS)} | {f"control{j}": 0.0 for j in range(STEPS)}
    s = simulate(spec, names, reps, rng, redraw=tuple(f"control{j}" for j in range(STEPS)))
    # paired: control s trained with seed s like the removal's seed s; the noise from their differences
    pool = [s[f"step{j}"] - s[f"control{j}"] if paired else s[f"control{j}"] for j in range(STEPS)]
    rs = [batch_diff(s[f"control{j}"], s[f"step{j}"], pool, seed_weight=1 / spec.seeds + 1) for j in range(STEPS)]
    return {k: np.concatenate([r[k] for r in rs]) for k in rs[0]}


@pytest.mark.parametrize("spec", [SimSpec(sd_draw=0.02), SimSpec(sd_draw=0.05, sd_seed=0.02),
                                  SimSpec(binary=True, sd_ixm=0.1, sd_seed=0.03, sd_draw=0.03)],
                         ids=["continuous", "draw_heavy", "binary"])
def test_random_removal_is_called_helps_rarely(spec):
    r = _strategy(spec, np.random.default_rng(31))  # 4,000 comparisons
    hib = spec.binary
    codes = verdict.verdict_codes(r["delta"], r["p"], higher_is_better=hib)
    assert _rate(codes == 1) <= 0.05 and _rate(codes != 0) <= 0.07


def test_removal_power_matches_its_mdd():
    spec = SimSpec(sd_draw=0.02)
    null = _strategy(spec, np.random.default_rng(41))
    mdd = _reported_mdd(null)
    planted = _strategy(spec, np.random.default_rng(42), shift=-mdd)
    power = _rate(verdict.verdict_codes(planted["delta"], planted["p"], higher_is_better=False) == 1)
    assert 0.7 <= power <= 0.9, (power, mdd)


CRN_STRATEGY = SimSpec(seeds=3, sd_draw=0.01, sd_seed=0.005, sd_common=0.02)  # a seed effect every run of a seed shares


def test_paired_controls_hold_alpha_and_need_a_smaller_difference_under_a_common_seed_effect():
    null = _strategy(CRN_STRATEGY, np.random.default_rng(51), paired=True)
    codes = verdict.verdict_codes(null["delta"], null["p"], higher_is_better=False)
    assert _rate(codes == 1) <= 0.05 and _rate(codes != 0) <= 0.07
    unpaired = _strategy(CRN_STRATEGY, np.random.default_rng(51))
    assert _reported_mdd(null) < 0.7 * _reported_mdd(unpaired)  # the common seed effect is no longer noise
    mdd = _reported_mdd(null)
    planted = _strategy(CRN_STRATEGY, np.random.default_rng(52), shift=-mdd, paired=True)
    assert _rate(verdict.verdict_codes(planted["delta"], planted["p"], higher_is_better=False) == 1) >= 0.7


def test_paired_control_variance_is_the_spread_of_the_paired_differences():
    from workbench.evals import controls

    rng = np.random.default_rng(8)
    items = [f"i{j}" for j in range(30)]
    common = {s: float(rng.normal(0, 0.5)) for s in range(3)}  # huge seed effect, shared by both runs of a seed
    removal = {s: {i: 1 + common[s] + float(rng.normal(0, 0.05)) for i in items} for s in range(3)}
    control = {s: {i: 1 + common[s] + float(rng.normal(0, 0.05)) for i in items} for s in range(3)}
    paired = controls.paired_control_variance([(removal, control)])
    diff = {s: {i: removal[s][i] - control[s][i] for i in items} for s in range(3)}
    assert paired == decide.pooled_seed_variance([diff]) and paired.between_df == 2
    assert paired.between < 0.01 < decide.pooled_seed_variance([control]).between  # the seed effect cancelled
    d = controls.removal_vs_control(removal, control, higher_is_better=False, seed_var=paired, paired=True)
    assert d.paired_seeds and "paired by seed" in d.method and d.hi - d.lo < 0.2
    # fewer than 2 shared seeds: nothing to pool
    assert not controls.paired_control_variance([(removal, {0: control[0]})]).known


def test_removal_vs_control_dict_api_uses_the_conservative_weight():
    rng = np.random.default_rng(6)
    items = [f"i{j}" for j in range(30)]
    control = {s: {i: float(rng.normal(1, 0.1)) for i in items} for s in range(2)}
    removal = {s: {i: float(rng.normal(1, 0.1)) for i in items} for s in range(2)}
    from workbench.evals import controls

    d = controls.removal_vs_control(removal, control, higher_is_better=False)
    plain = decide.seed_aware_diff(control, removal, higher_is_better=False,
                                   seed_var=decide.pooled_seed_variance([control]))
    assert d.delta == pytest.approx(plain.delta) and d.var_seed >= plain.var_seed


# ---------------------------------------------------------------------------------------
# benchmarks/decisions.py part (b): stored per-item scores from a real catalog
# ---------------------------------------------------------------------------------------


def test_benchmark_reads_stored_scores_and_makes_aa_draws(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    from workbench.core.workspace import Workspace

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "decisions.py"
    spec = importlib.util.spec_from_file_location("bench_decisions", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ws = Workspace(tmp_path / "home")
    cat = ws.catalog()
    cat.save_ablation("aa", {"eval": {"suites": ["s1"], "layer": "smoke"}, "seeds": [0, 1, 2]}, "hash")
    sim = simulate(SimSpec(n_items=30), {"base": 0.0, "raw": 0.0, "plain": 0.0}, 1, np.random.default_rng(0),
                   seeds={"base": 1, "raw": 3, "plain": 3}, untrained=("base",))
    for v, arr in sim.items():
        for k in range(arr.shape[1]):
            rid, target = f"r-{v}-{k}", f"t-{v}-{k}"
            cat.save_eval_result({"id": rid, "model_key": f"m-{v}-{k}", "target": target, "suite": "s1",
                                  "layer": "smoke", "suite_hash": "x", "settings": {}, "n_items": 30, "metrics": {},
                                  "primary_metric": "bpb"},
                                 [{"item_id": f"i{i}", "prompt": "p", "response": "r",
                                   "scores": {"bpb": float(arr[0, k, i]), "other": 1.0}} for i in range(30)])
            cat.task_started("aa", f"e-{v}-{k}", "eval", v, None if v == "base" else k, f"eval {v}", {"target": target})
            out = EvalOutput(target, [SuiteOutput("s1", "smoke", rid, 30, {}, "bpb", f"m-{v}-{k}", None, 1.0)])
            cat.task_done("aa", f"e-{v}-{k}", out.to_dict(), 60.0)
    scores, info, _ = bench.stored_scores(str(ws.home), "aa")
    assert info["untrained"] == {"base"} and set(scores["s1"]) == {"bpb"}  # the headline metric only
    assert {v: len(s) for v, s in scores["s1"]["bpb"].items()} == {"base": 1, "raw": 3, "plain": 3}
    assert bench.part_b(str(ws.home), "aa", draws=400, seed=0) == 2
    out = capsys.readouterr().out
    rates = [float(line.split("|")[-2].strip().rstrip("%")) for line in out.splitlines() if "permuted" in line]
    assert len(rates) == 2 and all(r <= 10.0 for r in rates)
    assert "real seed pairs | 3 |" in out and "7.0 min of train + eval over 2 decisions" in out


# ---------------------------------------------------------------------------------------
# Issue 28 §1: seed s of A paired with seed s of B, one variant's seed noise 10x another's
# ---------------------------------------------------------------------------------------

PAIRED = ("raw", "quiet", "noisy", "other", "control")  # control: raw's data, its own seed noise


def _paired_null(k: int, reps: int, seed: int, shift: dict | None = None):
    spec = SimSpec(n_items=30, seeds=k, sd_seed=0.01, sd_common=0.03)
    return simulate(spec, {v: (shift or {}).get(v, 0.0) for v in PAIRED}, reps, np.random.default_rng(seed),
                    seed_sd={"noisy": 0.1}, same_data=("raw", "control"))


def test_behrens_fisher_tail_matches_numerical_integration():
    from scipy import integrate, stats as sps

    from workbench.evals import behrens

    for a, dfa, b, dfb in [(0.02, 29, 0.02, 1), (0.02, 29, 0.002, 1), (0.01, 10, 0.03, 3)]:
        for x in (0.03, 0.1, 0.3):
            ref = integrate.quad(lambda t: sps.t.pdf(t, dfb) * (sps.t.sf((x - b * t) / a, dfa)
                                                                + sps.t.cdf((-x - b * t) / a, dfa)), -np.inf, np.inf,
                                 limit=200)[0]
            assert float(behrens.tail(x, a * a, dfa, b * b, dfb)) == pytest.approx(ref, abs=2e-4)
        c = behrens.critical(a * a, dfa, b * b, dfb)
        assert float(behrens.tail(c, a * a, dfa, b * b, dfb)) == pytest.approx(0.05, abs=1e-6)
    # one part zero: the exact t test of the other
    assert float(behrens.tail(0.1, 0.0, 29, 0.02**2, 1)) == pytest.approx(2 * sps.t.sf(5.0, 1))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_paired_seeds_are_calibrated_with_ten_times_the_seed_noise(k):
    s = _paired_null(k, 1500, 100 + k)
    for b in ("quiet", "noisy", "control"):  # a null pair, the noisy variant's, and the A/A pair
        r = batch_paired(s["raw"], s[b], interval=False)
        assert _rate(r["p"] < 0.05) <= 0.065, (b, _rate(r["p"] < 0.05))
    # the earlier rules were not: the interaction pooled over the table, and today's unpaired path
    pooled = batch_interaction(s["raw"], s["noisy"], [s[v] for v in PAIRED])
    unpaired = batch_diff(s["raw"], s["noisy"], [s[v] for v in PAIRED])
    assert _rate(pooled["p"] < 0.05) > 0.1 and _rate(unpaired["p"] < 0.05) > 0.1


@pytest.mark.parametrize("k", [2, 4])
def test_paired_power_at_one_and_a_half_times_the_reported_mdd(k):
    s = _paired_null(k, 300, 200 + k)
    for b in ("quiet", "noisy"):
        r = batch_paired(s["raw"], s[b])
        mdd = np.array([decide.min_detectable(float(se), float(df)) for se, df in zip(r["se"], r["df"])])
        got = batch_paired(s["raw"], s[b] + 1.5 * mdd[:, None, None], interval=False)  # the se does not move
        assert _rate((got["p"] < 0.05) & (got["delta"] > 0)) >= 0.9, b


def test_paired_beats_today_at_three_seeds_with_a_common_seed_effect():
    s = _paired_null(3, 300, 7)
    paired, today = batch_paired(s["raw"], s["quiet"]), batch_diff(s["raw"], s["quiet"], [s[v] for v in PAIRED])
    assert float(np.median(paired["half"])) < 0.7 * float(np.median(today["hi"] - today["delta"]))


def test_paired_batch_path_is_the_dict_path():
    s = _paired_null(3, 3, 9)
    r = batch_paired(s["raw"], s["quiet"])
    for j in range(3):
        per = {k: _as_dicts(v[j]) for k, v in s.items()}
        d = decide.paired_seed_diff(per["raw"], per["quiet"], higher_is_better=False)
        assert d.paired_seeds and d.n_seeds_a == d.n_seeds_b == 3 and "fiducial" in d.method
        assert (d.delta, d.se, d.df, d.p, d.lo, d.hi) == pytest.approx(
            tuple(float(r[k][j]) for k in ("delta", "se", "df", "p", "lo", "hi")), rel=1e-9)
        assert d.lo < d.delta < d.hi and (d.p < 0.05) == (d.lo > 0 or d.hi < 0)
    with pytest.raises(ValueError, match="2\\+ seeds"):
        decide.paired_seed_diff({0: {"a": 1.0, "b": 2.0}}, {0: {"a": 1.0, "b": 0.0}})


def test_engine_pairs_common_seeds_by_default():
    rng = np.random.default_rng(2)
    items = {f"i{j}": float(x) for j, x in enumerate(rng.normal(1.0, 0.3, 30))}
    per = {v: {str(s): {k: {"bpb": x + 0.02 * s + rng.normal(0, 0.01)} for k, x in items.items()} for s in range(3)}
           for v in ("A", "B", "C")}
    per["base"] = {"base": {k: {"bpb": x} for k, x in items.items()}}
    args = ("s", ["bpb"], ["bpb"], [("A", "B"), ("base", "B")], per, {"A", "B", "C"}, lambda suite, metric: False)
    paired, from_base = engine.decide(engine.suite_questions(*args))
    plain, _ = engine.decide(engine.suite_questions(*args, paired=False))
    assert paired.paired_seeds and paired.to_dict()["paired_seeds"] is True and not from_base.paired_seeds
    assert not plain.paired_seeds
    assert paired.delta == pytest.approx(plain.delta) and paired.se < plain.se  # the shared 0.02 * s cancels
    two = {v: {s: x for s, x in per[v].items() if s in ("0", "1", "base")} for v in per}
    (two_seeds, _) = engine.decide(engine.suite_questions(*args[:4], two, *args[5:]))
    assert not two_seeds.paired_seeds  # 2 common seeds: under PAIRED_MIN_SEEDS, the unpaired path
    (asked, _) = engine.decide(engine.suite_questions(*args[:4], two, *args[5:], paired_min_seeds=2))
    assert asked.paired_seeds and asked.n_seeds_a == 2
