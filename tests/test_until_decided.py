"""Seeds until decided (issue 28 §4): the alpha-spending rule, its false-positive rate over
sequential looks on simulated null ablations, and real tiny ablations that add seeds and stop
for the budget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.ablate.sequential import (SPENDING, SequentialPlan, first_decided, load_record, look_levels,
                                         more_seeds, parse_budget, spent)
from workbench.evals.simulate import SimSpec, batch_diff, batch_paired, simulate
from workbench.evals.verdict import adjust_pvalues

ALPHA = 0.05
REPS = 2000


@pytest.mark.parametrize("spending", sorted(SPENDING))
@pytest.mark.parametrize("looks", [1, 2, 4, 7])
def test_levels_spend_at_most_alpha(spending, looks):
    levels = look_levels(looks, ALPHA, spending)
    assert levels.shape == (looks,) and np.all(levels >= 0)
    assert levels.sum() <= ALPHA + 1e-12 and levels.sum() == pytest.approx(ALPHA, rel=1e-9)
    cum = spent(np.arange(looks + 1) / looks, ALPHA, spending)
    assert cum[0] == 0 and np.all(np.diff(cum) >= 0)  # a spending function never gives alpha back
    if looks > 1 and spending == "obf":
        assert levels[0] < levels[-1] / 5  # O'Brien-Fleming-type keeps alpha for the later looks
    if spending == "bonferroni":
        assert np.allclose(levels, ALPHA / looks)


def test_first_decided_and_budget_parsing():
    levels = np.array([0.01, 0.02, 0.02])
    p = np.array([[0.5, 0.015, 0.001], [0.005, 0.9, 0.9], [0.3, 0.3, 0.3], [np.nan, 0.019, 0.0]])
    assert first_decided(p, levels).tolist() == [1, 0, -1, 1]
    assert parse_budget("90m") == 5400 and parse_budget("1h30m") == 5400 and parse_budget("45s") == 45
    assert parse_budget("600") == 600
    from workbench.ablate.spec import SpecError

    with pytest.raises(SpecError, match="duration"):
        parse_budget("soon")
    with pytest.raises(ValueError, match="spending"):
        SequentialPlan(60, spending="nope")


def _sequential_rate(p_looks: np.ndarray, levels) -> float:
    return float(np.mean(first_decided(p_looks, levels) >= 0))


@pytest.fixture(scope="module")
def null_paired_p() -> np.ndarray:
    """p-values (2 comparisons, reps, 4 looks) of a simulated null ablation with paired seeds."""
    looks = 4
    rng = np.random.default_rng(28)
    spec = SimSpec(n_items=30, seeds=2 + looks, sd_ixm=0.03, sd_seed=0.004, sd_common=0.02)
    sim = simulate(spec, {"base": 0.0, "v1": 0.0, "v2": 0.0}, REPS, rng, seed_sd={"v1": 0.04, "v2": 0.004})
    p = np.empty((2, REPS, looks))
    for j in range(looks):
        k = 3 + j
        for i, v in enumerate(("v1", "v2")):
            p[i, :, j] = batch_paired(sim["base"][:, :k], sim[v][:, :k], interval=False)["p"]
    return p


@pytest.mark.parametrize("spending", sorted(SPENDING))
def test_sequential_false_positive_rate_paired_seeds(spending, null_paired_p):
    """Null: two variants and a trained baseline differ by nothing; seeds are common (a shared offset
    per seed) and one variant's seed noise is 10x the other's. Look j has 2 + j common seeds, tested
    as `decide.paired_seed_diff` does (the product's vectorized code); the two comparisons form the
    Holm family. Over 2,000 replicates the sequential procedure calls <= 5%, while testing every
    look at 0.05 does not hold it."""
    p, looks = null_paired_p, null_paired_p.shape[-1]
    # Holm over the two: the smaller p times 2 is the smallest adjusted p, so a call in the family at a
    # look is 2 min(p) below its level (checked against `adjust_pvalues` on the first replicates)
    smallest = np.minimum(1.0, 2 * p.min(axis=0))  # (reps, looks)
    for r in range(20):
        assert smallest[r, 0] == pytest.approx(min(x for x in adjust_pvalues(p[:, r, 0]) if x is not None))
    rate = _sequential_rate(smallest, look_levels(looks, ALPHA, spending))
    naive = _sequential_rate(smallest, np.full(looks, ALPHA))
    print(f"{spending}: sequential {rate:.4f}, every look at {ALPHA}: {naive:.4f}")
    assert rate <= ALPHA, (spending, rate)
    assert naive > rate  # peeking at full alpha every look spends more than alpha


def test_sequential_false_positive_rate_untrained_baseline_and_power():
    """The untrained base as baseline (one side without training noise; seed variance pooled), one
    seed added per look from 2 to 5: the null is called <= 5%; a planted effect of 3 standard
    errors of the last look is decided in most replicates, so the rule is not vacuous."""
    looks = 4
    rng = np.random.default_rng(7)
    spec = SimSpec(n_items=40, seeds=1 + looks, sd_ixm=0.05, sd_seed=0.02)
    sim = simulate(spec, {"base": 0.0, "null": 0.0, "planted": -0.06}, REPS, rng, untrained=("base",),
                   seeds={"base": 1})
    levels = look_levels(looks, ALPHA, "pocock")
    p = {v: np.stack([batch_diff(sim["base"], sim[v][:, :2 + j], [sim[v][:, :2 + j]], a_trained=False)["p"]
                      for j in range(looks)], axis=-1) for v in ("null", "planted")}
    assert _sequential_rate(p["null"], levels) <= ALPHA
    assert _sequential_rate(p["planted"], levels) >= 0.8


def test_more_seeds_pairs_variants_and_keeps_the_control_in_step(tmp_path, tiny_model_dir):
    from tests.ablate_helpers import tiny_spec
    from workbench.ablate import load_spec

    from workbench.ablate.spec import AblationSpec

    spec = load_spec(tiny_spec(tmp_path, tiny_model_dir, name="grow"))
    spec = AblationSpec.model_validate({**spec.model_dump(), "baseline": "all",
                                        "control": {"variant": "all", "seeds": [0, 1]}})
    grown = more_seeds(spec, {"math"}, 1)
    # math (undecided) takes seed 1, the seed its baseline already has: the pair shares seeds 0 and 1
    assert grown.seeds_for("math") == [0, 1]
    assert grown.seeds_for("all") == [0, 1, 2] and grown.control.seeds == [0, 1, 2]  # baseline and control step on
    again = more_seeds(grown, {"math"}, 2)
    assert again.seeds_for("math") == [0, 1, 2, 3] and again.seeds_for("all") == [0, 1, 2, 3, 4]
    assert more_seeds(grown, set(), 1) == grown  # nothing undecided: nothing grows


def test_until_decided_adds_seeds_then_stops_for_the_budget(tmp_path, tiny_model_dir):
    """A real tiny ablation (1 variant, 1 training step, 2 items). First 2 looks with budget to spare:
    look 2 trains seed 1 only (seed 0's tasks are cached, not rerun). Then the same tasks under
    another name with a 1-second budget: the rounds already paid for run from the cache, the next
    (seed 2) cannot finish in the budget, is not started, and the record and report say so."""
    from tests.ablate_helpers import mini_spec
    from workbench.ablate.sequential import until_decided
    from workbench.report import write_report
    from workbench.report.verdicts import headline_decisions
    from workbench.core.workspace import Workspace

    ws = Workspace(tmp_path / "home")
    lines: list[str] = []
    first = until_decided(ws, mini_spec(tmp_path, tiny_model_dir, "seq"), SequentialPlan(3600, max_looks=2),
                          headline_decisions, log=lines.append)
    tasks = ws.catalog().ablation_tasks("seq")
    trains = sorted((t["seed"], t["attempts"]) for t in tasks if t["kind"] == "train")
    assert [x.look for x in first.looks] == [1, 2] and first.looks[1].seeds == {"math": [0, 1]}
    assert trains == [(0, 1), (1, 1)]  # seed 0 trained once, in look 1
    assert first.comparisons and all(c.variant == "math" and c.baseline == "base" for c in first.comparisons)
    if first.stopped == "max looks":
        assert all(c.state == "undecided" and c.stopped == "max looks" for c in first.comparisons)
    else:
        assert first.stopped == "decided" and all(c.look for c in first.comparisons)
    assert any("alpha spending (Pocock-type)" in ln for ln in lines)

    lines.clear()
    second = until_decided(ws, mini_spec(tmp_path, tiny_model_dir, "seq-b"), SequentialPlan(1, max_looks=3),
                           headline_decisions, log=lines.append)
    new = [t for t in ws.catalog().ablation_tasks("seq-b") if t["attempts"]]
    assert not new  # every task of looks 1 and 2 came from "seq"
    if second.stopped == "decided":
        pytest.skip("every comparison was decided before the budget mattered")
    assert second.stopped == "budget" and len(second.looks) == 2 and second.next_round_s > 1
    assert all(c.stopped == "budget" for c in second.comparisons if c.state == "undecided")
    assert "budget is spent" in lines[-1] and "the next round needs" in lines[-1]
    saved = load_record(ws, "seq-b")
    assert saved.to_dict() == json.loads(json.dumps(second.to_dict()))
    _, md = write_report(ws, "seq-b", tmp_path / "out")
    text = md.read_text()
    assert "## Seeds until decided" in text and "stopped for the budget" in text and "Pocock-type" in text
