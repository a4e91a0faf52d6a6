"""Every strategy kind in one trained ablation on the tiny model (issue 13), e2e: per_step,
leave_one_out over a mixture (re-balanced to the same token budget), a step-parameter sweep, a
score sweep and an injected defect with the step that catches it; 1 training step per distinct
dataset, 2 likelihood items. Checks the variants, their lineage, the report's sections and
figures, and the `--json` rows (strategy, step/source/param/value, rows removed, both comparisons)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.strategies_helpers import tiny_spec, write_mixed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]  # ~19 runs: over 15 min on a loaded 2-core machine

DEDUP = {"steps": ["exact_dedup"]}


def _spec(folder, model_dir):
    data = str(write_mixed(folder / "data"))
    spec = tiny_spec(
        "every", model_dir, max_variants=30,
        strategies=[
            {"per_step": {"source": data, "controls": False, "recipe": {"steps": [
                {"step": "exact_dedup"}, {"step": "score_cut", "params": {"score": "length", "remove_lowest": 0.25}}]}}},
            {"leave_one_out": {"source": data, "recipe": DEDUP, "mix": {"weights": {"math": 1, "chat": 1}}}},
            {"sweep": {"source": data, "recipe": DEDUP, "step": "length", "param": "min_chars", "values": [30, 45],
                       "controls": False}},
            {"sweep": {"source": data, "recipe": DEDUP, "score": "answer_words", "remove_lowest": [0.25, 0.5],
                       "controls": False}},
            {"inject": {"source": data, "recipe": DEDUP, "defect": "duplicate", "rates": [0.2, 0.4],
                        "catch": "exact_dedup"}},
        ])
    path = folder / "every.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def every(tmp_path_factory, tiny_model_dir):
    from workbench.ablate import LocalExecutor, load_spec, run_ablation
    from workbench.report import report_data
    from workbench.core.workspace import Workspace

    folder = tmp_path_factory.mktemp("every")
    ws = Workspace(folder / "home")
    path = _spec(folder, tiny_model_dir)
    result = run_ablation(ws, path, executor=LocalExecutor(isolate=False))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    return {"ws": ws, "spec": load_spec(path), "data": report_data(ws, "every")}


def test_every_strategy_generates_its_variants_with_lineage(every):
    from workbench.data.profile import token_counts
    from workbench.data.store import load_records

    spec, ws, data = every["spec"], every["ws"], every["data"]
    names = {v.name for v in spec.variants}
    assert {"step.source", "step.only-exact_dedup", "step.only-score_cut", "step.full",
            "loo.mix", "loo.no-math", "loo.no-chat",
            "sweep.min_chars-30", "sweep.min_chars-45",
            "sweep2.answer_words-low0.25", "sweep2.answer_words-low0.5",
            "inject.duplicate-0.2", "inject.duplicate-0.4",
            "inject.duplicate-0.2.exact_dedup", "inject.duplicate-0.4.exact_dedup",
            "inject.duplicate-0.2.exact_dedup.c0", "inject.duplicate-0.2.exact_dedup.c1"} <= names
    built = {v["name"]: v for v in data.variants}
    assert all(v["status"] == "done" and v["version"] for v in built.values())
    cat = ws.catalog(reader=True)
    ingested = built["step.source"]["version"]  # the file as ingested: every variant's lineage starts there
    for name, v in built.items():
        if v["version"] != ingested:
            assert ingested in {e["parent"] for e in cat.lineage(v["version"])}, name
    # every variant has scores, also those whose data another variant trained (one run each)
    assert {r["variant"] for r in data.scores} == {"base", *built}
    # leave_one_out: the mixture without each source at the whole mixture's token budget
    tokens = {n: token_counts(load_records(ws, built[n]["version"])) for n in ("loo.mix", "loo.no-math", "loo.no-chat")}
    for n in ("loo.no-math", "loo.no-chat"):
        assert abs(sum(tokens[n]) - sum(tokens["loo.mix"])) <= max(max(tokens[n]), max(tokens["loo.mix"]))
        left = n.removeprefix("loo.no-")
        assert {r.source for r in load_records(ws, built[n]["version"])} == {"math", "chat"} - {left}


def test_every_strategy_has_a_report_section_and_json_rows(every, monkeypatch):
    from typer.testing import CliRunner

    from workbench.cli import app
    from workbench.report import render_markdown
    from workbench.report.render import render_html

    data = every["data"]
    md, html = render_markdown(data), render_html(data)
    for title in ("Strategy step (per_step)", "Strategy loo (leave_one_out)", "Strategy sweep (sweep)",
                  "Strategy sweep2 (sweep)", "Strategy inject (inject)"):
        assert f"## {title}" in md, title
    for group in ("sweep", "sweep2", "inject"):
        assert f"Dose-response: {group}<" in html, group
    monkeypatch.setenv("WORKBENCH_HOME", str(every["ws"].home))
    out = CliRunner().invoke(app, ["report", "every", "--json"])
    assert out.exit_code == 0, out.output
    rows = [r for r in json.loads(out.output[out.output.index("["):]) if r["kind"] == "strategy"]
    assert {r["strategy"] for r in rows} == {"per_step", "leave_one_out", "sweep", "inject"}
    for r in rows:
        assert {"strategy", "group", "variant", "role", "step", "source", "param", "value", "rows_removed",
                "compare_to", "vs_control", "vs_source", "verdict", "reading"} <= set(r)
        assert r["verdict"] in ("helps", "hurts", "inconclusive") and r["reading"]
        assert r["vs_source"] is not None and {"delta", "lo", "hi", "p", "p_adjusted", "word"} <= set(r["vs_source"])
    by = {(r["group"], r["variant"], r["role"], r["step"]): r for r in rows}
    left = by[("step", "step.only-exact_dedup", "left_out", "score_cut")]  # "without score_cut" = "dedup alone"
    assert left["rows_removed"] == 12
    loo = [r for r in rows if r["group"] == "loo"]
    assert {(r["source"], r["param"], r["value"]) for r in loo} == {("math", "source", "math"),
                                                                    ("chat", "source", "chat")}
    assert all(r["rebalanced"] and r["compare_to"] == "loo.mix" and r["vs_control"] is None for r in loo)
    assert {r["value"] for r in rows if r["group"] == "sweep"} == {30, 45}
    assert all(r["param"] == "min_chars" and r["step"] == "length" for r in rows if r["group"] == "sweep")
    assert {r["value"] for r in rows if r["group"] == "sweep2"} == {0.25, 0.5}
    caught = [r for r in rows if r["role"] == "caught"]
    assert {r["value"] for r in caught} == {0.2, 0.4}
    assert all(r["vs_control"] is not None and r["rows_removed"] > 0 for r in caught)
    assert all(r["vs_control"] is None for r in rows if r["role"] == "defect")
