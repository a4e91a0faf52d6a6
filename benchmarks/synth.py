"""Synthesis overhead: generated tokens/s through workbench synth (distilabel TextGeneration
+ catalog cache + checks) versus calling `model.generate` directly on the same prompts,
with the same model, batch size and greedy settings, in the same run.

    python benchmarks/synth.py --prompts 32 --max-new-tokens 128 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WORKBENCH_PROGRESS", "0")

QUESTIONS = [
    "What is {a} plus {b}?", "Explain why the sky is blue in two sentences.", "Name {a} animals that live in water.",
    "Write a short note thanking a friend for {a} books.", "What is {a} times {b}?", "Give a tip for learning to cook.",
    "If I have {a} apples and eat {b}, how many are left?", "Describe a rainy day in one sentence.",
]


def prompts(n: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)].format(a=i % 9 + 2, b=i % 5 + 1) for i in range(n)]


def direct(model_dir: str, convs: list[list[dict]], max_new_tokens: int, batch_size: int) -> tuple[int, float]:
    """The baseline: load the model, then one left-padded `generate` per batch; tokens before EOS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
    generated = 0
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.1,
                                 pad_token_id=tok.pad_token_id)
        for ids in out[:, enc["input_ids"].shape[1]:].tolist():
            generated += next((k for k, t in enumerate(ids) if t == tok.eos_token_id), len(ids))
    return generated, time.perf_counter() - start


def through_workbench(qs: list[str], max_new_tokens: int, batch_size: int) -> tuple[int, float, float]:
    """A user's call on a fresh workspace: teacher load, distilabel step, catalog cache, checks, save."""
    from workbench.data.ingest import ingest
    from workbench.synth.think import synthesize
    from workbench.core.workspace import Workspace

    with tempfile.TemporaryDirectory() as home:
        os.environ["WORKBENCH_HOME"] = home
        ws = Workspace(Path(home))
        src = Path(home) / "prompts.jsonl"
        src.write_text("".join(json.dumps({"instruction": q, "output": "-"}) + "\n" for q in qs))
        ingest(ws, src, name="prompts")
        settings = {"max_new_tokens": max_new_tokens, "batch_size": batch_size}
        start = time.perf_counter()
        synthesize(ws, "prompts", mode="no_think", name="bench", settings=settings, progress=False)
        secs = time.perf_counter() - start
        tokens = sum(r["output_tokens"] for r in ws.catalog().query("SELECT output_tokens FROM synth_generations"))
        start = time.perf_counter()
        synthesize(ws, "prompts", mode="no_think", name="bench", settings=settings, progress=False)
        return tokens, secs, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2, help="alternate the two paths this many times; best of each")
    args = ap.parse_args()

    from workbench.core.models import resolve_model
    from workbench.synth.think import teacher_conversation
    from workbench.data.records import make_record

    model_dir = resolve_model("smollm2-135m-instruct")
    qs = prompts(args.prompts)
    convs = [teacher_conversation(make_record([{"role": "user", "content": q}, {"role": "assistant", "content": "-"}]),
                                  "no_think") for q in qs]
    try:  # warm-up: imports and first-load costs, paid by neither side
        through_workbench(qs[:2], 4, 2)
    except Exception:  # noqa: BLE001 - 4 tokens truncate everything; only the warm-up matters here
        pass

    wb, dr = [], []
    for _ in range(args.repeats):  # alternate, so load from other users of the machine hits both sides
        dr.append(direct(model_dir, convs, args.max_new_tokens, args.batch_size))
        wb.append(through_workbench(qs, args.max_new_tokens, args.batch_size))
    wb_tokens, wb_secs, cached_secs = min(wb, key=lambda r: r[1])
    d_tokens, d_secs = min(dr, key=lambda r: r[1])

    print(f"{args.prompts} prompts, max_new_tokens={args.max_new_tokens}, batch={args.batch_size}, "
          f"{os.cpu_count()} cores, best of {args.repeats}; both timings include the model load")
    print(f"{'path':34} {'tokens':>7} {'seconds':>8} {'tokens/s':>9}")
    print(f"{'workbench synth (distilabel)':34} {wb_tokens:7d} {wb_secs:8.1f} {wb_tokens / wb_secs:9.1f}")
    print(f"{'direct model.generate':34} {d_tokens:7d} {d_secs:8.1f} {d_tokens / d_secs:9.1f}")
    print(f"overhead (time per token, workbench / direct): {(wb_secs / wb_tokens) / (d_secs / d_tokens) - 1:+.1%}")
    print(f"all runs (s): workbench {[round(r[1], 1) for r in wb]}, direct {[round(r[1], 1) for r in dr]}")
    print(f"second identical call (served from the catalog): {cached_secs:.1f} s")


if __name__ == "__main__":
    main()
