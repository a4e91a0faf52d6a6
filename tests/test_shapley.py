"""Shapley credit of recipe steps (issue 25): the exact weights on games with a known answer, the
strategy's expansion (2^n subsets, shared with per_step, refused beyond 5 steps), the report's
intervals on synthetic per-item scores (coverage of a planted truth), and a tiny real run."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest
import yaml

from workbench.ablate.credit import (additivity_weights, contrast_scores, interactions, masks, members,
                                     shapley_values, shapley_weights)
from workbench.ablate.spec import SpecError, load_spec


def test_additive_game_gives_the_singles_and_values_are_efficient():
    rng = np.random.default_rng(0)
    for n in range(1, 6):
        single = rng.normal(size=n)
        v0 = 0.7
        v = [v0 + sum(single[j] for j in members(m, n)) for m in masks(n)]
        assert np.allclose(shapley_values(v), single)
        assert all(abs(x) < 1e-12 for x in interactions(v).values())
        assert abs(additivity_weights(n) @ np.array(v)) < 1e-12
        g = rng.normal(size=1 << n)  # any game: efficiency and symmetry
        phi = shapley_values(g)
        assert abs(phi.sum() - (g[-1] - g[0])) < 1e-12
        assert np.allclose(shapley_weights(n).sum(axis=1), 0)  # each value is a contrast


def test_known_interaction_game():
    # v(S) = 1 when steps 0 and 1 are both in S (n = 3): they share the credit, step 2 gets none
    v = [1.0 if (m & 3) == 3 else 0.0 for m in masks(3)]
    assert np.allclose(shapley_values(v), [0.5, 0.5, 0.0])
    inter = interactions(v)
    assert inter[(0, 1)] == pytest.approx(1.0) and inter[(0, 2)] == pytest.approx(0.0)
    # two steps that remove the same rows: each alone gains 1, together still 1 (overlap)
    v = [0.0, 1.0, 1.0, 1.0]
    assert np.allclose(shapley_values(v), [0.5, 0.5])
    assert interactions(v)[(0, 1)] == pytest.approx(-1.0)
    assert additivity_weights(2) @ np.array(v) == pytest.approx(-1.0)


def test_contrast_scores_use_common_seeds_and_items():
    per = [{"0": {"a": 1.0, "b": 2.0}, "1": {"a": 1.0, "b": 2.0}}, {"0": {"a": 2.0, "b": 4.0, "c": 9.0}}]
    d = contrast_scores(per, [-1.0, 1.0])
    assert d == {"0": {"a": 1.0, "b": 2.0}}
    assert contrast_scores(per + [{}], [-1.0, 1.0, 0.0]) == d  # a weight-0 subset needs no scores


def _data(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"instruction": f"Question {i} " + "why " * (i % 5), "output": "Because " + "so " * (i % 4)}
            for i in range(16)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:3]))
    return path


def _spec(tmp_path, steps, **extra):
    spec = {"name": "sh", "seeds": [0, 1, 2], "eval": {"suites": ["arith_choice"]},
            "strategies": [{"shapley": {"source": str(_data(tmp_path)), "recipe": {"steps": steps}}}], **extra}
    path = tmp_path / "sh.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


STEPS = [{"step": "exact_dedup"}, {"step": "length", "params": {"min_words": 3}}, {"step": "minhash_dedup"}]


def test_shapley_expands_to_every_subset_and_shares_per_step_variants(tmp_path):
    path = _spec(tmp_path, STEPS)
    raw = yaml.safe_load(path.read_text())
    raw["strategies"].append({"per_step": {"source": raw["strategies"][0]["shapley"]["source"], "controls": False,
                                           "recipe": {"steps": STEPS}}})
    path.write_text(yaml.safe_dump(raw))
    spec = load_spec(path)
    from workbench.report.credit import games

    players, by_mask = games(spec.model_dump(mode="json"))["shapley"]
    assert players == ["exact_dedup", "length", "minhash_dedup"] and sorted(by_mask) == list(range(8))
    v = spec.variant(by_mask[0b101])
    assert [s["step"] for s in v.recipe["steps"]] == ["exact_dedup", "minhash_dedup"]  # recipe order
    assert spec.variant(by_mask[0]).recipe is None
    # per_step's source, steps alone, steps left out and whole recipe are all subsets: generated once
    assert len(spec.variants) == 8 and "step.source" in spec.variant(by_mask[0]).tag.also
    assert "step.left_out:length" in spec.variant(by_mask[0b101]).tag.also


def test_more_than_five_steps_or_too_many_variants_are_refused(tmp_path):
    six = STEPS + [{"step": "length", "params": {"min_chars": k}} for k in (2, 3, 4)]
    with pytest.raises(SpecError, match=r"strategies\[0\]\.shapley\.recipe: 6 step\(s\).*2 to 5 steps"):
        load_spec(_spec(tmp_path, six))
    with pytest.raises(SpecError, match=r"max_variants: the strategies generate 8 variants \(shapley: 8\)"):
        load_spec(_spec(tmp_path, STEPS, max_variants=5))


def _synthetic(spec, truth_phi, rng, seeds=3, n_items=60, inter=0.0):
    """per_seed scores for the subsets: item effects + additive step effects (+ a pair interaction) +
    a seed offset per (subset, seed) + item noise."""
    from workbench.report.credit import games

    players, by_mask = games(spec.model_dump(mode="json"))["shapley"]
    item = rng.normal(0, 1.0, n_items)
    out = {}
    for m, name in by_mask.items():
        mean = sum(truth_phi[j] for j in members(m, len(players))) + (inter if m & 3 == 3 else 0.0)
        cells = {}
        for s in range(seeds):
            offset = rng.normal(0, 0.05)  # this subset's training noise at this seed
            cells[str(s)] = {f"i{i}": {"acc": float(mean + item[i] + offset + rng.normal(0, 0.3))}
                             for i in range(n_items)}
        out[name] = {"arith_choice": cells}
    return out


def test_report_rows_cover_a_planted_truth(tmp_path):
    from workbench.report.credit import credit_rows

    spec = load_spec(_spec(tmp_path, STEPS[:2]))
    truth = [0.10, -0.05]
    rng = np.random.default_rng(1)
    covered = total = 0
    for _ in range(40):
        rows = credit_rows(spec.model_dump(mode="json"), _synthetic(spec, truth, rng, inter=0.0),
                           {"arith_choice": ["acc"]}, {("arith_choice", "acc"): True})
        vals = {r.step: r for r in rows if r.term == "value"}
        for j, step in enumerate(["exact_dedup", "length"]):
            covered += vals[step].lo <= truth[j] <= vals[step].hi
            total += 1
        inter = next(r for r in rows if r.term == "interaction")
        covered += inter.lo <= 0.0 <= inter.hi
        total += 1
    assert 0.85 <= covered / total <= 1.0, covered / total
    # the values add up to all vs none, and the reading names the step
    r = rows[0]
    assert r.kind == "shapley" and r.n_seeds == 3 and r.reading.startswith("exact_dedup")
    assert sum(x.value for x in rows if x.term == "value") == pytest.approx(
        next(x for x in rows if x.term == "additivity").whole, abs=1e-9)


@pytest.fixture(scope="module")
def killed(tmp_path_factory, tiny_model_dir):
    """The ablation 'credit' (a two-step shapley of 4 subsets beside a mixture search) as `workbench
    ablate`, killed with -9 after its first training and resumed (strategies_helpers.credit_ablation,
    which asserts the resume redid nothing finished): (workspace, its folder, the data file)."""
    from tests.strategies_helpers import credit_ablation

    made = credit_ablation(tmp_path_factory, tiny_model_dir)
    return made["ws"], made["folder"], made["data"]


@pytest.mark.xdist_group("credit")
def test_tiny_two_step_recipe_end_to_end(killed, tiny_model_dir):
    """4 subsets x 1 seed on the tiny model (1 training step, 2 likelihood items): the report has a
    Shapley value with an interval (or the reason it has none) for both steps, and a JSON-able row each.
    The same strategy under another ablation name in the killed-and-resumed workspace: every task is
    the same content, so it is found done, none run twice."""
    from tests.strategies_helpers import TWO_STEPS, tiny_spec
    from workbench.ablate import LocalExecutor, run_ablation
    from workbench.report import render_markdown, report_data

    ws, folder, data = killed
    spec = tiny_spec("shap", tiny_model_dir, strategies=[{"shapley": {"source": data, "recipe": TWO_STEPS}}])
    path = folder / "shap.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = run_ablation(ws, path, executor=LocalExecutor(isolate=False))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    assert result.n_new == 0 and {o.status for o in result.outcomes} <= {"cached", "reused"}
    rep = report_data(ws, "shap")
    values = [r for r in rep.credit if r.term == "value"]
    assert {r.step for r in values} == {"exact_dedup", "score_cut"}
    for r in values:
        assert np.isfinite(r.value) and r.n == 2 and r.n_seeds == 1
        assert (np.isfinite(r.lo) and r.lo <= r.value <= r.hi) or r.note  # no spread: the note says why
        assert r.to_dict()["kind"] == "shapley"
    for gap in (r for r in rep.credit if r.term == "additivity"):  # per headline metric: efficiency
        mine = [r for r in values if (r.suite, r.metric) == (gap.suite, gap.metric)]
        assert len(mine) == 2 and sum(r.value for r in mine) == pytest.approx(gap.whole, abs=1e-9)
    md = render_markdown(rep)
    assert "## Shapley credit: shapley" in md and "exact_dedup" in md and "score_cut" in md


@pytest.mark.xdist_group("credit")
def test_shapley_killed_mid_run_resumes_without_redoing_finished_tasks(killed):
    """A two-step shapley (4 subsets) on the tiny model, kill -9 after the first training: the resume runs
    only what was left (the fixture asserts it), and `report --json` carries a `kind: shapley` row per
    step, pair and gap."""
    from tests.conftest import run_cli_here

    ws = killed[0]
    out = run_cli_here("report", "credit", "--json", env={"WORKBENCH_HOME": str(ws.home)})
    rows = [r for r in json.loads(out.stdout) if r.get("kind") == "shapley"]
    assert {r["term"] for r in rows} == {"value", "interaction", "additivity"}
    assert {r["step"] for r in rows if r["term"] == "value"} == {"exact_dedup", "score_cut"}
    assert all(r["value"] is not None and r["reading"] for r in rows)
