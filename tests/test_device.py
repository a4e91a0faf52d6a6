"""The GPU path's decisions, checked on CPU: training mode and the bitsandbytes config it passes,
the generation backend (vLLM or HF) and its fallback, the lm-eval arguments per backend, and the
backend in the eval key. Tests that need CUDA are marked `gpu` and skip without it."""

from __future__ import annotations

import json

import pytest
import torch

from workbench.core.device import (Accelerator, bnb_config, generation_backend, load_kwargs, mode_placement, placement,
                              vllm_lm_args)
from workbench.core.models import ModelError

H100 = Accelerator(True, "NVIDIA H100", bf16=True, vram_mb=80_000, count=1)
T4 = Accelerator(True, "Tesla T4", bf16=False, vram_mb=15_000, count=1)
CPU = Accelerator(False)


def test_training_mode_per_accelerator():
    p = placement("auto", H100)
    assert (p.mode, p.device, p.compute_dtype) == ("qlora-nf4", "cuda", "bfloat16") and "H100" in p.reason
    assert p.quantization == {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
                              "bnb_4bit_compute_dtype": "bfloat16"}
    assert placement("auto", T4).compute_dtype == "float16"  # no bf16 on a T4
    c = placement("auto", CPU)
    assert (c.mode, c.device, c.compute_dtype, c.quantization) == ("lora-fp32", "cpu", "float32", None)
    assert placement("none", H100).mode == "lora-bf16" and placement("none", T4).mode == "lora-fp32"
    forced = placement("nf4", CPU)
    assert forced.mode == "qlora-nf4" and forced.quantization["bnb_4bit_compute_dtype"] == "float32" and "slower" in forced.reason
    json.dumps(p.record())  # recorded in the run's meta as plain JSON
    with pytest.raises(ModelError, match="unknown quant 'int3'"):
        placement("int3", CPU)


def test_bitsandbytes_config_passed():
    kw = load_kwargs(placement("auto", H100))
    bnb = kw["quantization_config"]
    assert type(bnb).__name__ == "BitsAndBytesConfig"
    assert bnb.load_in_4bit and bnb.bnb_4bit_quant_type == "nf4" and bnb.bnb_4bit_use_double_quant
    assert bnb.bnb_4bit_compute_dtype == torch.bfloat16 and kw["dtype"] == torch.bfloat16 and kw["device_map"] == {"": 0}
    plain = load_kwargs(placement("auto", CPU))
    assert plain == {"dtype": torch.float32} and bnb_config(placement("auto", CPU)) is None


def test_generation_backend_choice_and_fallback(monkeypatch):
    monkeypatch.delenv("WORKBENCH_GEN_BACKEND", raising=False)
    assert generation_backend("auto", H100, has_vllm=True).name == "vllm"
    b = generation_backend("auto", H100, has_vllm=False)
    assert b.name == "hf" and "not installed" in b.reason
    b = generation_backend("auto", CPU, has_vllm=True)
    assert b.name == "hf" and "no CUDA" in b.reason
    assert generation_backend("hf", H100, has_vllm=True).name == "hf"
    with pytest.raises(ModelError, match="vllm asked for, but vllm is not installed"):
        generation_backend("vllm", H100, has_vllm=False)
    with pytest.raises(ModelError, match="unknown generation backend 'tgi'"):
        generation_backend("tgi", CPU)
    monkeypatch.setenv("WORKBENCH_GEN_BACKEND", "hf")
    assert generation_backend(None, H100, has_vllm=True).name == "hf"
    # this machine: whatever is installed, without CUDA the real default is HF
    if not torch.cuda.is_available():
        monkeypatch.delenv("WORKBENCH_GEN_BACKEND")
        assert generation_backend().name == "hf"


def test_lm_eval_arguments_per_backend(tmp_path):
    from workbench.evals.runner import Target, lm_args

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 24}))
    a = vllm_lm_args("/models/base", str(adapter), 16, H100)
    assert a["pretrained"] == "/models/base" and a["lora_local_path"] == str(adapter) and a["max_lora_rank"] == 32
    assert a["dtype"] == "bfloat16" and 0 < a["gpu_memory_utilization"] <= 0.9
    assert "lora_local_path" not in vllm_lm_args("/models/base", None, "auto", T4) and vllm_lm_args("/m", None, 1, T4)["dtype"] == "float16"
    t = Target("run", "/models/base", str(adapter), "run", "m-x")
    hf = lm_args(t, 8, "hf")
    assert hf["peft"] == str(adapter) and hf["batch_size"] == 8 and "lora_local_path" not in hf


def test_backend_is_in_the_eval_key():
    from workbench.evals.runner import cache_key, settings_for
    from workbench.evals.suites import select

    suite = select(["think_follow"], "smoke")[0]
    hf, vl = settings_for("smoke", None, backend="hf"), settings_for("smoke", None, backend="vllm")
    assert hf["backend"] == "hf" and cache_key("m-x", suite, hf) != cache_key("m-x", suite, vl)


def test_eval_falls_back_to_hf_without_vllm(ws, tiny_model_dir, monkeypatch):
    """No vllm installed here (or no CUDA): a real eval runs on HF and records the backend."""
    from workbench.evals.runner import evaluate

    monkeypatch.delenv("WORKBENCH_GEN_BACKEND", raising=False)
    [r] = evaluate(ws, str(tiny_model_dir), ["think_follow"], "smoke", limit=2, max_gen_toks=4, progress=False)
    assert r.settings["backend"] == "hf"
    row = ws.catalog().get_eval_result(r.result_id)
    assert row["settings"]["backend"] == "hf"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_nf4_model_loads_on_cuda(tiny_model_dir):
    from workbench.core.models import load_base_model

    model = load_base_model(str(tiny_model_dir), mode_placement("qlora-nf4").mode)
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    assert next(model.parameters()).device.type == "cuda"
