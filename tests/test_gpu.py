"""The GPU path on a real CUDA device: nf4 QLoRA training, HF and vLLM generation for evals,
and `train --launcher accelerate` across GPUs. Every test here is marked `gpu` and skips without
CUDA (`benchmarks/gpu_check.py` runs them with `-m gpu` on a lent GPU machine). Their CPU-side
counterparts (the decisions and configs) are in tests/test_device.py and tests/test_launch.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from workbench.data.records import make_record
from workbench.data.store import save_version

CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs a CUDA device (none here)")]
REPO = Path(__file__).resolve().parents[1]
CONFIG = {"max_steps": 2, "batch_size": 4, "max_length": 128, "sanity_prompts": 0, "save_steps": 1000}


def _version(ws, n: int = 12) -> str:
    rows = [json.loads(line) for line in (REPO / "datasets" / "example_clean.jsonl").read_text().splitlines() if line.strip()]
    return save_version(ws, [make_record(r["messages"]) for r in rows[:n]], "gpu-check", "ingest").id


def test_nf4_qlora_trains_on_cuda_and_records_it(ws, tiny_model_dir):
    from workbench.train import train

    r = train(ws, _version(ws), str(tiny_model_dir), CONFIG, progress=False)
    run = ws.catalog().get_run(r.id)
    assert run["status"] == "finished" and run["mode"] == "qlora-nf4"
    p = run["meta"]["placement"]
    assert p["device"] == "cuda" and p["quantization"]["bnb_4bit_quant_type"] == "nf4"
    assert p["compute_dtype"] == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    assert run["tokens_per_s"] > 0 and 0 < run["peak_mem_mb"] < torch.cuda.get_device_properties(0).total_memory / 2**20
    assert (Path(run["adapter_dir"]) / "adapter_config.json").exists()


def test_eval_of_a_qlora_run_generates_on_cuda_with_hf(ws, tiny_model_dir):
    from workbench.evals.runner import evaluate
    from workbench.train import train

    run_id = train(ws, _version(ws), str(tiny_model_dir), CONFIG, progress=False).id
    [r] = evaluate(ws, run_id, ["think_follow"], "smoke", limit=4, max_gen_toks=8, progress=False, backend="hf")
    assert r.settings["backend"] == "hf" and r.n_items == 4 and r.gen_tokens > 0
    assert ws.catalog().get_eval_result(r.result_id)["settings"]["backend"] == "hf"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (pip install -e .[gpu])")
def test_eval_generates_with_vllm_and_keys_it_apart_from_hf(ws):
    from workbench.evals.runner import evaluate

    # the bundled SmolLM2-135M: vLLM's attention kernels need a usual head size (the tiny test model's 16 is not)
    [v] = evaluate(ws, "smollm2-135m-instruct", ["think_follow"], "smoke", limit=4, max_gen_toks=16, progress=False,
                   backend="vllm")
    [h] = evaluate(ws, "smollm2-135m-instruct", ["think_follow"], "smoke", limit=4, max_gen_toks=16, progress=False,
                   backend="hf")
    assert v.settings["backend"] == "vllm" and h.settings["backend"] == "hf" and v.result_id != h.result_id
    assert v.n_items == h.n_items == 4 and v.gen_tokens > 0


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_accelerate_launch_trains_one_run_across_two_gpus(ws, tiny_model_dir, tmp_path):
    import yaml

    version = _version(ws, 16)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    proc = subprocess.run([sys.executable, "-m", "workbench", "train", "run", "--data", version, "--base",
                           str(tiny_model_dir), "--config", str(config), "--launcher", "accelerate", "--processes", "2"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [row] = ws.catalog().query("SELECT id FROM runs")
    run = ws.catalog().get_run(row["id"])
    assert run["status"] == "finished" and run["mode"] == "qlora-nf4" and run["meta"]["data_parallel"] == 2
