"""SFT training of a LoRA / QLoRA adapter on one dataset version: trl's SFTTrainer + peft.

A run is named by a hash of (dataset version, base model identity, resolved config, mode,
seed). Its directory `runs/<id>/` holds the resolved config, Trainer checkpoints while it
trains, and at the end `adapter/` (a plain peft adapter plus tokenizer, loadable with
`PeftModel.from_pretrained` or lm-eval's `pretrained=BASE,peft=ADAPTER`) and `sanity.json`.

- Asking for a finished run returns it without training.
- A run that was killed resumes from its last checkpoint; the catalog keeps one row for it.
- Records are rendered with the tokenizer's chat template; the loss covers assistant turns
  only (content and the end-of-turn token, so the model learns to stop). We build the labels
  ourselves, by character offsets, because ChatML templates carry no generation markers, and
  hand SFTTrainer a pre-tokenized dataset (it still truncates, packs and collates).
"""

from __future__ import annotations

import importlib

from workbench.train.config import TrainConfig, TrainError
from workbench.train.merge import load_for_inference, merge_run
from workbench.train.render import Prepared, check_mask_batch, conversation, prepare_data, prepare_tokenizer, render, resolve_targets
from workbench.train.sanity import SANITY_PROMPTS, sanity_generations, sanity_prompts

# workbench.train.sft is imported on first use (PEP 562): it builds its trainer callback on
# transformers' TrainerCallback, whose import takes ~10 s on 2 cores, and reading a spec (which
# checks `method:` against workbench.train.methods, in this package) must not pay for it.
_FROM_SFT = ("RunResult", "batch_fill", "last_checkpoint", "peak_memory_mb", "run_id_for", "train")

__all__ = [
    "SANITY_PROMPTS", "Prepared", "RunResult", "TrainConfig", "TrainError", "batch_fill", "check_mask_batch",
    "conversation", "last_checkpoint", "load_for_inference", "merge_run", "peak_memory_mb", "prepare_data",
    "prepare_tokenizer", "render", "resolve_targets", "run_id_for", "sanity_generations", "sanity_prompts", "train",
]


def __getattr__(name: str):
    if name not in _FROM_SFT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.sft"), name)
    globals()[name] = value
    return value
