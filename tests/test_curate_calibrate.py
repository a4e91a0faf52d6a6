"""`workbench curate calibrate`: thresholds fitted on known-clean rows. Round trip through the real
curate (the fitted recipe drops at most the requested share of the sample), a bad sample file
named at its line, and the command line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_cli_here
from workbench.curate.calibrate import CalibrationError, calibrate, to_yaml
from workbench.curate.recipe import DEFAULT_RECIPE, curate, load_recipe
from workbench.curate.steps import Filter
from workbench.data.ingest import ingest
from workbench.data.records import make_record

WHOLE_TEXT = REPO / "benchmarks" / "recipes" / "gopher_whole_text.yaml"  # loses 28% of curation_eval's clean rows


@pytest.fixture(scope="module")
def clean_sample(tmp_path_factory):
    """curation_eval.jsonl's clean rows (worked math, code, lists, JSON, chats), as a plain chat file."""
    path = tmp_path_factory.mktemp("sample") / "clean.jsonl"
    rows = [json.loads(line) for line in (REPO / "datasets" / "curation_eval.jsonl").read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({"messages": r["messages"]}, ensure_ascii=False) + "\n"
                            for r in rows if r["meta"]["label"] == "clean"), encoding="utf-8")
    return path


def test_fitted_recipe_drops_at_most_the_share_through_the_real_curate(ws, tmp_path, clean_sample):
    n = len(clean_sample.read_text(encoding="utf-8").splitlines())
    ingest(ws, clean_sample, "clean")
    before = curate(ws, "clean", WHOLE_TEXT, "clean-whole-text")
    assert len(before.removals) > 0.2 * n  # the recipe as it is loses a fifth of the clean rows
    for tighten in (False, True):
        _round_trip(ws, tmp_path, clean_sample, n, tighten)


def _round_trip(ws, tmp_path, clean_sample, n, tighten):
    cal = calibrate(WHOLE_TEXT, clean_sample, max_drop=0.01, tighten=tighten)
    out = tmp_path / f"fitted-{tighten}.yaml"
    out.write_text(to_yaml(cal), encoding="utf-8")
    fitted = load_recipe(out)
    assert fitted.hash == cal.fitted_recipe.hash  # the YAML is the recipe calibrate fitted
    after = curate(ws, "clean", out, f"clean-fitted-{tighten}", allow_empty=True)
    assert len(after.removals) <= 0.01 * n, after.summary
    assert len(after.removals) <= cal.budget + sum(cal.other_drops.values())

    changed = {f.param: f for f in cal.values if f.new != f.old}
    assert "top_ngram_frac.2" in changed and changed["top_ngram_frac.2"].new > 0.2  # Gopher's 0.2 loosened
    if tighten:  # rules that dropped no clean row are set at the strictest value their share allows
        assert changed["max_chars"].new < 60_000
    else:
        assert all(f.new >= f.old if f.kind == "max" else f.new <= f.old for f in cal.values)
    text = out.read_text(encoding="utf-8")
    for f in cal.values:  # each value's source: the sample file, its rows, the quantile
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{f.param.rpartition('.')[2]}:") and "#" in x
                    and ("fitted" in x or "kept" in x))
        assert f"clean.jsonl ({n} rows)" in line or "rule is off" in line, line
    assert "fitted: clean.jsonl (436 rows), 391 judged: q1.000" in text


def test_rule_values_are_what_the_filters_compare():
    """Calibration fits on `Filter.rule_values`: a record is dropped by the filter exactly when one of
    its values is over (under) its rule's threshold, on a third of the rows of both labelled sets."""
    rows = [json.loads(line) for name in ("curation_eval.jsonl", "curation_domains.jsonl")
            for line in (REPO / "datasets" / name).read_text(encoding="utf-8").splitlines()]
    records = [make_record(r["messages"], r.get("source", ""), r.get("reasoning_mode")) for r in rows[::3]]
    tight = {"steps": [{"step": "gopher_quality", "params": {"min_words": 20, "min_stop_words": 2}},
                       {"step": "length", "params": {"max_turn_words": 150, "min_turn_chars": 12}}]}
    checked = 0
    for recipe in (DEFAULT_RECIPE, WHOLE_TEXT, tight):
        for step in load_recipe(recipe).build():
            if not (isinstance(step, Filter) and step.rules()):
                continue
            for rec in records:
                vals = step.rule_values(rec)
                over = [r.param for r in step.rules() if r.param in vals and (
                    vals[r.param] > _threshold(step, r.param) if r.kind == "max" else vals[r.param] < _threshold(step, r.param))]
                assert (step.check(rec) is not None) == bool(over), (step.name, rec.id, over, step.check(rec))
                checked += bool(over)
    assert checked > 40  # the rules do drop rows here


def _threshold(step, param):
    name, _, sub = param.partition(".")
    value = getattr(step.params, name)
    return value[int(sub)] if sub else value


def test_bad_sample_file_is_named_at_its_line(tmp_path):
    bad = tmp_path / "sample.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}]})
    bad.write_text(good + "\n" + good.replace("Hello", "Hey") + "\n{not json\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"sample\.jsonl:3: malformed JSON"):
        calibrate(WHOLE_TEXT, bad)
    bad.write_text(good + "\n" + json.dumps({"messages": [{"role": "user"}]}) + "\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"sample\.jsonl:2: "):
        calibrate(WHOLE_TEXT, bad)
    with pytest.raises(CalibrationError, match="no such file"):
        calibrate(WHOLE_TEXT, tmp_path / "missing.jsonl")
    # duplicates in a "clean" sample: the dedup steps (not fitted) already spend the budget
    bad.write_text((good + "\n") * 3, encoding="utf-8")
    with pytest.raises(CalibrationError, match="exact_dedup 2"):
        calibrate(WHOLE_TEXT, bad, max_drop=0.01)


def test_cli_calibrate(ws, tmp_path, clean_sample):
    ingest(ws, REPO / "datasets" / "example_raw.jsonl", "raw")
    out = tmp_path / "fitted.yaml"
    proc = run_cli_here("curate", "calibrate", "raw", "--clean", str(clean_sample), "--max-drop", "0.01",
                        "--out", str(out), "--recipe", str(WHOLE_TEXT))
    assert "thresholds fitted on" in proc.stdout and "dropped (fitted)" in proc.stdout and str(out) in proc.stdout
    assert load_recipe(out).name == "gopher_whole_text-calibrated"
    js = json.loads(run_cli_here("curate", "calibrate", "raw", "--clean", str(clean_sample), "--out", str(out),
                                 "--recipe", str(WHOLE_TEXT), "--json").stdout)
    assert js["rows"] == 436 and js["budget"] == 4 and {p["step"] for p in js["preview"]} >= {"gopher_repetition"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    proc = run_cli_here("curate", "calibrate", "raw", "--clean", str(bad), "--out", str(out), check=False)
    assert proc.returncode != 0 and "bad.jsonl:1: malformed JSON" in proc.stderr
