"""The suite audit (issue 28 §3) on a fixture ablation written through the catalog API (no model
is trained): on think_follow the variants' bits per byte differ by far more than the seeds do (it can
decide); on semsim the seeds scatter 40x more and the same differences drown (it cannot). Every
number is checked against its definition, recomputed here from the planted scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import run_cli_here
from workbench.ablate.outputs import EvalOutput, SuiteOutput, TrainOutput
from workbench.report import report_data
from workbench.report.audit import audit, verdict_lines
from workbench.report.gather import seed_items
from workbench.core.workspace import Workspace

N_ITEMS = 30
SUITES = {"think_follow": "pass", "semsim": "similarity"}
SEED_SD = {"think_follow": 0.005, "semsim": 0.2}  # training noise of one seed's mean bits per byte
SHIFT = {"plain": 0.0, "curated": -0.30, "broken": 0.05}  # bits per byte, lower is better
TRAIN_S, EVAL_S = 90.0, {"think_follow": 12.0, "semsim": 30.0}  # wall seconds per task / per suite
CORES = 2


def _fill(home) -> tuple[Workspace, dict]:
    """The ablation "au", and the bits per byte planted per (suite, variant, seed): (items,) arrays."""
    ws = Workspace(home)
    cat = ws.catalog()
    spec = {"name": "au", "base": "tiny-base", "seeds": [0, 1], "eval": {"suites": list(SUITES), "layer": "smoke"},
            "variants": [{"name": v, "sources": [f"data/{v}.jsonl"]} for v in SHIFT],
            "control": {"variant": "plain", "seeds": [0, 1]},
            "resources": {"train": {"num_cpus": CORES}, "eval": {"num_cpus": CORES}}}
    cat.save_ablation("au", spec, "spec-hash")
    rng = np.random.default_rng(28)
    difficulty = {s: 1.2 + rng.normal(0, 0.3, N_ITEMS) for s in SUITES}
    planted: dict = {}
    for variant in ["base", *SHIFT]:
        for seed in ([None] if variant == "base" else [0, 1]):
            target = f"t-{variant}" if seed is None else f"run-{variant}-{seed}"
            if seed is not None:
                task = f"train-{target}"
                cat.task_started("au", task, "train", variant, seed, f"train {variant} seed {seed}", {"seed": seed})
                cat.task_done("au", task, TrainOutput(target, f"/nowhere/{target}", "lora", TRAIN_S, 100.0).to_dict(),
                              TRAIN_S)
            results = []
            for suite, primary in SUITES.items():
                offset = 0.0 if seed is None else rng.normal(0, SEED_SD[suite])
                shift = 0.4 if seed is None else SHIFT[variant]  # the untrained base: far off
                bpb = difficulty[suite] + shift + offset + rng.normal(0, 0.02, N_ITEMS)
                planted[(suite, variant, seed)] = bpb
                passed = rng.random(N_ITEMS) < 0.5
                rid = f"r-{suite}-{target}"
                metrics = {primary: float(passed.mean()), "bits_per_byte": float(bpb.mean())}
                cat.save_eval_result(
                    {"id": rid, "model_key": f"m-{target}", "target": target, "run_id": None if seed is None else target,
                     "suite": suite, "layer": "smoke", "suite_hash": "h", "settings": {}, "n_items": N_ITEMS,
                     "metrics": metrics, "primary_metric": primary,
                     "higher_is_better": {primary: True, "bits_per_byte": False}},
                    [{"item_id": f"i{i:02d}", "prompt": f"q{i}", "response": f"a{i}",
                      "scores": {primary: float(passed[i]), "bits_per_byte": float(bpb[i])}} for i in range(N_ITEMS)])
                results.append(SuiteOutput(suite, "smoke", rid, N_ITEMS, metrics, primary, f"m-{target}",
                                           None if seed is None else target, EVAL_S[suite]))
            cat.task_started("au", f"eval-{target}", "eval", variant, seed, f"eval {target}", {"target": target})
            cat.task_done("au", f"eval-{target}", EvalOutput(target, results).to_dict(), sum(EVAL_S.values()) + 10)
    return ws, planted


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    ws, planted = _fill(root / "home")
    data = report_data(ws, "au")
    return ws, root, planted, data, audit(data, seed_items(ws, "au"))


def test_audit_numbers_follow_their_definitions(fixture):
    _, _, planted, data, rows = fixture
    by = {(r.suite, r.metric): r for r in rows}
    assert set(by) == {(s, m) for s in SUITES for m in (SUITES[s], "bits_per_byte")}
    n_trains = 2 * len(SHIFT)
    for suite in SUITES:
        r = by[(suite, "bits_per_byte")]
        means = {v: np.mean([planted[(suite, v, s)] for s in (0, 1)]) for v in SHIFT}  # seeds, then items
        assert r.headline and r.n_variants == len(SHIFT)
        assert r.signal == pytest.approx(max(means.values()) - min(means.values()))
        assert r.signal_sd == pytest.approx(np.std(list(means.values()), ddof=1))
        # seed spread: the sd of one seed's mean, pooled over the three variants (1 df each)
        per_seed = [[planted[(suite, v, s)].mean() for s in (0, 1)] for v in SHIFT]
        assert r.seed_df == len(SHIFT)
        assert r.seed_sd == pytest.approx(math.sqrt(np.mean([np.var(x, ddof=1) for x in per_seed])))
        # the A/A control: plain seed 1 vs plain seed 0
        assert r.control == pytest.approx(abs(planted[(suite, "plain", 1)].mean() - planted[(suite, "plain", 0)].mean()))
        assert r.ratio == pytest.approx(r.signal / r.seed_sd)
        between = [c.mdd for c in data.comparisons if c.kind == "variant" and (c.suite, c.metric) == (suite, r.metric)
                   and "base" not in (c.a, c.b)]
        assert len(between) == 3 and r.mdd == pytest.approx(float(np.median(between))) and r.mdd_from == "between variants"
        assert r.cpu_min == pytest.approx(CORES * (n_trains * TRAIN_S + (n_trains + 1) * EVAL_S[suite]) / 60)  # base too
        assert r.mdd_1min == pytest.approx(r.mdd * math.sqrt(r.cpu_min))
        assert r.cpu_min_needed == pytest.approx(r.cpu_min * (r.mdd / r.signal) ** 2)
        assert r.decides is (r.mdd <= r.signal)
    tf, ss = by[("think_follow", "bits_per_byte")], by[("semsim", "bits_per_byte")]
    assert tf.decides and tf.ratio > 20 and tf.cpu_min_needed < tf.cpu_min
    assert not ss.decides and ss.seed_sd > 10 * tf.seed_sd and ss.cpu_min_needed > ss.cpu_min
    lines = verdict_lines(rows)
    assert lines[0] == "can decide at this budget: think_follow"
    assert any(ln.startswith("semsim bits_per_byte: MDD") and "CPU min" in ln for ln in lines)


def test_audit_cli_and_report(fixture):
    ws, root, _, _, rows = fixture
    env = {"WORKBENCH_HOME": str(ws.home)}
    out = run_cli_here("report", "au", "--audit", "--json", env=env, cwd=root).stdout
    assert json.loads(out[out.index("["):]) == [r.to_dict() for r in rows]
    text = run_cli_here("report", "au", "--audit", env=env, cwd=root).stdout
    assert "suite audit" in text and "can decide at this budget: think_follow" in text
    assert not (root / "reports" / "au").exists()  # --audit prints, writes nothing
    run_cli_here("report", "au", env=env, cwd=root)
    md = (root / "reports" / "au" / "report.md").read_text()
    section = md.split("## Suite audit\n", 1)[1].split("\n## ", 1)[0]
    assert "can decide at this budget: think_follow" in section
    table = [ln for ln in section.splitlines() if ln.startswith("| think_follow | bits_per_byte")]
    assert len(table) == 1 and table[0].rstrip().endswith("| yes |")
    assert "Seeds until decided" not in md  # no --until-decided record for this ablation
    assert "Suite audit" in (root / "reports" / "au" / "report.html").read_text()
