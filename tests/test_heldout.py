"""Likelihood-only suites: the bundled variants (gsm_style_bpb, think_follow_bpb) and held-out rows of a dataset version
(`workbench eval heldout`), scored on a tiny real model; a run trained on held-out rows is refused."""

from __future__ import annotations

import json

import pytest

from tests.conftest import manual_bpb, run_cli_here
from workbench.data.records import make_record
from workbench.data.store import load_records, save_version
from workbench.evals.heldout import make_heldout
from workbench.evals.likelihood import BPB
from workbench.evals.runner import EvalError, evaluate
from workbench.evals.suites import SuiteError, discover, select

FAST = {"batch_size": 8, "progress": False}
TRAIN = {"max_steps": 2, "batch_size": 4, "sanity_prompts": 0}


def _records(n: int = 24, multiturn: int = 4):
    single = [make_record([{"role": "user", "content": f"What is {i} times 3?"},
                           {"role": "assistant", "content": f"{i} times 3 is {3 * i}."}],
                          reasoning_mode="no_think" if i % 3 == 0 else None) for i in range(n)]
    multi = [make_record([{"role": "user", "content": f"Say {i}."}, {"role": "assistant", "content": f"{i}."},
                          {"role": "user", "content": "Again."}, {"role": "assistant", "content": f"{i} again."}])
             for i in range(multiturn)]
    return single + multi


@pytest.mark.parametrize("suite_name, generating, field, n", [("gsm_style_bpb", "gsm_style", "answer", 336),
                                                               ("think_follow_bpb", "think_follow", "reference", 60)])
def test_bundled_likelihood_variant_scores_references_without_generating(ws, tiny_model_dir, suite_name, generating,
                                                                          field, n):
    (suite,) = select(suite_name, "smoke")
    assert suite.likelihood_only and suite.primary_metric == BPB
    assert len(suite.rows("smoke")) == len(suite.rows("core")) == n  # smoke_rows: all
    (gen,) = select(generating, "smoke")
    assert not gen.likelihood_only
    (r,) = evaluate(ws, str(tiny_model_dir), suite_name, layer="core", limit=4, **FAST)
    assert set(r.metrics) == {BPB} and r.gen_tokens == 0 and r.n_items == 4
    items = ws.catalog().result_samples(r.result_id)
    assert {it["response"] for it in items} == {str(row[field]) for row in suite.rows("core")[:4]}
    # the same number the generation suite's reference pass gives for the same item and prompt (think_follow:
    # its /think or /no_think system prompt included)
    (g,) = evaluate(ws, str(tiny_model_dir), generating, layer="core", limit=4, max_gen_toks=4, **FAST)
    same = {it["item_id"]: it["scores"][BPB] for it in ws.catalog().result_samples(g.result_id)}
    for it in items:
        assert it["scores"][BPB] == pytest.approx(same[it["item_id"]], rel=2e-3)  # other batch mates, float32


def test_heldout_suite_and_train_version_with_lineage(ws, tiny_model_dir):
    src = save_version(ws, _records(), "toy", "ingest").id
    h = make_heldout(ws, src, 10, "toy_heldout")
    assert h.n_heldout == 10 and h.n_train == 18 and h.skipped_multiturn == 4
    assert h.suite.dir == ws.home / "evalsuites" / "toy_heldout" and "toy_heldout" in discover()
    held = [row["id"] for row in h.suite.rows("core")]
    train_ids = {r.id for r in load_records(ws, h.train_version)}
    source_ids = {r.id for r in load_records(ws, src)}
    assert not set(held) & train_ids and set(held) | train_ids == source_ids  # a split, by record id
    cat = ws.catalog()
    assert any(e["parent"] == src for e in cat.query("SELECT parent FROM lineage WHERE child = ?", [h.train_version]))
    removed = cat.query("SELECT record_id, reason FROM removals WHERE version = ?", [h.train_version])
    assert sorted(r["record_id"] for r in removed) == sorted(held)
    assert {r["reason"] for r in removed} == {"heldout:toy_heldout"}
    # the same rows every time (a keyed hash of the record id), and the no_think flag as trained
    rows = {row["id"]: row for row in h.suite.rows("core")}
    no_think = [r for r in load_records(ws, src) if r.id in rows and r.reasoning_mode == "no_think"]
    assert all(rows[r.id]["system"] == "/no_think" and rows[r.id]["reference"].startswith("<think>")
               for r in no_think)

    (res,) = evaluate(ws, str(tiny_model_dir), "toy_heldout", **FAST)
    assert set(res.metrics) == {BPB} and res.n_items == 10 and res.gen_tokens == 0
    item = ws.catalog().result_samples(res.result_id)[0]
    assert item["prompt"].endswith("<|im_start|>assistant\n") and rows[item["item_id"]]["prompt"] in item["prompt"]
    want = manual_bpb(tiny_model_dir, item["prompt"], rows[item["item_id"]]["reference"])
    assert item["scores"][BPB] == pytest.approx(want, rel=1e-3)

    with pytest.raises(SuiteError, match="exists already"):
        make_heldout(ws, src, 5, "toy_heldout")
    with pytest.raises(SuiteError, match="fewer than --rows 40"):
        make_heldout(ws, src, 40, "too_many")


def test_a_run_trained_on_heldout_rows_is_refused(ws, tiny_model_dir):
    from workbench.train import train

    src = save_version(ws, _records(12, 0), "toy", "ingest").id
    h = make_heldout(ws, src, 4, "toy_ho")
    leaky = train(ws, src, str(tiny_model_dir), TRAIN, progress=False)
    with pytest.raises(EvalError, match=r"trained on 4 row\(s\) that suite toy_ho holds out"):
        evaluate(ws, leaky.id, "toy_ho", **FAST)
    assert not ws.catalog().eval_results(leaky.id)  # nothing stored
    clean = train(ws, h.train_version, str(tiny_model_dir), TRAIN, progress=False)
    (res,) = evaluate(ws, clean.id, "toy_ho", **FAST)
    assert res.n_items == 4 and res.metrics[BPB] > 0


def test_cli_heldout(ws, tmp_path):
    rows = [{"messages": r.messages} for r in _records(16, 0)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_cli_here("data", "ingest", str(path), "--name", "mine")
    out = run_cli_here("eval", "heldout", "mine", "--rows", "5", "--name", "mine_ho")
    assert "5 held-out rows" in out.stdout and "mine-without-mine_ho" in out.stdout
    listed = run_cli_here("eval", "suites")
    assert "mine_ho" in listed.stdout
    bad = run_cli_here("eval", "heldout", "mine", "--rows", "50", "--name", "other", check=False)
    assert bad.returncode == 2 and "fewer than --rows 50" in bad.stderr + bad.stdout
