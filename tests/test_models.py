"""Base models: LoRA targets from actual linear layers, inspection, identity, device/quant choice."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.conftest import run_cli
from workbench.core.hashing import model_identity
from workbench.core.models import ModelError, choose_mode, find_lora_targets, model_info, resolve_model


def meta_model(config):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def test_targets_found_from_linear_layers_across_families():
    from transformers import GPT2Config, LlamaConfig, Phi3Config

    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=100)
    llama = meta_model(LlamaConfig(**small, num_key_value_heads=1))
    assert find_lora_targets(llama) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    phi3 = meta_model(Phi3Config(**small, num_key_value_heads=2, pad_token_id=0))
    assert find_lora_targets(phi3) == ["o_proj", "qkv_proj", "down_proj", "gate_up_proj"]  # fused projections
    gpt2 = meta_model(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=100))
    targets = find_lora_targets(gpt2)
    assert {"c_attn", "c_proj", "c_fc"} == set(targets)
    for model in (llama, phi3, gpt2):
        assert "lm_head" not in find_lora_targets(model)


def test_no_known_linear_layer_is_a_clear_error():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mixer = torch.nn.Linear(4, 4)
            self.lm_head = torch.nn.Linear(4, 4)

    with pytest.raises(ModelError, match="list target_modules explicitly"):
        find_lora_targets(Odd())


def test_model_info_and_cli(tiny_model_dir):
    info = model_info(str(tiny_model_dir))
    assert info["architecture"] == "LlamaForCausalLM" and info["chat_template"] is True
    assert info["layers"] == 2 and 3_000_000 < info["parameters"] < 4_000_000
    assert "lm_head" in info["linear_layers"] and "lm_head" not in info["lora_targets"]
    out = json.loads(run_cli("models", "show", str(tiny_model_dir), "--json").stdout)
    assert out["lora_targets"] == info["lora_targets"]
    listed = run_cli("models", "list").stdout
    assert "smollm2-135m-instruct" in listed
    bad = run_cli("models", "show", "no-such-model", check=False)
    assert bad.returncode == 2 and "unknown model" in bad.stderr


def test_identity_follows_content(tiny_model_dir, tmp_path):
    a = model_identity(str(tiny_model_dir))
    assert a == model_identity(str(tiny_model_dir)) and a["path"] == str(tiny_model_dir)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_identity(str(copy))["hash"] == a["hash"]  # same files, same identity wherever they live
    cfg = json.loads((copy / "config.json").read_text())
    cfg["rms_norm_eps"] = 1e-5 if cfg.get("rms_norm_eps") != 1e-5 else 1e-6
    (copy / "config.json").write_text(json.dumps(cfg))
    assert model_identity(str(copy))["hash"] != a["hash"]


def test_resolve_and_mode_choice(tmp_path):
    with pytest.raises(ModelError, match="without config.json"):
        resolve_model(str(tmp_path))
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    mode, why = choose_mode("auto")
    if not torch.cuda.is_available():
        assert mode == "lora-fp32" and "no CUDA" in why
        assert choose_mode("nf4")[0] == "qlora-nf4"
    with pytest.raises(ModelError, match="unknown quant"):
        choose_mode("int3")
