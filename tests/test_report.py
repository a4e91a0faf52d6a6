"""Reports from a real (tiny) ablation: numbers match the stored per-item scores, the HTML is
self-contained, and the CLI writes both files."""

from __future__ import annotations

import json
import math
import re

import pytest

from tests.ablate_helpers import filled_workspace
from tests.conftest import run_cli
from workbench.ablate import BuildOutput, BuildStep, EvalOutput, OutputError, TrainOutput, parse_output
from workbench.report import ComparisonRow, headline, item_table, render_html, render_markdown, report_data

ROW_FIELDS = ["a", "b", "suite", "metric", "higher_is_better", "delta", "lo", "hi", "p", "p_adjusted",
              "significant", "kind", "n", "mdd", "verdict", "headline", "n_seeds_a", "n_seeds_b", "training_noise",
              "floor", "note", "se", "df", "paired_seeds"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)


def test_scores_and_deltas_match_the_stored_items(filled):
    data = report_data(filled, "tiny")
    items = item_table(filled, "tiny")
    assert {v["name"] for v in data.variants} == {"all", "math"}
    assert all(v["status"] == "done" and v["version"] for v in data.variants)
    rows = headline(data)
    assert {(r["variant"], r["suite"]) for r in rows} == {(v, s) for v in ("base", "all", "math") for s in data.suites}
    for r in rows:
        vals = [d["scores"][r["metric"]] for d in items[r["variant"]][r["suite"]].values()]
        assert r["n"] == len(vals) and r["score"] == pytest.approx(sum(vals) / len(vals))
        assert r["lo"] - 1e-9 <= r["score"] <= r["hi"] + 1e-9
        if r["variant"] != "base":
            base = items["base"][r["suite"]]
            mine = items[r["variant"]][r["suite"]]
            expected = sum(mine[k]["scores"][r["metric"]] - base[k]["scores"][r["metric"]] for k in mine) / len(mine)
            assert r["delta"] == pytest.approx(expected)
            if math.isfinite(r["d_lo"]):
                assert r["d_lo"] - 1e-9 <= r["delta"] <= r["d_hi"] + 1e-9
            # significant is the adjusted verdict: it implies the unadjusted interval excludes 0
            assert not r["significant"] or (r["d_lo"] > 0 or r["d_hi"] < 0)
    # one pairwise comparison per suite and metric between the two variants
    assert {(p.a, p.b) for p in data.pairwise} == {("all", "math")}
    assert len(data.runs) == 2 and all(r["loss"] for r in data.runs)


def test_html_is_self_contained_and_has_every_section(filled):
    data = report_data(filled, "tiny")
    page = render_html(data)
    assert not re.search(r"""(src|href)=["']https?://""", page), "no external resources"
    assert page.count("<svg") >= 2 and "data:image/png;base64," in page
    for title in ("Summary", "Between variants", "Training runs", "Data per variant", "Items where variants disagree"):
        assert f"<h2>{title}</h2>" in page
    md = render_markdown(data)
    assert "| variant | suite | metric |" in md and "**all**" in md and "**math**" in md


def test_cli_writes_both_files_and_rejects_an_unknown_ablation(filled, tmp_path):
    env = {"WORKBENCH_HOME": str(filled.home)}
    proc = run_cli("report", "tiny", env=env, cwd=tmp_path)
    assert "report.html" in proc.stdout
    html = (tmp_path / "reports" / "tiny" / "report.html").read_text()
    assert "<b>all</b>" in html and "<b>math</b>" in html
    assert (tmp_path / "reports" / "tiny" / "report.md").exists()
    bad = run_cli("report", "nope", env=env, cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "no ablation 'nope'" in bad.stderr and "tiny" in bad.stderr


def test_every_stored_task_output_is_typed_and_round_trips(filled):
    tasks = filled.catalog(reader=True).ablation_tasks("tiny")
    kinds = {"build": BuildOutput, "train": TrainOutput, "eval": EvalOutput}
    assert {t["kind"] for t in tasks} == set(kinds)
    for t in tasks:
        out = parse_output(t["kind"], t["output"])
        assert isinstance(out, kinds[t["kind"]]) and out.to_dict() == t["output"]
    builds = {t["variant"]: parse_output("build", t["output"]) for t in tasks if t["kind"] == "build"}
    curate = next(s for s in builds["all"].steps if s.step == "curate")
    assert [c.step for c in curate.curation] == ["exact_dedup"] and curate.curation[0].dropped == 2
    # the version a train task trained on is the build's version; the eval's target is the run
    trains = [t for t in tasks if t["kind"] == "train"]
    assert {t["inputs"]["version"] for t in trains} == {b.version for b in builds.values()}
    runs = {parse_output("train", t["output"]).run_id for t in trains}
    assert runs < {parse_output("eval", t["output"]).target for t in tasks if t["kind"] == "eval"}


def test_a_renamed_or_missing_output_field_fails_loudly():
    good = BuildStep("curate", "v1").to_dict()
    assert BuildStep.from_dict(good) == BuildStep("curate", "v1")
    renamed = {**{k: v for k, v in good.items() if k != "curation"}, "summary": []}
    with pytest.raises(OutputError, match="unknown field.*summary"):
        BuildStep.from_dict(renamed)
    with pytest.raises(OutputError, match="missing field.*run_id"):
        TrainOutput.from_dict({"adapter_dir": "x", "mode": "lora", "train_wall_s": 1.0, "tokens_per_s": 2.0})
    nested = {"version": "v", "n_rows": 1, "steps": [{"step": "mix", "version": "v", "composition": [{"source": "a"}]}]}
    with pytest.raises(OutputError, match="MixComponent: missing field"):
        BuildOutput.from_dict(nested)


def test_report_json_and_compare_json_print_the_same_typed_rows(filled, tmp_path):
    env = {"WORKBENCH_HOME": str(filled.home)}
    data = report_data(filled, "tiny")
    out = run_cli("report", "tiny", "--json", env=env, cwd=tmp_path).stdout
    rows = json.loads(out[out.index("["):])
    assert not (tmp_path / "reports").exists()  # --json prints, writes nothing
    assert rows == [c.to_dict() for c in data.comparisons] and rows
    assert all(list(r) == ROW_FIELDS and r["kind"] == "variant" for r in rows)
    # headline metrics are adjusted together and carry a verdict; the others keep their raw p only
    assert all((r["p_adjusted"] is None) == (not r["headline"]) and bool(r["verdict"]) == r["headline"] for r in rows)
    heads = [r for r in rows if r["headline"] and r["p"] is not None]
    assert heads and all(r["p_adjusted"] >= r["p"] - 1e-12 for r in heads)
    assert {(r["a"], r["b"]) for r in rows} == {("base", "all"), ("base", "math"), ("all", "math")}
    for r in rows:
        if r["headline"]:
            assert not r["significant"] or (r["lo"] > 0 or r["hi"] < 0)
        if r["lo"] is not None and math.isfinite(r["lo"]):
            assert r["lo"] - 1e-9 <= r["delta"] <= r["hi"] + 1e-9
        assert r["higher_is_better"] is (r["metric"] != "bits_per_byte")
    assert [ComparisonRow(**r).to_dict() for r in rows] == rows
    run = data.runs[0]["run_id"]
    base = data.spec["base"]
    comp = run_cli("compare", base, run, "--json", env=env, cwd=tmp_path).stdout
    crow = json.loads(comp[comp.index("["):])
    assert crow and all(list(r) == ROW_FIELDS and r["a"] == base and r["b"] == run for r in crow)
    variant = data.runs[0]["variant"]
    mine = {(r["suite"], r["metric"]): r for r in rows if r["a"] == "base" and r["b"] == variant}
    for r in crow:  # one seed: the same items and scores as the report's base-vs-variant rows
        if (r["suite"], r["metric"]) in mine:
            assert r["delta"] == pytest.approx(mine[(r["suite"], r["metric"])]["delta"])
