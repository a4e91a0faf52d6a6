"""Variants whose data coincide share one training run (content-addressed task ids); the report
attaches that run's scores to every one of them (issue 13): two written variants with the same
data, strategy variants whose step removes nothing, and per_step's "left out one" that is "the
other alone" (generated once, reported under both roles). e2e: its 2 runs and 3 evals took 169 s
on the loaded 2-core machine, over the default suite's budget."""

from __future__ import annotations

import json

import pytest

from tests.strategies_helpers import shared_ablation

pytestmark = pytest.mark.e2e

SAME = {"raw", "noop", "step.source", "step.only-length"}  # the file as it is
DEDUPED = {"step.only-exact_dedup", "step.full", "sweep.min_chars-8"}  # exact_dedup's data (length removes nothing)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_model_dir):
    return shared_ablation(tmp_path_factory, tiny_model_dir)


def test_variants_with_the_same_data_share_a_run_and_each_gets_its_scores(shared):
    from workbench.report import targets

    ws, data = shared["ws"], shared["data"]
    versions = {v["name"]: v["version"] for v in data.variants}
    assert set(versions) == SAME | DEDUPED
    assert len({versions[n] for n in SAME}) == len({versions[n] for n in DEDUPED}) == 1
    trains = [t for t in ws.catalog(reader=True).ablation_tasks("shared") if t["kind"] == "train"]
    assert len(trains) == 2  # one run per distinct dataset, trained once
    from workbench.ablate import status

    counts = status(ws, "shared")["counts"]  # nothing is left "not started" by a shared run
    assert counts["shared"] == len(versions) - 2 and counts["not started"] == 0, counts
    _, evaluated = targets(ws, "shared")
    by_variant = {t["variant"]: t["target"] for t in evaluated}
    assert set(by_variant) == {"base", *versions}  # every variant, not only the one whose task ran
    assert len({by_variant[n] for n in SAME}) == len({by_variant[n] for n in DEDUPED}) == 1
    assert {r["variant"] for r in data.scores} == {"base", *versions}
    # the comparisons see them too: two variants on one run differ by nothing
    same = [c for c in data.comparisons if {c.a, c.b} == {"raw", "noop"} and c.kind == "variant"]
    assert same and all(c.delta == 0 for c in same)
    assert all(any(c.b == v and c.a == "base" for c in data.comparisons) for v in versions)


def test_a_variant_generated_for_two_roles_is_reported_under_both(shared, monkeypatch):
    from typer.testing import CliRunner

    from workbench.cli import app

    spec, data = shared["spec"], shared["data"]
    alone = spec.variant("step.only-exact_dedup")
    assert alone.tag.also_as[0] == {"strategy": "per_step", "group": "step", "role": "left_out", "step": "length",
                                    "compare_to": "step.source"}
    metrics = [(s, m) for s, ms in data.headlines.items() for m in ms]  # arith_choice: acc_norm, bits per byte
    rows = {(r.group, r.role, r.step, r.value, r.suite, r.metric): r for r in data.strategies}
    want = [("step", "alone", "exact_dedup", None), ("step", "alone", "length", None),
            ("step", "left_out", "exact_dedup", None), ("step", "left_out", "length", None), ("step", "full", None, None),
            ("sweep", "value", "length", 5), ("sweep", "value", "length", 8)]
    assert set(rows) == {(*w, *sm) for w in want for sm in metrics}
    first = metrics[0]
    left, same = rows[("step", "left_out", "length", None, *first)], rows[("step", "alone", "exact_dedup", None, *first)]
    assert left.variant == same.variant == "step.only-exact_dedup"
    assert left.vs_source.delta == same.vs_source.delta and left.rows_removed == same.rows_removed == 12
    # the sweep value whose data is the whole recipe's (generated once, as step.full) has its row too
    five = rows[("sweep", "value", "length", 5, *first)]
    assert five.variant == "step.full" and five.compare_to == "step.only-exact_dedup" and five.rows_removed == 0
    assert "removes no rows" in five.reading
    monkeypatch.setenv("WORKBENCH_HOME", str(shared["ws"].home))
    out = CliRunner().invoke(app, ["report", "shared", "--json"])
    assert out.exit_code == 0, out.output
    printed = [r for r in json.loads(out.output[out.output.index("["):]) if r["kind"] == "strategy"]
    left_json = next(r for r in printed if r["role"] == "left_out" and r["step"] == "length"
                     and (r["suite"], r["metric"]) == first)
    assert left_json["variant"] == "step.only-exact_dedup" and left_json["rows_removed"] == 12
    assert left_json["vs_source"]["delta"] == left.vs_source.delta and left_json["vs_control"] is None
