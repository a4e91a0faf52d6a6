"""Shared fixtures: an isolated workspace, and a tiny random model for fast real training/eval."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach for the network: hub lookups fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WORKBENCH_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A fresh workspace (WORKBENCH_HOME) for one test; subprocesses inherit it."""
    from workbench.workspace import Workspace

    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return Workspace(home)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama with the bundled SmolLM2 tokenizer (ChatML template).

    Made once per test session in a few seconds; real weights, real forward passes.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbench.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, check: bool = True):
    """Run the real `workbench` console script in a subprocess."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray instance (2 CPUs) for the whole session: Ray takes many seconds to start."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (bash setup.sh installs it)")
    ctx = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 ** 2,
                   log_to_driver=False, configure_logging=False)
    yield ctx.address_info["gcs_address"]
    ray.shutdown()
