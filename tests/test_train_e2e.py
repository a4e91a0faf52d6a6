"""End to end on the bundled SmolLM2-135M-Instruct: a few real steps on the example data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]


def test_bundled_model_learns_and_adapter_reloads(ws):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.data.ingest import ingest
    from workbench.train import train

    version = ingest(ws, str(REPO / "datasets" / "example_clean.jsonl"), "clean").version.id
    config = {"max_steps": 12, "batch_size": 4, "lr": 1e-3, "max_length": 256, "save_steps": 6,
              "eval_fraction": 0.05, "eval_steps": 6, "sanity_prompts": 2, "sanity_max_new_tokens": 32}
    r = train(ws, version, None, config, progress=False)
    cat = ws.catalog()
    run = cat.get_run(r.id)
    assert run["status"] == "finished" and run["base_model"] == "smollm2-135m-instruct"
    losses = [s["loss"] for s in cat.run_steps(r.id) if s["loss"] is not None]
    assert len(losses) == 12
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first, f"loss did not go down: {losses}"
    evals = [s["eval_loss"] for s in cat.run_steps(r.id) if s["eval_loss"] is not None]
    assert len(evals) == 2
    assert run["sanity"] and all(g["new_tokens"] > 0 for g in run["sanity"])

    tok = AutoTokenizer.from_pretrained(r.adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(run["base_model_path"]).eval()
    x = tok.apply_chat_template([{"role": "user", "content": "Why is the sky blue?"}], add_generation_prompt=True,
                                return_tensors="pt", return_dict=True)
    with torch.no_grad():
        before = base(**x).logits
        model = PeftModel.from_pretrained(base, str(r.adapter_dir)).eval()
        after = model(**x).logits
    assert torch.isfinite(after).all() and not torch.allclose(before, after, atol=1e-4)
