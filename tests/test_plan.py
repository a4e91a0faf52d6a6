"""Memory planning on the tiny llama: the parts add up, LoRA counts match peft's, the peak
sequence is the longest rendered record, and the suggestion keeps the examples per step."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli_here
from tests.test_train import FAST, arithmetic_records
from workbench.data.store import save_version
from workbench.train import TrainConfig, TrainError, prepare_tokenizer, render, train
from workbench.train.plan import (MIB, ModelShape, activation_bytes, apply_suggestion, estimate, plan, weights_bytes)

SMOL = ModelShape(params=134_515_008, linear_params=106_168_320, layers=30, hidden=576, intermediate=1536,
                  kv_dim=192, vocab=49152)


def test_parts_scale_as_they_should():
    assert weights_bytes(SMOL, "lora-fp32") == SMOL.params * 4 == 2 * weights_bytes(SMOL, "lora-bf16")
    assert weights_bytes(SMOL, "qlora-nf4") < 0.35 * weights_bytes(SMOL, "lora-fp32")
    one, six = activation_bytes(SMOL, 160, False), activation_bytes(SMOL, 6 * 160, False)
    assert six == pytest.approx(6 * one)
    assert activation_bytes(SMOL, 960, True) < 0.5 * six  # checkpointing keeps a layer's input, not its insides


def test_suggestion_keeps_examples_per_step_and_fits():
    cfg = TrainConfig(batch_size=6, grad_accum=1)
    roomy = estimate(SMOL, "lora-fp32", "cpu", cfg, 160, 4_884_480, 550, available=24_000)
    assert roomy.suggestion.batch_size == 6 and roomy.suggestion.grad_accum == 1 and roomy.fits
    tight = estimate(SMOL, "lora-fp32", "cpu", cfg, 160, 4_884_480, 550, available=roomy.total_mb * 0.6)
    s = tight.suggestion
    assert not tight.fits and s.batch_size < 6 and s.batch_size * s.grad_accum >= 6
    assert s.total_mb <= 0.85 * tight.available_mb
    fixed = tight.runtime_mb + tight.weights_mb + tight.lora_mb
    squeezed = estimate(SMOL, "lora-fp32", "cpu", cfg, 160, 4_884_480, 550,
                        available=(fixed + activation_bytes(SMOL, 160, True) / MIB) / 0.84)
    assert squeezed.suggestion.gradient_checkpointing and squeezed.suggestion.batch_size >= 1
    none = estimate(SMOL, "lora-fp32", "cpu", cfg, 160, 4_884_480, 550, available=fixed * 0.5)
    assert none.suggestion is None
    with pytest.raises(TrainError, match="no batch size fits"):
        apply_suggestion(cfg, none)
    assert apply_suggestion(cfg, tight).batch_size == s.batch_size


@pytest.fixture
def version(ws):
    return save_version(ws, arithmetic_records(), "toy", "ingest").id


def test_plan_of_a_real_run_and_auto_batch(ws, version, tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cfg = {**FAST, "batch_size": 4, "grad_accum": 2}
    p = plan(ws, version, str(tiny_model_dir), cfg)
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    assert p.seq_len == max(len(render(r, tok)[0]) for r in arithmetic_records())
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base_params = sum(x.numel() for x in model.parameters())  # before peft adds its layers in place
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft = get_peft_model(model, LoraConfig(r=16, target_modules=targets, task_type="CAUSAL_LM"))
    assert p.lora_params == sum(x.numel() for x in peft.parameters() if x.requires_grad)
    assert p.weights_mb == pytest.approx(base_params * 4 / MIB)
    assert p.runtime_mb > 100 and p.total_mb > p.runtime_mb + p.weights_mb
    # --auto-batch: a plan squeezed to half the activations trains with a smaller micro-batch, same examples per step
    squeezed = plan(ws, version, str(tiny_model_dir), cfg,
                    memory_mb=(p.total_mb - p.activations_mb / 2) / 0.85)
    tuned = apply_suggestion(cfg, squeezed)
    assert tuned.batch_size < 4 and tuned.batch_size * tuned.grad_accum >= 8
    run = train(ws, version, str(tiny_model_dir), tuned, progress=False)
    row = ws.catalog().get_run(run.id)
    assert row["config"]["batch_size"] == tuned.batch_size and row["config"]["grad_accum"] == tuned.grad_accum


def test_cli_plan(ws, version, tiny_model_dir, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(FAST))
    out = json.loads(run_cli_here("train", "plan", "--data", version, "--base", str(tiny_model_dir),
                                  "--config", str(cfg), "--memory", "8000", "--json").stdout)
    assert out["available_mb"] == 8000 and out["fits"] and out["suggestion"]["batch_size"] == FAST["batch_size"]
    text = run_cli_here("train", "plan", "--data", version, "--base", str(tiny_model_dir), "--config", str(cfg)).stdout
    assert "estimated peak" in text and "suggested: batch_size" in text
    bad = run_cli_here("train", "plan", "--data", version, "--base", str(tiny_model_dir), "--memory", "-5", check=False)
    assert bad.returncode == 2 and "--memory must be a positive" in bad.stdout + bad.stderr
