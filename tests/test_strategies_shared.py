"""Variants whose data coincide share one training run (content-addressed task ids); the report
attaches that run's scores to every one of them (issue 13): two written variants with the same
data, a strategy's source equal to a written variant, and per_step's "left out one" that is "the
other alone" (generated once, reported under both roles)."""

from __future__ import annotations

import json

import pytest

from tests.strategies_helpers import shared_ablation


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_model_dir):
    return shared_ablation(tmp_path_factory, tiny_model_dir)


def test_variants_with_the_same_data_share_a_run_and_each_gets_its_scores(shared):
    from workbench.report import targets

    ws, data = shared["ws"], shared["data"]
    versions = {v["name"]: v["version"] for v in data.variants}
    assert versions["raw"] == versions["noop"] == versions["step.source"]  # a recipe that removes nothing
    trains = [t for t in ws.catalog(reader=True).ablation_tasks("shared") if t["kind"] == "train"]
    assert len(trains) == len(set(versions.values())) == 6  # one run per distinct dataset, trained once
    _, evaluated = targets(ws, "shared")
    by_variant = {t["variant"]: t["target"] for t in evaluated}
    assert set(by_variant) == {"base", *versions}  # every variant, not only the one whose task ran
    assert by_variant["raw"] == by_variant["noop"] == by_variant["step.source"]
    scored = {r["variant"] for r in data.scores}
    assert scored == {"base", *versions}
    # the comparisons see them too: two variants on one run differ by nothing
    same = [c for c in data.comparisons if {c.a, c.b} == {"raw", "noop"} and c.kind == "variant"]
    assert same and all(c.delta == 0 for c in same)
    assert all(any(c.b == v and c.a == "base" for c in data.comparisons) for v in versions)


def test_a_variant_generated_for_two_roles_is_reported_under_both(shared, monkeypatch):
    from typer.testing import CliRunner

    from workbench.cli import app

    spec, data = shared["spec"], shared["data"]
    alone = spec.variant("step.only-exact_dedup")
    assert alone.tag.also_as == [{"strategy": "per_step", "group": "step", "role": "left_out", "step": "score_cut",
                                  "compare_to": "step.source"}]
    metrics = [(s, m) for s, ms in data.headlines.items() for m in ms]  # arith_choice: acc_norm, bits per byte
    rows = {(r.role, r.step, r.suite, r.metric): r for r in data.strategies if r.group == "step"}
    assert set(rows) == {(role, step, *sm) for role, step in (("alone", "exact_dedup"), ("alone", "score_cut"),
                                                                ("left_out", "exact_dedup"), ("left_out", "score_cut"),
                                                                ("full", None)) for sm in metrics}
    left, same = rows[("left_out", "score_cut", *metrics[0])], rows[("alone", "exact_dedup", *metrics[0])]
    assert left.variant == same.variant == "step.only-exact_dedup"
    assert left.vs_source.delta == same.vs_source.delta and left.rows_removed == same.rows_removed == 12
    monkeypatch.setenv("WORKBENCH_HOME", str(shared["ws"].home))
    out = CliRunner().invoke(app, ["report", "shared", "--json"])
    assert out.exit_code == 0, out.output
    printed = [r for r in json.loads(out.output[out.output.index("["):]) if r["kind"] == "strategy"]
    left_json = next(r for r in printed if r["role"] == "left_out" and r["step"] == "score_cut"
                     and (r["suite"], r["metric"]) == metrics[0])
    assert left_json["variant"] == "step.only-exact_dedup" and left_json["rows_removed"] == 12
    assert left_json["vs_source"]["delta"] == left.vs_source.delta and left_json["vs_control"] is None
