"""The default recipe on the labelled chat set (datasets/curation_eval.jsonl): it keeps >= 97%
of the clean rows and removes every planted defect; the per-turn repetition rules that make
that possible; and `curate report --sample` through the real CLI."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import REPO, run_cli
from workbench.curate.filters import RepetitionFilter, RepetitionParams
from workbench.curate.recipe import DEFAULT_RECIPE, curate, load_recipe, run_steps
from workbench.data.ingest import ingest
from workbench.data.records import make_record, unique_ids

EVAL = REPO / "datasets" / "curation_eval.jsonl"


def _records(rows):
    return list(unique_ids(make_record(r["messages"], r.get("source", ""), r.get("reasoning_mode"), r.get("meta"))
                           for r in rows))


@pytest.fixture(scope="module")
def labelled():
    return _records(json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines())


def test_the_labelled_set_is_what_the_generator_writes(labelled):
    sys.path.insert(0, str(REPO / "datasets"))
    try:
        import make_curation_eval
    finally:
        sys.path.pop(0)
    rows = make_curation_eval.build()
    assert [json.dumps(r, ensure_ascii=False) for r in rows] == EVAL.read_text(encoding="utf-8").splitlines()
    kinds = {r.meta["kind"] for r in labelled}
    assert sum(r.meta["label"] == "clean" for r in labelled) >= 400
    assert kinds >= {"math", "math_think", "code", "multi_turn_code", "instructions", "short_answer", "list", "json",
                     "multi_turn", "exact_duplicate", "near_duplicate", "degenerate_repetition", "empty_answer",
                     "unclosed_think", "pii_email", "pii_phone", "pii_ipv4", "pii_ipv6"}


def test_default_recipe_keeps_clean_rows_and_removes_every_defect(labelled):
    res = run_steps(labelled, load_recipe(DEFAULT_RECIPE))
    removed = {r["record_id"]: r for r in res.removals}
    clean = [r for r in labelled if r.meta["label"] == "clean"]
    lost = [r for r in clean if r.id in removed]
    assert len(lost) / len(clean) <= 0.03, [(r.meta["kind"], removed[r.id]["reason"]) for r in lost]
    survived = [r.meta["kind"] for r in labelled if r.meta["label"] == "defect" and r.id not in removed]
    assert survived == []
    expected_step = {"empty_answer": "structure", "unclosed_think": "reasoning_format",
                     "degenerate_repetition": "gopher_repetition", "exact_duplicate": "exact_dedup"}
    for r in labelled:
        if r.meta["kind"] in expected_step:
            assert removed[r.id]["step"] == expected_step[r.meta["kind"]], (r.meta, removed[r.id])
    # the repetition rules remove no clean row at all; PII rows are kept (the pii step is off)
    assert not [r for r in lost if removed[r.id]["step"] == "gopher_repetition"]
    assert sum(r.id in removed for r in labelled if r.meta["label"] == "pii") <= 2  # near-dup templates only


WHOLE_TEXT = RepetitionParams(per_turn=False, skip_code=False, ignore_symbol_lines=False)


def test_repetition_is_judged_per_turn(labelled):
    revisions = [r for r in labelled if r.meta["kind"] == "multi_turn_code"]
    per_turn = RepetitionFilter()
    whole = RepetitionFilter(WHOLE_TEXT)
    # a revised answer repeating the previous turn's code is not a loop ...
    assert all(per_turn.check(r) is None for r in revisions)
    assert sum(whole.check(r) is not None for r in revisions) >= len(revisions) // 2
    # ... but a loop inside one turn of a conversation still is
    loop = revisions[0].replace(messages=revisions[0].messages + [
        {"role": "user", "content": "Anything else?"},
        {"role": "assistant", "content": " ".join(["Remember to test it."] * 12)}])
    verdict = per_turn.check(loop)
    assert verdict is not None and verdict.detail.startswith("assistant turn 2: ")


def test_top_ngram_rules_need_long_turns():
    params = load_recipe(DEFAULT_RECIPE).steps
    rep = RepetitionFilter(next(p for s, p in params if s == "gopher_repetition"))
    listing = "\n".join(f"{i}. **{x}**: tolerates partial shade" for i, x in
                        enumerate(["Lettuce", "Spinach", "Kale", "Chard", "Radishes", "Peas"], 1))
    rec = make_record([{"role": "user", "content": "Name vegetables that grow in shade."},
                       {"role": "assistant", "content": listing}])
    assert rep.check(rec) is None  # 30 words: Gopher's top n-gram rules would drop it
    assert RepetitionFilter(RepetitionParams(min_words=10)).check(rec).reason == "top_2_gram_frac"
    loop = make_record([{"role": "user", "content": "Describe autumn."},
                        {"role": "assistant", "content": "Good question. " + " ".join(["the leaves fall down"] * 10)}])
    assert rep.check(loop).reason.startswith("dup_")  # short loops still fall to the repeated-span rules


def test_cli_report_sample(ws, tmp_path):
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    pick = [r for r in rows if r["meta"]["label"] == "clean"][:12] + \
        [r for r in rows if r["meta"]["kind"] == "degenerate_repetition"][:2] + \
        [r for r in rows if r["meta"]["kind"] == "empty_answer"][:2]
    src = tmp_path / "small.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in pick))
    ingest(ws, str(src), "small")
    result = curate(ws, "small", DEFAULT_RECIPE, "small-curated")
    assert len(result.removals) == 4
    out = run_cli("curate", "report", "small-curated", "--sample", "gopher_repetition", "-n", "1").stdout
    assert "gopher_repetition: " in out and "assistant turn 0: " in out and "user:" in out and "assistant:" in out
    loops = [r for r in pick if r["meta"]["kind"] == "degenerate_repetition"]
    assert loops[0]["messages"][0]["content"][:30] in out or loops[1]["messages"][0]["content"][:30] in out
    every = run_cli("curate", "report", "small-curated", "--sample", "all", "-n", "5").stdout
    assert "structure: empty_turn" in every and all(r["record_id"] in every for r in result.removals)
    missing = run_cli("curate", "report", "small-curated", "--sample", "near_duplicate", check=False)
    assert missing.returncode == 1 and "no removals for 'near_duplicate'" in missing.stdout and "empty_turn" in missing.stdout
