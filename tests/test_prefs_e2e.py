"""End to end on the bundled SmolLM2-135M-Instruct: DPO on the example pairs (curated), GRPO on
the example prompts with the suites' rewards."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]


def test_bundled_model_dpo_moves_the_margin_and_grpo_scores_rewards(ws):
    from workbench.curate.recipe import curate
    from workbench.data.ingest import ingest
    from workbench.train import train

    ingest(ws, REPO / "datasets" / "example_preferences.jsonl", "prefs")
    pairs = curate(ws, "prefs", REPO / "examples" / "recipes" / "preferences.yaml", "prefs-clean").version.id
    dpo = train(ws, pairs, None, {"method": "dpo", "max_steps": 8, "batch_size": 4, "lr": 5e-4, "max_length": 256,
                                  "save_steps": 8, "sanity_prompts": 2, "sanity_max_new_tokens": 24}, progress=False)
    cat = ws.catalog()
    steps = [s for s in cat.run_steps(dpo.id) if s["loss"] is not None]
    assert len(steps) == 8 and abs(steps[0]["metrics"]["rewards/margins"]) < 1e-3  # policy == reference at step 1
    # chosen pulled above rejected, relative to the base: on average over the trained steps (each step's
    # margin is one batch of 4 pairs, before its update: a single batch swings by +-0.5, so not the last few)
    trained = [s["metrics"] for s in steps[1:]]
    assert sum(m["rewards/margins"] for m in trained) / len(trained) > 0, trained
    assert sum(m["rewards/accuracies"] for m in trained) / len(trained) > 0.5, trained

    prompts = ingest(ws, REPO / "datasets" / "example_prompts.jsonl", "prompts").version.id
    grpo = train(ws, prompts, None, {"method": "grpo", "max_steps": 2, "batch_size": 4, "lr": 5e-5, "max_length": 256,
                                     "save_steps": 2, "sanity_prompts": 1, "sanity_max_new_tokens": 16,
                                     "grpo": {"rewards": ["gsm_answer", "think_format", "ifeval"], "num_generations": 4,
                                              "max_completion_length": 48}}, progress=False)
    steps = [s for s in cat.run_steps(grpo.id) if s["loss"] is not None]
    assert len(steps) == 2 and all("reward" in s["metrics"] for s in steps)
    assert cat.get_run(grpo.id)["status"] == "finished" and (grpo.adapter_dir / "adapter_config.json").exists()
