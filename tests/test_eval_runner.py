"""The eval runner on a tiny random model: real lm-eval runs, catalog rows, cache, offline, CLI.

Garbage responses are fine here: these tests check plumbing (what is stored, what is
re-run, what fails clearly); scoring itself is tested on hand-written responses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli_here
from workbench.evals import runner
from workbench.evals.runner import EvalError, evaluate

REPO = Path(__file__).resolve().parents[1]
FAST = {"limit": 2, "max_gen_toks": 8, "batch_size": 4, "progress": False}


def test_evaluate_stores_items_and_second_call_is_cached(ws, tiny_model_dir, monkeypatch):
    results = evaluate(ws, str(tiny_model_dir), **FAST)
    assert {r.suite for r in results} >= {"ifeval_style", "gsm_style", "semsim", "think_follow"}
    cat = ws.catalog()
    for r in results:
        assert not r.cached and r.n_items == 2 and r.model_key.startswith("m-")
        assert r.metrics and all(isinstance(v, float) for v in r.metrics.values())
        items = cat.eval_samples(r.model_key, r.suite, "smoke")
        assert len(items) == 2
        for it in items:
            assert it["prompt"].startswith("<|im_start|>")  # the model's chat template was applied
            assert isinstance(it["response"], str) and it["scores"]
        # readers accept the target as asked too
        assert cat.eval_samples(str(tiny_model_dir), r.suite, "smoke") == items
        assert cat.result_samples(r.result_id) == items
    think = next(r for r in results if r.suite == "think_follow")
    prompts = [it["prompt"] for it in cat.eval_samples(think.model_key, "think_follow", "smoke")]
    assert any("system\n/think<" in p for p in prompts) and any("system\n/no_think<" in p for p in prompts)
    assert len(cat.eval_results(results[0].model_key)) == len(results)
    assert runner.model_key(ws, str(tiny_model_dir)) == results[0].model_key

    # asking again loads no model and generates nothing
    monkeypatch.setattr(runner, "_load_lm", lambda *a, **k: pytest.fail("model loaded for a cached result"))
    again = evaluate(ws, str(tiny_model_dir), **FAST)
    assert [r.cached for r in again] == [True] * len(results)
    assert [r.metrics for r in again] == [r.metrics for r in results]
    assert len(cat.eval_results()) == len(results)  # no duplicate rows


def test_editing_a_suite_file_reruns_it(ws, tiny_model_dir, tmp_path, monkeypatch):
    root = tmp_path / "suites"
    shutil.copytree(REPO / "evalsuites" / "think_follow", root / "think_follow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("WORKBENCH_SUITES", str(root))
    first = evaluate(ws, str(tiny_model_dir), suites="think_follow", **FAST)[0]
    assert evaluate(ws, str(tiny_model_dir), suites="think_follow", **FAST)[0].cached
    data = root / "think_follow" / "data.jsonl"
    data.write_text(data.read_text().replace("What is 17 plus 26?", "What is 18 plus 26?"))
    edited = evaluate(ws, str(tiny_model_dir), suites="think_follow", **FAST)[0]
    assert not edited.cached and edited.result_id != first.result_id
    items = ws.catalog().eval_samples(edited.model_key, "think_follow", "smoke")
    assert "18 plus 26" in items[0]["prompt"]


def test_empty_responses_are_failures_not_crashes(ws, tiny_model_dir, tmp_path):
    """A model whose every next token is <|endoftext|> (decoded as ''): all scores 0, no exception."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    mute = tmp_path / "mute-model"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.model.norm.weight.zero_()  # hidden state 0 -> all logits equal -> argmax token 0
    model.save_pretrained(mute)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(mute)
    results = evaluate(ws, str(mute), suites="ifeval_style,gsm_style,semsim", **FAST)
    for r in results:
        for it in ws.catalog().eval_samples(r.model_key, r.suite, "smoke"):
            assert it["response"].strip() == ""
            # generation scores are failures; the reference's likelihood is still measured
            assert all(v == 0.0 for k, v in it["scores"].items() if k not in ("n_instructions", "bits_per_byte")), it
            assert it["scores"].get("bits_per_byte", 1.0) > 0
    assert next(r for r in results if r.suite == "semsim").metrics["similarity"] == 0.0


def test_bad_targets_and_suites_fail_clearly(ws, tiny_model_dir):
    from workbench.evals.suites import SuiteError

    with pytest.raises(EvalError, match="neither a training run id"):
        evaluate(ws, "no-such-run-or-model", **FAST)
    with pytest.raises(SuiteError, match="unknown suite"):
        evaluate(ws, str(tiny_model_dir), suites="nope", **FAST)
    with pytest.raises(SuiteError, match="unknown layer"):
        evaluate(ws, str(tiny_model_dir), layer="medium", **FAST)
    assert ws.catalog().eval_results() == []


def test_training_run_is_loaded_with_its_peft_adapter(ws, tiny_model_dir, tmp_path):
    """A run id resolves to base + adapter; its key differs from the base model's."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cat = ws.catalog()
    if not hasattr(cat, "start_run"):
        pytest.skip("training runs are not in the catalog yet")
    adapter = tmp_path / "run" / "adapter"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(adapter)
    run_id = "run-evaltest"
    cat.start_run({"id": run_id, "version_id": "v-test", "base_model": str(tiny_model_dir),
                   "base_model_path": str(tiny_model_dir), "base_model_hash": "tiny", "run_dir": str(adapter.parent),
                   "adapter_dir": str(adapter), "mode": "lora-fp32", "config": {}, "seed": 0})
    with pytest.raises(EvalError, match="not finished"):
        evaluate(ws, run_id, suites="gsm_style", **FAST)
    cat.finish_run(run_id)
    (r,) = evaluate(ws, run_id, suites="gsm_style", **FAST)
    assert r.run_id == run_id and r.model_key != runner.model_key(ws, str(tiny_model_dir))
    assert len(cat.eval_samples(run_id, "gsm_style", "smoke")) == 2
    assert cat.eval_results(run_id)[0]["run_id"] == run_id


SITECUSTOMIZE = """
import socket
def _blocked(*a, **k):
    raise OSError("network blocked by test")
socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
"""

OFFLINE_SCRIPT = """
import json, sys
from workbench.core.workspace import Workspace
from workbench.evals.runner import evaluate
from workbench.evals import scoring
rs = evaluate(Workspace.default(), sys.argv[1], suites="ifeval_style,gsm_style", limit=2, max_gen_toks=8,
              batch_size=4, progress=False)
doc = {"id": "x", "key": 1, "prompt": "p", "instruction_id_list": ["length_constraints:number_sentences"],
       "kwargs": [{"num_sentences": 3, "relation": "less than"}]}
print(json.dumps({"n": [r.n_items for r in rs],
                  "two": scoring.ifeval_scores(doc, "Dr. Smith came at 5 p.m. on Jan. 3. He left."),
                  "four": scoring.ifeval_scores(doc, "One. Two. Three. Four.")}))
"""


def test_runs_with_the_network_blocked(ws, tiny_model_dir, tmp_path):
    """No socket can connect; NLTK_DATA points at an empty dir, so punkt_tab must be written offline."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}  # the runner must set them itself
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), NLTK_DATA=str(tmp_path / "nltk"),
               WORKBENCH_HOME=str(ws.home))
    proc = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, str(tiny_model_dir)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n"] == [2, 2]
    assert out["two"]["prompt_level_strict_acc"] == 1.0 and out["four"]["prompt_level_strict_acc"] == 0.0
    assert (tmp_path / "nltk" / "tokenizers" / "punkt_tab" / "english" / "ortho_context.tab").exists()
    check = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('pypi.org', 443))"],
                           capture_output=True, text=True, env=env)
    assert check.returncode != 0 and "network blocked" in check.stderr  # the block was real


def test_cli_eval_and_compare(ws, tiny_model_dir):
    out = run_cli_here("eval", str(tiny_model_dir), "--suites", "think_follow,gsm_style", "--limit", "2",
                       "--max-gen-toks", "8", "--json").stdout
    rows = json.loads(out[out.index("["):])
    assert {r["suite"] for r in rows} == {"think_follow", "gsm_style"}
    again = run_cli_here("eval", str(tiny_model_dir), "--suites", "think_follow,gsm_style", "--limit", "2",
                         "--max-gen-toks", "8").stdout
    assert "cached" in again
    comp = run_cli_here("compare", str(tiny_model_dir), str(tiny_model_dir), "--json").stdout
    comps = json.loads(comp[comp.index("["):])
    assert comps and not any(c["significant"] for c in comps)  # A/A through the whole stack
    assert {c["suite"] for c in comps} == {"think_follow", "gsm_style"}
    bad = run_cli_here("eval", str(tiny_model_dir), "--suites", "nope", check=False)
    assert bad.returncode == 2 and "unknown suite" in bad.stderr


def test_compare_needs_results_on_both_sides(ws, tiny_model_dir):
    from workbench.evals.stats import compare_runs

    with pytest.raises(EvalError):
        compare_runs(ws, str(tiny_model_dir), "never-evaluated")
