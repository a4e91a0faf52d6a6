"""The post-training sanity check: greedy generations on held-out prompts, format and stop checked.

They are a look at one run, not a measurement, so an ablation leaves them out (its evals measure
every run): the ablation's executor runs each train task with WORKBENCH_SANITY=0 unless
`workbench ablate --sanity` asks for them. The setting is not part of the run's config or id:
the same run, with or without its sanity generations (its row then has none)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.core import reasoning
from workbench.train.render import Prepared, conversation

# Held-out prompts for the post-training sanity check when the data has no eval split:
# never in any training set, so they show whether the format and the stop are learnt.
SANITY_PROMPTS = [
    "Name three primary colors.",
    "What is 7 times 8? Answer briefly.",
    "Write one sentence about the sea.",
]


SANITY_ENV = "WORKBENCH_SANITY"  # "0": no sanity generations in this process (an ablation's default)


def enabled() -> bool:
    return os.environ.get(SANITY_ENV, "1") != "0"


@contextmanager
def switched(on: bool) -> Iterator[None]:
    """Sanity generations on or off while the block runs (and in the processes it starts)."""
    before = os.environ.get(SANITY_ENV)
    os.environ[SANITY_ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SANITY_ENV, None)
        else:
            os.environ[SANITY_ENV] = before


def sanity_prompts(data: Prepared, n: int) -> list[dict]:
    """Prompts from the eval split when there is one, else fixed prompts outside any dataset;
    none where sanity generations are switched off (`enabled`)."""
    if n <= 0 or not enabled():
        return []
    out = []
    for rec in data.eval_records[:n]:
        messages = conversation(rec)
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))  # prompt-only: all
        out.append({"record_id": rec.id, "mode": rec.reasoning_mode, "messages": messages[:last]})
    modes = sorted({r.reasoning_mode for r in data.eval_records} | {None}, key=str)
    for i, prompt in enumerate(SANITY_PROMPTS[: max(0, n - len(out))]):
        mode = modes[i % len(modes)]
        msgs = [{"role": "user", "content": prompt}]
        if mode in reasoning.FLAGS:
            msgs.insert(0, {"role": "system", "content": reasoning.FLAGS[mode]})
        out.append({"record_id": None, "mode": mode, "messages": msgs})
    return out


def sanity_generations(model, tokenizer, prompts: list[dict], max_new_tokens: int) -> list[dict]:
    """Greedy, left-padded batch generation; records whether each output stopped and fits its mode."""
    import torch

    if not prompts:
        return []
    texts = [tokenizer.apply_chat_template(p["messages"], tokenize=False, add_generation_prompt=True) for p in prompts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side = side
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    if was_training:
        model.train()
    results = []
    for p, ids in zip(prompts, out[:, enc["input_ids"].shape[1]:]):
        ids = ids.tolist()
        stopped = tokenizer.eos_token_id in ids
        if stopped:
            ids = ids[: ids.index(tokenizer.eos_token_id)]
        text = tokenizer.decode(ids, skip_special_tokens=True)
        fmt_ok = reasoning.fits_mode(text, p["mode"])
        results.append({"record_id": p["record_id"], "mode": p["mode"], "prompt": p["messages"][-1]["content"],
                        "output": text, "new_tokens": len(ids), "stopped": stopped, "format_ok": fmt_ok})
    return results
