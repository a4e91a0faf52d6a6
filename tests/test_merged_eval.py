"""A run is evaluated with its LoRA adapter merged into the base weights (in memory).

Merged and unmerged are the same function up to float rounding: W·x + B·(A·x)·s against
(W + s·B·A)·x. These tests run both on the tiny model's suites and compare item by item:
greedy responses, and the reference's bits per byte within a tolerance. Where rounding
flips a greedy token, the test counts the items and prints them; it allows at most one
in ten (random tiny weights have near-ties a trained model rarely has).
"""

from __future__ import annotations

import pytest

from workbench.evals import runner
from workbench.evals.likelihood import BPB
from workbench.evals.runner import evaluate
from workbench.evals.suites import select

SUITES = "think_follow,semsim,gsm_style"
LIMIT, MAX_GEN = 6, 12
BPB_TOL = 1e-4  # bits per byte; float32 rounding of the merge is ~1e-6 here


@pytest.fixture
def run_id(ws, tiny_model_dir, tmp_path):
    """A finished run whose adapter is far from zero (B initialised at random, not at 0)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cat = ws.catalog()
    adapter = tmp_path / "run" / "adapter"
    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                          "gate_proj", "up_proj", "down_proj"],
                                      init_lora_weights=False))
    model.save_pretrained(adapter)
    rid = "run-merged"
    cat.start_run({"id": rid, "version_id": "v-test", "base_model": str(tiny_model_dir),
                   "base_model_path": str(tiny_model_dir), "base_model_hash": "tiny", "run_dir": str(adapter.parent),
                   "adapter_dir": str(adapter), "mode": "lora-fp32", "config": {}, "seed": 0})
    cat.finish_run(rid)
    return rid


def _items(lm, suites: str) -> dict[tuple[str, str], dict]:
    out = {}
    for suite in select(suites, "smoke"):
        run = runner._run_suite(lm, suite, "smoke", LIMIT, MAX_GEN)
        for s in run.samples:
            out[(suite.name, s["item_id"])] = s
    return out


def compare(a: dict, b: dict) -> dict:
    """Items whose response differs, and the largest |bits per byte| difference, between two runs."""
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k]["response"] != b[k]["response"]]
    bpb = [abs(a[k]["scores"][BPB] - b[k]["scores"][BPB]) for k in a if BPB in a[k]["scores"]]
    return {"n": len(a), "differ": differ, "max_bpb_diff": max(bpb) if bpb else 0.0, "n_bpb": len(bpb)}


def test_merged_outputs_equal_the_unmerged_adapters(ws, run_id, tiny_model_dir):
    runner._prepare_offline()
    target = runner.resolve_target(ws, run_id)
    merged = runner._load_lm(target, 4, "hf", merge=True)
    unmerged = runner._load_lm(target, 4, "hf", merge=False)
    # the merged model is a plain transformers model: no peft wrapper, no LoRA modules left
    assert type(merged.model).__name__ == "LlamaForCausalLM"
    assert not any("lora_" in n for n, _ in merged.model.named_modules())
    assert any("lora_A" in n for n, _ in unmerged.model.named_modules())

    got, want = _items(merged, SUITES), _items(unmerged, SUITES)
    cmp = compare(got, want)
    print(f"\nmerged vs unmerged: {len(cmp['differ'])}/{cmp['n']} responses differ, "
          f"{cmp['n_bpb']} bits-per-byte scores within {cmp['max_bpb_diff']:.2e}")
    for k in cmp["differ"]:
        print(f"  {k}: merged {got[k]['response']!r} vs unmerged {want[k]['response']!r}")
    assert cmp["n_bpb"] >= LIMIT * 2  # semsim and think_follow carry a reference
    assert cmp["max_bpb_diff"] < BPB_TOL
    assert len(cmp["differ"]) <= cmp["n"] // 10
    # per-item generation scores agree wherever the response does
    for k in got:
        if k not in cmp["differ"]:
            assert {m: v for m, v in got[k]["scores"].items() if m != BPB} == \
                   {m: v for m, v in want[k]["scores"].items() if m != BPB}

    # and the adapter matters: the base model scores the references differently
    base = _items(runner._load_lm(runner.resolve_target(ws, str(tiny_model_dir)), 4, "hf"), SUITES)
    shift = compare(got, base)
    assert shift["max_bpb_diff"] > 100 * BPB_TOL, shift


def test_evaluate_merges_a_runs_adapter_and_keeps_its_key(ws, run_id, monkeypatch):
    loaded = []
    real = runner._load_lm

    def spy(target, batch_size, backend="hf", merge=True, early_stop=True):
        lm = real(target, batch_size, backend, merge, early_stop)
        loaded.append(lm)
        return lm

    monkeypatch.setattr(runner, "_load_lm", spy)
    key_before = runner.model_key(ws, run_id)
    (r,) = evaluate(ws, run_id, suites="think_follow", limit=2, max_gen_toks=8, batch_size=4, progress=False)
    assert r.model_key == key_before and r.run_id == run_id
    assert r.settings["adapter"] == "merged"
    assert not any("lora_" in n for n, _ in loaded[0].model.named_modules())
    # the adapter setting is recorded but not keyed: an unmerged evaluation finds the same result
    (again,) = evaluate(ws, run_id, suites="think_follow", limit=2, max_gen_toks=8, batch_size=4, progress=False,
                        merge=False)
    assert again.cached and again.result_id == r.result_id and len(loaded) == 1
