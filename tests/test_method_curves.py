"""One ablation with an SFT baseline, a DPO variant and a GRPO variant (each starting from the SFT
variant's run), on the tiny model: the DPO and GRPO variants get paired, seed-aware
CIs and verdicts against the SFT baseline like any variant, and their method-specific training
curves (DPO margins and accuracies, GRPO rewards per function and KL) are in the report and on
the view's Training page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tests.ablate_helpers import write_data

REPO = Path(__file__).resolve().parents[1]
SEEDS = [0]  # one seed keeps it a default test (two trebled its time); the intervals then say so


@pytest.fixture(scope="module")
def ablation(tmp_path_factory, tiny_model_dir):
    from workbench.ablate import run_ablation
    from workbench.core.workspace import Workspace

    tmp = tmp_path_factory.mktemp("methods")
    ws = Workspace(tmp / "home")
    prompts = tmp / "prompts.jsonl"  # every row scored by both rewards, so each step logs both means
    prompts.write_text("".join(json.dumps({"prompt": f"What is {i} plus {i}?", "answer": str(2 * i),
                                           "system": "/think" if i % 2 else "/no_think"}) + "\n" for i in range(8)))
    spec = {"name": "methods", "base": str(tiny_model_dir), "seeds": SEEDS, "baseline": "sft",
            # dropout 0.05: the tiny random model earns the same reward on every completion (zero advantage),
            # so GRPO's only gradient is the KL term's, which is zero at the reference unless dropout makes
            # the policy's pass differ from it; without it the adapter would not move and no item would differ
            "train": {"max_steps": 2, "batch_size": 2, "max_length": 128, "save_steps": 2, "sanity_prompts": 0,
                      "dropout": 0.05,
                      "grpo": {"rewards": ["gsm_answer", "think_format"], "num_generations": 2,
                               "max_completion_length": 8, "beta": 0.05}},
            "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 4},  # likelihood only: no generation
            "variants": [{"name": "sft", "sources": [str(write_data(tmp / "data")["math"])]},
                         {"name": "sft-dpo", "sources": [str(REPO / "datasets" / "example_preferences.jsonl")],
                          "recipe": {"steps": [{"step": "pair_equal"}]}, "method": "dpo", "from": "sft"},
                         {"name": "sft-grpo", "sources": [str(prompts)],
                          "method": "grpo", "from": "sft"}]}
    path = tmp / "methods.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = run_ablation(ws, path)
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    return ws, result


@pytest.fixture(scope="module")
def data(ablation):
    from workbench.report import report_data

    return report_data(ablation[0], "methods")


def test_dpo_and_grpo_variants_chain_from_sft_per_seed(ablation):
    _, result = ablation
    trains = {(o.task.variant, o.task.seed): o for o in result.outcomes if o.task.kind == "train"}
    assert set(trains) == {(v, s) for v in ("sft", "sft-dpo", "sft-grpo") for s in SEEDS}
    for seed in SEEDS:
        sft_run = trains[("sft", seed)].output.run_id
        for variant, method in (("sft-dpo", "dpo"), ("sft-grpo", "grpo")):
            task = trains[(variant, seed)].task
            assert task.inputs.config.method == method and task.inputs.init_run == sft_run


def test_dpo_and_grpo_get_paired_cis_and_verdicts_against_the_sft_baseline(data):
    from workbench.report import sentences, verdicts

    assert {(r["variant"], r["method"]) for r in data.runs} == {("sft", "sft"), ("sft-dpo", "dpo"), ("sft-grpo", "grpo")}
    for variant in ("sft-dpo", "sft-grpo"):
        rows = data.against_baseline(variant)
        assert rows, f"{variant} has no verdict rows against sft"
        for c in rows:  # the same seed-aware paired interval, Holm-adjusted p and verdict as an SFT variant's
            assert (c.a, c.b, c.kind) == ("sft", variant, "variant") and c.n == 4
            assert c.n_seeds_a == c.n_seeds_b == len(SEEDS)
            assert c.verdict in {"better", "worse", "noise"}
            if c.note.startswith("no item differs"):  # e.g. the same choice picked on all 4 items: no interval
                assert c.verdict == "noise" and math.isnan(c.lo) and c.delta == 0
            else:
                assert math.isfinite(c.lo) and c.lo <= c.delta <= c.hi and math.isfinite(c.hi) and c.p_adjusted is not None
        assert any(math.isfinite(c.lo) for c in rows)  # bits per byte of the right answer always differs
        said = next(s for s in sentences(data) if s.startswith(f"{variant} vs sft: "))
        assert any(f"{c.verdict} on" in said for c in rows) and "1 seed(s) vs 1" in said, said
    assert {row[0] for row in verdicts.decision_rows(data)} == {"base", "sft-dpo", "sft-grpo"}  # base: vs sft too
    # and against the untrained base, as every variant is
    assert {c.b for c in data.deltas if c.headline} >= {"sft-dpo", "sft-grpo"}


def test_method_curves_are_the_logged_metrics_per_run_and_seed(data):
    from workbench.report import method_curves, methods_present
    from workbench.report.training import PANELS

    assert methods_present(data) == ["dpo", "grpo"]  # SFT runs have no method panels
    dpo = method_curves(data, "dpo")
    for seed in SEEDS:
        run = next(r for r in data.runs if r["variant"] == "sft-dpo" and r["seed"] == seed)
        mine = [r for r in dpo if r["run"] == f"sft-dpo seed {seed}"]
        for panel, key in zip(PANELS["dpo"][1:], ("rewards/margins", "rewards/accuracies")):
            assert [(r["step"], r["value"]) for r in mine if r["panel"] == panel.title] == [
                (p["step"], p[key]) for p in run["metrics"]]
        assert [r["value"] for r in mine if r["panel"] == "DPO loss"] == [p["loss"] for p in run["loss"]]
        assert len(run["metrics"]) == 2 and all(0 <= p["rewards/accuracies"] <= 1 for p in run["metrics"])
    grpo = method_curves(data, "grpo")
    per_function = {r["series"] for r in grpo if r["panel"] == "mean reward per function"}
    assert per_function == {f"sft-grpo seed {s} · {f}" for s in SEEDS for f in ("gsm_answer", "think_format")}
    assert {r["run"] for r in grpo if r["panel"] == "KL to the reference"} == {f"sft-grpo seed {s}" for s in SEEDS}
    assert all(0 <= r["value"] <= 1 for r in grpo if r["panel"].startswith("mean reward"))  # 0/1 scorers
    assert not method_curves(data, "sft")


def test_the_report_draws_one_figure_per_method(data):
    from workbench.report import method_figures, render_html

    figures = dict(method_figures(data))
    assert list(figures) == ["DPO training curves", "GRPO training curves"]
    for title, fig in figures.items():
        series = [ax.get_legend_handles_labels()[1] for ax in fig.axes]
        n = len(SEEDS)
        assert [len(s) for s in series] == ([n, n, n] if title.startswith("DPO") else [n, 2 * n, n]), series
    page = render_html(data)
    assert "alt='DPO training curves'" in page and "alt='GRPO training curves'" in page


def test_a_panel_nothing_logged_says_why(data):
    import dataclasses

    from workbench.report import method_figure

    no_kl = [{**r, "metrics": [{k: v for k, v in p.items() if k != "kl"} for p in r["metrics"]]} for r in data.runs]
    fig = method_figure(dataclasses.replace(data, runs=no_kl), "grpo")
    kl = fig.axes[2]
    assert not kl.lines and "grpo.beta is 0" in " ".join(t.get_text() for t in kl.texts)


def test_the_training_page_shows_the_method_curves(monkeypatch, ablation):
    from tests.test_app import open_app, texts

    at = open_app(monkeypatch, ablation[0].home, "Training", link=True)  # ?page=Training: that page alone is drawn
    runs = at.dataframe[0].value
    assert set(zip(runs["variant"], runs["method"])) == {("sft", "sft"), ("sft-dpo", "dpo"), ("sft-grpo", "grpo")}
    body = texts(at)
    assert "DPO training curves" in body and "GRPO training curves" in body
    for title in ("reward margin (chosen - rejected)", "mean reward per function", "KL to the reference"):
        assert title in body
    charts = at.get("arrow_line_chart") or at.get("vega_lite_chart")
    assert len(charts) >= 1 + 3 + 3, len(charts)  # the loss, then three panels per method
