"""Ablation strategies end to end on the tiny model (issue 13).

- Every strategy's variants are built by the real build step as catalog versions with lineage
  (no training: fast).
- The injected-duplicates case, trained (1 step) and evaluated (3 items of a likelihood suite):
  20% duplicates planted into clean data, an exact_dedup step that removes them, compared with
  its size-matched random control in the report, `--json` and suggest-thresholds.
- Marked e2e: all four strategies in one trained ablation (34 tasks; minutes on 2 cores)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.ablate_helpers import QUESTIONS

_DONE: dict = {}  # the trained ablations, made once per module


def _data(folder):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mixed.jsonl"
    with open(path, "w") as fh:
        for i, (q, a) in enumerate(QUESTIONS * 2):  # the second copy: exact repeats for exact_dedup
            fh.write(json.dumps({"instruction": q + ("" if i < len(QUESTIONS) else " "), "output": a,
                                 "source": "math" if "####" in a else "chat"}) + "\n")
    return path


def _spec(folder, model_dir, only_inject: bool = False):
    data = str(_data(folder / "data"))
    spec = {
        "name": "dup" if only_inject else "strat", "base": str(model_dir), "seeds": [0],
        "train": {"max_steps": 1, "batch_size": 2, "max_length": 96, "sanity_prompts": 0},
        "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 3},
        "max_variants": 12,
        "strategies": [
            {"per_step": {"source": data, "recipe": {"steps": [{"step": "exact_dedup"},
                                                               {"step": "score_cut", "params": {"score": "length",
                                                                                                "remove_lowest": 0.25}}]},
                          "controls": False}},
            {"leave_one_out": {"source": data, "sources": ["math", "chat"], "recipe": {"steps": ["exact_dedup"]},
                               "controls": False}},
            {"sweep": {"source": data, "score": "answer_words", "remove_lowest": [0.25], "controls": False,
                       "recipe": {"steps": ["exact_dedup"]}}},
            {"inject": {"source": data, "recipe": {"steps": ["exact_dedup"]}, "defect": "duplicate", "rates": [0.2],
                        "catch": "exact_dedup"}},
        ],
    }
    if only_inject:
        spec["strategies"] = spec["strategies"][-1:]
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _run(tmp_path_factory, model_dir, only_inject: bool):
    from workbench.ablate import LocalExecutor, load_spec, run_ablation
    from workbench.report import report_data
    from workbench.core.workspace import Workspace

    folder = tmp_path_factory.mktemp("strat")
    ws = Workspace(folder / "home")
    path = _spec(folder, model_dir, only_inject)
    result = run_ablation(ws, path, executor=LocalExecutor(isolate=False))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    name = "dup" if only_inject else "strat"
    return {"ws": ws, "path": path, "spec": load_spec(path), "data": report_data(ws, name), "name": name}


@pytest.fixture(scope="module")
def dup(tmp_path_factory, tiny_model_dir):
    """The inject strategy alone, trained and evaluated: {ws, path, spec, data, name}."""
    if "dup" not in _DONE:
        _DONE["dup"] = _run(tmp_path_factory, tiny_model_dir, only_inject=True)
    return _DONE["dup"]


@pytest.fixture(scope="module")
def strat(tmp_path_factory, tiny_model_dir):
    """All four strategies, trained and evaluated (e2e only)."""
    if "strat" not in _DONE:
        _DONE["strat"] = _run(tmp_path_factory, tiny_model_dir, only_inject=False)
    return _DONE["strat"]


def test_every_strategy_builds_its_variants_as_versions_with_lineage(ws, tmp_path, tiny_model_dir):
    from workbench.ablate import LocalExecutor, build_task, load_spec

    spec = load_spec(_spec(tmp_path, tiny_model_dir))
    ex = LocalExecutor(isolate=False)
    built = {v.name: ex.run(ws, build_task(spec, v)) for v in spec.variants}
    _check_lineage(spec, ws, {n: {"version": o.version, "n_rows": o.n_rows} for n, o in built.items()})


@pytest.mark.e2e
def test_each_strategy_trains_and_reports_end_to_end(strat):
    data = strat["data"]
    assert {r.strategy for r in data.strategies} == {"per_step", "leave_one_out", "sweep", "inject"}
    _check_lineage(strat["spec"], strat["ws"], {v["name"]: v for v in data.variants})
    md = __import__("workbench.report", fromlist=["render_markdown"]).render_markdown(data)
    for group in ("step", "loo", "sweep", "inject"):
        assert f"## Strategy {group} (" in md


def _check_lineage(spec, ws, built):
    names = {v.name for v in spec.variants}
    assert {"step.source", "step.only-exact_dedup", "step.only-score_cut", "step.full"} <= names
    assert {"loo.no-math", "loo.no-chat", "sweep.answer_words-low0.25", "inject.duplicate-0.2",
            "inject.duplicate-0.2.exact_dedup"} <= names
    # per-step: left out of two steps is the other step alone, generated once
    alone = spec.variant("step.only-exact_dedup")
    # the other strategies' source (prefix exact_dedup) is the same data: generated once
    assert alone.tag.also == ["step.left_out:score_cut", "loo.source", "sweep.source", "inject.source"]
    caught = spec.variant("inject.duplicate-0.2.exact_dedup")
    assert caught.tag.controls == ["inject.duplicate-0.2.exact_dedup.c0", "inject.duplicate-0.2.exact_dedup.c1"]
    ctrl = spec.variant("inject.duplicate-0.2.exact_dedup.c1")
    assert ctrl.tag.role == "control" and ctrl.seeds == [1] and spec.seeds_for(ctrl.name) == [1]
    assert not alone.tag.controls and not spec.variant("loo.no-math").tag.controls  # controls: false
    cat = ws.catalog(reader=True)
    source = built["step.source"]
    # every generated variant is a catalog version whose lineage leads back to the ingested file
    for name in ("step.only-exact_dedup", "inject.duplicate-0.2.exact_dedup.c0", "loo.no-math", "inject.duplicate-0.2"):
        chain = cat.lineage(built[name]["version"])
        assert any(e["operation"] == "ingest" or e["parent"] is not None for e in chain), name
        assert built[name]["version"] != source["version"]
    assert built["step.only-exact_dedup"]["n_rows"] == source["n_rows"] - len(QUESTIONS)
    # the control removes as many rows, other ones, and each seed draws anew
    c0, c1 = built["inject.duplicate-0.2.exact_dedup.c0"], built["inject.duplicate-0.2.exact_dedup.c1"]
    assert c0["n_rows"] == c1["n_rows"] == built["inject.duplicate-0.2.exact_dedup"]["n_rows"]
    assert c0["version"] != c1["version"]
    reasons = {r["reason"] for r in cat.removal_summary(c0["version"])}
    assert {"random_control", "inject:duplicate"} <= reasons


def test_injected_duplicates_against_dedup_and_its_control(dup):
    data, strat = dup["data"], dup
    built = {v["name"]: v for v in data.variants}
    planted, caught = built["inject.duplicate-0.2"], built["inject.duplicate-0.2.exact_dedup"]
    clean = built[strat["spec"].variant("inject.duplicate-0.2").tag.compare_to]
    assert planted["n_rows"] == clean["n_rows"]  # the defect replaces rows: same size
    n_planted = round(0.2 * clean["n_rows"])
    assert caught["n_rows"] == planted["n_rows"] - n_planted  # the dedup step removes exactly the planted copies
    rows = [r for r in data.strategies if r.variant == "inject.duplicate-0.2.exact_dedup"]
    assert rows and all(r.vs_control is not None and r.vs_source is not None for r in rows)
    r = rows[0]
    assert r.rows_removed == n_planted and r.compare_to == "inject.duplicate-0.2"
    assert r.vs_control.n_seeds_a == 2 and r.verdict in ("helps", "hurts", "inconclusive")
    # one sentence that names the step and reads it against the random control
    assert r.reading.startswith("exact_dedup: ") and ("random rows" in r.reading or "vs control" in r.reading)
    defect = [x for x in data.strategies if x.variant == "inject.duplicate-0.2"]
    assert defect and defect[0].vs_control is None and defect[0].vs_source is not None


def _cli(monkeypatch, home, *args: str) -> str:
    """The real `workbench` CLI, in this process (a subprocess would import the stack again)."""
    from typer.testing import CliRunner

    from workbench.cli import app

    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_report_sections_json_and_suggest_thresholds(dup, tmp_path, monkeypatch):
    from workbench.report import render_markdown
    from workbench.report.render import render_html

    data = dup["data"]
    md, html = render_markdown(data), render_html(data)
    assert "## Strategy inject (inject)" in md
    assert "vs control (B - control)" in md and "Dose-response: inject" in html and html.count("<svg") >= 2
    monkeypatch.chdir(tmp_path)
    out = _cli(monkeypatch, dup["ws"].home, "report", "dup", "--json")
    rows = [r for r in json.loads(out[out.index("["):]) if r["kind"] == "strategy"]
    assert {r["variant"] for r in rows} == {"inject.duplicate-0.2", "inject.duplicate-0.2.exact_dedup"}
    caught = next(r for r in rows if r["variant"] == "inject.duplicate-0.2.exact_dedup")
    assert caught["rows_removed"] == 2 and caught["step"] == "exact_dedup" and caught["param"] == "duplicate"
    assert caught["value"] == 0.2 and caught["compare_to"] == "inject.duplicate-0.2"
    assert {"delta", "lo", "hi", "p", "p_adjusted", "word"} <= set(caught["vs_control"]) == set(caught["vs_source"])
    th = _cli(monkeypatch, dup["ws"].home, "ablate", "suggest-thresholds", "dup", "--tolerance", "0.05")
    assert "inject (duplicate) arith_choice" in th and "per unit rate" in th


def test_describe_strategies_counts_the_rows_each_removes(tmp_path, tiny_model_dir):
    from workbench.ablate import load_spec
    from workbench.ablate.strategies import describe_strategies

    spec = load_spec(_spec(tmp_path, tiny_model_dir))
    lines = describe_strategies(spec, count=True)
    assert len(lines) == sum(v.tag is not None for v in spec.variants) == 11
    line = next(x for x in lines if x.startswith("step.only-exact_dedup "))
    assert f"({len(QUESTIONS)} of {2 * len(QUESTIONS)} rows)" in line
    caught = next(x for x in lines if x.startswith("inject.duplicate-0.2.exact_dedup "))
    assert "(2 of 24 rows)" not in caught and "controls inject.duplicate-0.2.exact_dedup.c0" in caught
    ctrl = next(x for x in lines if x.startswith("inject.duplicate-0.2.exact_dedup.c0 "))
    assert "as many random rows as inject.duplicate-0.2.exact_dedup removes (draw seed 0)" in ctrl
