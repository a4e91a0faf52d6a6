"""Using a finished run: merge its adapter into the base model, or locate it for inference."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from workbench.core.models import load_merged
from workbench.train.config import TrainError
from workbench.core.workspace import Workspace

def merge_run(ws: Workspace, run_id: str, out_dir: str | os.PathLike) -> Path:
    """Merge a finished run's adapter into its base model; writes safetensors + tokenizer to out_dir."""
    run, adapter = _finished(ws, run_id, "nothing to merge yet")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise TrainError(f"{out} exists and is not empty; choose a new directory")
    # Merge into full-precision weights, also for QLoRA runs: a merge into 4-bit weights would round.
    dtype = "bfloat16" if run["mode"] == "lora-bf16" else "float32"
    merged = load_merged(run["base_model_path"], str(adapter), dtype=dtype)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(tmp)
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return out


def load_for_inference(ws: Workspace, run_id: str) -> tuple[str, Path]:
    """(base model path, adapter dir) of a finished run: what `PeftModel.from_pretrained` or
    lm-eval's HF backend (`pretrained=BASE,peft=ADAPTER`) needs."""
    run, adapter = _finished(ws, run_id, "no adapter to load yet")
    return run["base_model_path"], adapter


def _finished(ws: Workspace, run_id: str, otherwise: str) -> tuple[dict, Path]:
    """The run's catalog row and adapter dir; TrainError when it is not finished or the adapter is gone."""
    run = ws.catalog().get_run(run_id)
    if run["status"] != "finished":
        raise TrainError(f"run {run['id']} is {run['status']}, not finished: {otherwise}")
    adapter = Path(run["adapter_dir"])
    if not (adapter / "adapter_config.json").exists():
        raise TrainError(f"run {run['id']}: adapter missing at {adapter}")
    return run, adapter
