"""Ablation strategies without training (issue 13): spec expansion, max_variants, errors with key
paths, the curation steps strategies generate (random controls, defects, score cuts), calibration
of the strategy verdict on synthetic per-item scores, and suggest-thresholds on a known slope."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from workbench.ablate.spec import AblationSpec, SpecError, load_spec
from workbench.ablate.strategies import describe_strategies, tags
from workbench.evals.simulate import SimSpec, batch_diff, simulate

RECIPE = {"steps": [{"step": "exact_dedup"}, {"step": "length", "params": {"min_words": 3}},
                    {"step": "minhash_dedup"}]}


def _records(n=20):
    from workbench.data.records import make_record

    return [make_record([{"role": "user", "content": f"question {i} about item {i % 7}"},
                         {"role": "assistant", "content": "<think>\nfine\n</think>\n" + "word " * (i + 1)}],
                        source="ab"[i % 2], meta={"clf": i / n}) for i in range(n)]


def _write(tmp_path, **extra):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"answer {i}", "source": "ab"[i % 2]}) + "\n"
                            for i in range(12)))
    spec = {"name": "s", "eval": {"suites": ["arith_choice"]}, **extra}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False).replace("DATA", str(data)))
    return path


def test_per_step_expands_into_tagged_variants_once(tmp_path):
    path = _write(tmp_path, seeds=[0, 1], strategies=[{"per_step": {"source": "DATA", "recipe": RECIPE}}],
                  baseline="step.source")
    spec = load_spec(path)
    t = tags(spec)
    roles = {n: x.role for n, x in t.items()}
    # 3 alone + 3 left out (two-step recipes) + full + source; each removal has 2 controls (seeds 0, 1)
    assert sorted(r for r in roles.values() if r != "control") == sorted(
        ["source"] + ["alone"] * 3 + ["left_out"] * 3 + ["full"])
    assert sum(r == "control" for r in roles.values()) == 14
    left = spec.variant("step.without-length")
    assert [s["step"] for s in left.recipe["steps"]] == ["exact_dedup", "minhash_dedup"]
    assert left.tag.compare_to == "step.source" and left.tag.controls == ["step.without-length.c0",
                                                                           "step.without-length.c1"]
    ctrl = spec.variant("step.without-length.c1")
    rr = ctrl.recipe["steps"][-1]
    assert rr["step"] == "random_remove" and rr["params"]["seed"] == 1 and rr["params"]["like"]["steps"] == \
        left.recipe["steps"]
    assert spec.seeds_for(ctrl.name) == [1] and spec.seeds_for(left.name) == [0, 1]
    # the stored spec validates back to the same variants (no second expansion)
    again = AblationSpec.model_validate(spec.model_dump(mode="json"))
    assert [v.name for v in again.variants] == [v.name for v in spec.variants]
    assert len(describe_strategies(spec)) == len(spec.variants)


def test_per_step_prefix_runs_first_in_every_variant_and_control_unmeasured(tmp_path):
    prefix = {"steps": [{"step": "select", "params": {"keep_sources": ["a"]}}]}
    path = _write(tmp_path, seeds=[0, 1, 2], strategies=[{"per_step": {"source": "DATA", "prefix": prefix,
                                                                       "recipe": RECIPE}}])
    spec = load_spec(path)
    t = tags(spec)
    assert sum(x.role == "control" for x in t.values()) == 21  # 7 removals x 3 seeds
    for name in t:
        steps = spec.variant(name).recipe["steps"]
        assert steps[0]["step"] == "select" and steps[0]["params"]["keep_sources"] == ["a"], name
        assert [s["step"] for s in steps[1:]].count("select") == 0  # never measured as a step
    only = spec.variant("step.only-length")
    assert [s["step"] for s in only.recipe["steps"]] == ["select", "length"]
    ctrl = spec.variant("step.only-length.c2")
    rr = ctrl.recipe["steps"][-1]
    # the control removes as many rows from the selected data as `length` removes from it
    assert [s["step"] for s in ctrl.recipe["steps"]] == ["select", "random_remove"]
    assert [s["step"] for s in rr["params"]["like"]["steps"]] == ["length"]
    # a bad prefix is refused at its key path
    bad = _write(tmp_path, strategies=[{"per_step": {"source": "DATA", "prefix": {"steps": [{"step": "nope"}]},
                                                     "recipe": RECIPE}}])
    with pytest.raises(SpecError, match=r"strategies\[0\]\.per_step\.prefix"):
        load_spec(bad)


def test_max_variants_refuses_an_explosion(tmp_path):
    path = _write(tmp_path, max_variants=10, strategies=[{"per_step": {"source": "DATA", "recipe": RECIPE}}])
    with pytest.raises(SpecError, match=r"max_variants: the strategies generate 22 variants \(step: 22\).*over "
                                        r"max_variants 10"):
        load_spec(path)


@pytest.mark.parametrize("entry, match", [
    ({"per_step": {"source": "DATA", "recipe": {"steps": [{"step": "nope"}]}}}, r"strategies\[0\]\.per_step\.recipe: .*unknown step 'nope'"),
    ({"per_step": {"source": "missing.jsonl", "recipe": RECIPE}}, r"strategies\[0\]\.per_step\.source: file not found"),
    ({"sweep": {"source": "DATA", "step": "minhash_dedup", "param": "treshold", "values": [0.5]}}, r"strategies\[0\]\.sweep: .*treshold"),
    ({"sweep": {"source": "DATA", "score": "quality"}}, r"strategies\[0\]\.sweep.*score and remove_lowest"),
    ({"inject": {"source": "DATA", "defect": "typo", "rates": [0.1]}}, r"strategies\[0\]\.inject\.defect"),
    ({"inject": {"source": "DATA", "defect": "truncate", "rates": [1.5]}}, r"strategies\[0\]\.inject\.rates"),
    ({"per_step": {"source": "DATA", "recipe": RECIPE}, "sweep": {"source": "DATA", "score": "quality",
                                                                  "remove_lowest": [0.1]}}, r"exactly one of"),
])
def test_bad_strategies_name_their_key_path(tmp_path, entry, match):
    with pytest.raises(SpecError, match=match):
        load_spec(_write(tmp_path, strategies=[entry]))


def test_a_baseline_must_be_a_generated_or_written_variant(tmp_path):
    with pytest.raises(SpecError, match="baseline 'nope' is not a variant"):
        load_spec(_write(tmp_path, baseline="nope", strategies=[{"leave_one_out": {"source": "DATA", "sources": ["a", "b"]}}]))


def test_random_remove_matches_rows_and_tokens_and_is_content_addressed(tiny_model_dir):
    from workbench.curate.recipe import load_recipe, run_steps

    recs = _records()
    like = {"steps": [{"step": "score_cut", "params": {"score": "length", "remove_lowest": 0.3}}]}

    def run(**params):
        return run_steps(recs, load_recipe({"steps": [{"step": "random_remove", "params": params}]}))

    a, b, c = run(like=like, seed=0), run(like=like, seed=0), run(like=like, seed=1)
    ids = [{r["record_id"] for r in x.removals} for x in (a, b, c)]
    assert len(ids[0]) == 6 and ids[0] == ids[1] and ids[0] != ids[2]  # same params, same rows; a new seed redraws
    assert len({r["record_id"] for r in run(n=4, seed=0).removals}) == 4
    assert len(run(fraction=0.5, seed=0).removals) == 10
    tok = run(like=like, seed=0, match="tokens", tokenizer=str(tiny_model_dir))
    assert tok.summary[0]["report"]["target_tokens"] > 0
    with pytest.raises(Exception, match="exactly one of n, fraction or like"):
        load_recipe({"steps": [{"step": "random_remove", "params": {"n": 1, "fraction": 0.1}}]})


@pytest.mark.parametrize("defect", ["duplicate", "truncate", "unclosed_think", "swapped_response", "empty_response"])
def test_inject_plants_each_defect_at_its_rate(defect):
    from workbench.curate.recipe import load_recipe, run_steps
    from workbench.core.reasoning import think_state

    recs = _records()
    out = run_steps(recs, load_recipe({"steps": [{"step": "inject", "params": {"defect": defect, "rate": 0.2}}]}))
    kept = out.kept_records
    assert len(kept) == len(recs) and len(out.removals) == 4  # the size stays; 4 originals replaced
    assert {r["reason"] for r in out.removals} == {f"inject:{defect}"}
    changed = [r for r in kept if r.id not in {x.id for x in recs}]
    answers = [r.messages[-1]["content"] for r in changed]
    if defect == "duplicate":
        after = run_steps(kept, load_recipe({"steps": ["exact_dedup"]}))
        assert after.summary[0]["dropped"] == 4
    elif defect == "empty_response":
        assert answers == [""] * 4
    elif defect == "unclosed_think":
        assert all("</think>" not in a for a in answers) and {think_state(a) for a in answers} != {"closed"}
    elif defect == "truncate":
        assert all(len(a) < len(next(x for x in recs if x.id == r["record_id"]).messages[-1]["content"])
                   for a, r in zip(answers, out.removals))
    else:
        assert sorted(answers) != sorted(r.messages[-1]["content"] for r in recs if r.id in
                                         {x["record_id"] for x in out.removals}) or len(changed) == 4


def test_score_cut_and_meta_scores():
    from workbench.curate.recipe import load_recipe, run_steps
    from workbench.curate.steps import CurationError

    recs = _records()
    out = run_steps(recs, load_recipe({"steps": [{"step": "score_cut", "params": {"score": "meta:clf",
                                                                                   "remove_lowest": 0.25}}]}))
    assert {r["record_id"] for r in out.removals} == {r.id for r in recs[:5]}
    bad = [recs[0].replace(meta={})] + recs[1:]
    with pytest.raises(CurationError, match="meta key 'clf' is not a number"):
        run_steps(bad, load_recipe({"steps": [{"step": "score_cut", "params": {"score": "meta:clf",
                                                                               "remove_lowest": 0.25}}]}))


# ---------------------------------------------------------------------------------------
# Calibration of the strategy verdict: Holm within the strategy, helps/hurts on the control
# ---------------------------------------------------------------------------------------

def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "strategies.py"
    spec = importlib.util.spec_from_file_location("bench_strategies", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("regime", ["continuous", "binary"])
def test_random_subset_removal_is_called_helps_at_most_5_percent(regime):
    bench = _bench()
    spec = bench.REGIMES[regime]
    codes = bench.verdict_codes(bench.family(spec, np.random.default_rng(7), [0.0] * bench.STEPS, 600), spec.binary)
    assert codes.size >= 2000
    assert float(np.mean(codes == 1)) <= 0.05 and float(np.mean(codes != 0)) <= 0.05


def test_planted_benefit_power_matches_the_family_mde():
    bench = _bench()
    spec = bench.REGIMES["continuous"]
    mdd = bench.family_mdd(bench.family(spec, np.random.default_rng(8), [0.0] * bench.STEPS, 300))
    # one step with a benefit of one MDE (at alpha / family size), the others random: lower is better
    planted = bench.family(spec, np.random.default_rng(9), [-mdd] + [0.0] * (bench.STEPS - 1), 1000)
    power = float(np.mean(bench.verdict_codes(planted, False)[:, 0] == 1))
    assert abs(power - 0.8) <= 0.1, (power, mdd)


@pytest.mark.parametrize("paired", [True, False], ids=["controls-on-the-removal's-seeds", "controls-on-other-seeds"])
def test_strategy_rows_use_the_same_statistics_as_the_batch_path(paired):
    from workbench.report.strategies import strategy_rows

    spec = SimSpec(sd_draw=0.02)
    rng = np.random.default_rng(12)
    s = simulate(spec, {"src": 0.0, "rm": -0.05, "rm.c0": 0.0, "rm.c1": 0.0}, 1, rng, redraw=("rm.c0", "rm.c1"),
                 seeds={"rm.c0": 1, "rm.c1": 1, "src": 2, "rm": 2})
    # control k trained with seed k (the removal's seeds 0 and 1: paired), or with seeds 5 and 6
    seed_of = {"rm.c0": 0 if paired else 5, "rm.c1": 1 if paired else 6}
    per_seed = {v: {"suite": {str(seed_of.get(v, k)): {f"i{i}": {"bpb": float(x[0, k, i])} for i in range(x.shape[2])}
                              for k in range(x.shape[1])}} for v, x in s.items()}
    base = {"strategy": "per_step", "group": "g"}
    spec_dict = {"variants": [
        {"name": "src", "sources": ["x"], "tag": {**base, "role": "source"}},
        {"name": "rm", "sources": ["x"], "tag": {**base, "role": "alone", "step": "k", "compare_to": "src",
                                                 "controls": ["rm.c0", "rm.c1"]}},
        *({"name": f"rm.c{k}", "sources": ["x"], "seeds": [seed_of[f"rm.c{k}"]],
           "tag": {**base, "role": "control", "control_of": "rm", "seed": seed_of[f"rm.c{k}"]}} for k in (0, 1))]}
    variants = [{"name": v, "version": v, "n_rows": 10 if v == "src" else 8} for v in s]
    rows = strategy_rows(spec_dict, variants, per_seed, {"suite": ["bpb"]}, {("suite", "bpb"): False})
    assert len(rows) == 1 and rows[0].rows_removed == 2
    ctrl = np.concatenate([s["rm.c0"], s["rm.c1"]], axis=1)
    # paired: the training noise is the spread of removal_s - control_s (the seed's own effect cancels)
    want = batch_diff(ctrl, s["rm"], [s["rm"] - ctrl] if paired else [ctrl], seed_weight=1 / 2 + 1)
    assert rows[0].vs_control.delta == pytest.approx(float(want["delta"][0]))
    assert rows[0].vs_control.p == pytest.approx(float(want["p"][0]))
    assert rows[0].reading and rows[0].verdict in ("helps", "hurts", "inconclusive")


# ---------------------------------------------------------------------------------------
# suggest-thresholds: a known slope
# ---------------------------------------------------------------------------------------


def test_dose_fit_recovers_a_known_threshold_within_10_percent():
    from workbench.ablate.thresholds import fit_dose, threshold_rate

    rng = np.random.default_rng(3)
    slope, tolerance = -0.8, 0.1  # the metric falls 0.8 per unit of defect rate: 0.1 is lost at rate 0.125
    rates = [0.05, 0.1, 0.2, 0.3]
    for _ in range(50):
        fit = fit_dose(rates, [slope * r + rng.normal(0, 0.01) for r in rates], [0.01] * len(rates))
        rate, lo, hi = threshold_rate(fit, tolerance)
        assert lo <= rate <= hi and lo < 0.125 < hi
    assert _bench().threshold_recovery(200, rng) >= 0.95  # within 10% of the true rate
    flat = fit_dose(rates, [0.0, 0.001, -0.001, 0.0], [0.01] * 4)
    assert math.isinf(threshold_rate(flat, tolerance)[2])  # no harm within the interval: unbounded


def test_a_defect_against_its_source_on_three_common_seeds_is_the_engines_paired_decision():
    from workbench.evals.decide import paired_seed_diff
    from workbench.report.strategies import strategy_rows

    rng = np.random.default_rng(13)
    s = simulate(SimSpec(seeds=3, sd_common=0.03), {"src": 0.0, "bad": 0.03}, 1, rng)
    per_seed = {v: {"suite": {str(k): {f"i{i}": {"bpb": float(x[0, k, i])} for i in range(x.shape[2])}
                              for k in range(3)}} for v, x in s.items()}
    base = {"strategy": "inject", "group": "d"}
    spec_dict = {"variants": [{"name": "src", "sources": ["x"], "tag": {**base, "role": "source"}},
                              {"name": "bad", "sources": ["x"], "tag": {**base, "role": "defect", "compare_to": "src",
                                                                       "param": "unclosed_think", "value": 0.3}}]}
    variants = [{"name": v, "version": v, "n_rows": 10} for v in s]
    (row,) = strategy_rows(spec_dict, variants, per_seed, {"suite": ["bpb"]}, {("suite", "bpb"): False})
    src = {k: {i: v["bpb"] for i, v in items.items()} for k, items in per_seed["src"]["suite"].items()}
    bad = {k: {i: v["bpb"] for i, v in items.items()} for k, items in per_seed["bad"]["suite"].items()}
    want = paired_seed_diff(src, bad, ["0", "1", "2"], higher_is_better=False)
    assert row.vs_source.delta == pytest.approx(want.delta) and row.vs_source.p == pytest.approx(want.p)
    assert row.vs_source.lo == pytest.approx(want.lo) and row.vs_source.hi == pytest.approx(want.hi)


def test_draw_check_adds_one_more_draw_per_removal_at_the_first_seed(tmp_path):
    path = _write(tmp_path, seeds=[0, 1], strategies=[{"per_step": {"source": "DATA", "recipe": RECIPE,
                                                                     "draw_check": True}}])
    spec = load_spec(path)
    t = tags(spec)
    checks = {n: x for n, x in t.items() if x.role == "draw_check"}
    removals = {n for n, x in t.items() if x.controls and x.role != "draw_check"}
    assert {x.control_of for x in checks.values()} == removals and len(checks) == len(removals)
    check = checks["step.full.aa0"]
    assert check.controls == ["step.full.c0"] and check.seed == 0 and check.value == 2  # a draw no control uses
    assert spec.seeds_for("step.full.aa0") == [0]
    rr = spec.variant("step.full.aa0").recipe["steps"][-1]
    assert rr["step"] == "random_remove" and rr["params"]["seed"] == 2
    assert rr["params"]["like"] == spec.variant("step.full.c0").recipe["steps"][-1]["params"]["like"]
    assert "step.full.aa0" not in t["step.full"].controls  # not one of the removal's own controls
    assert any("the draw A/A" in line for line in describe_strategies(spec))


def test_the_draw_check_row_is_the_engines_control_rule_in_a_family_of_its_own():
    """The draw A/A row: another random draw against the control of the same seed (item-paired, the
    strategy's paired control pool), called clean when the engine says noise; the removal's own
    control comparison is the same with or without it."""
    from workbench.report.strategies import strategy_rows

    rng = np.random.default_rng(21)
    s = simulate(SimSpec(seeds=3, sd_common=0.03, sd_draw=0.01), {"src": 0.0, "rm": -0.05, "c0": 0.0, "c1": 0.0,
                                                                    "c2": 0.0, "aa0": 0.0}, 1, rng)
    seed_of = {"c0": 0, "c1": 1, "c2": 2, "aa0": 0}
    per_seed = {v: {"suite": {str(k): {f"i{i}": {"bpb": float(x[0, k, i])} for i in range(x.shape[2])}
                              for k in range(3) if v not in seed_of or k == seed_of[v]}} for v, x in s.items()}
    base = {"strategy": "per_step", "group": "g"}
    variants_spec = [
        {"name": "src", "sources": ["x"], "tag": {**base, "role": "source"}},
        {"name": "rm", "sources": ["x"], "tag": {**base, "role": "alone", "step": "k", "compare_to": "src",
                                                 "controls": ["c0", "c1", "c2"]}},
        *({"name": f"c{k}", "sources": ["x"], "seeds": [k],
           "tag": {**base, "role": "control", "control_of": "rm", "seed": k}} for k in range(3))]
    check = {"name": "aa0", "sources": ["x"], "seeds": [0],
             "tag": {**base, "role": "draw_check", "control_of": "rm", "seed": 0, "controls": ["c0"],
                     "compare_to": "src", "param": "draw seed", "value": 3}}
    variants = [{"name": v, "version": v, "n_rows": 10 if v == "src" else 8} for v in s]
    head = ({"suite": ["bpb"]}, {("suite", "bpb"): False})
    without = strategy_rows({"variants": variants_spec}, variants, per_seed, *head)
    rows = strategy_rows({"variants": [*variants_spec, check]}, variants, per_seed, *head)
    (rm,) = [r for r in rows if r.variant == "rm"]
    (aa,) = [r for r in rows if r.variant == "aa0"]
    assert rm == without[0]  # the check joins neither the control pool nor the removals' family
    c0 = {i: v["bpb"] for i, v in per_seed["c0"]["suite"]["0"].items()}
    a0 = {i: v["bpb"] for i, v in per_seed["aa0"]["suite"]["0"].items()}
    assert aa.vs_control.delta == pytest.approx(np.mean([a0[i] - c0[i] for i in c0]))
    assert aa.vs_source is None and aa.rows_removed == 2
    assert aa.verdict == ("clean" if aa.vs_control.word == "noise" else "not clean")
    assert aa.reading.startswith("draw A/A: two random draws of 2 rows")
