"""Training throughput: workbench.train vs a bare trl SFTTrainer script, and packing on vs off.

Each configuration runs in its own subprocess (so peak RSS is per configuration) on the
bundled SmolLM2-135M-Instruct with the same records, LoRA settings, batch, steps and seed.
Prints tokens/s (non-pad tokens), peak memory and, for packing, the fraction of non-pad
tokens in the collated batches.

    python benchmarks/train.py [--steps 8] [--records 64] [--arms workbench,workbench+bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever is installed
SETTINGS = {"r": 16, "alpha": 32, "lr": 2e-4, "batch_size": 8, "max_length": 256,
            "save_steps": 1000, "sanity_prompts": 0, "logging_steps": 1, "eval_fraction": 0.0}


def records(n):
    rows = [json.loads(line) for line in (REPO / "datasets" / "example_clean.jsonl").read_text().splitlines() if line.strip()]
    return rows[:n]


def run_workbench(steps, n, packing, precision="auto", **over):
    from workbench.data.records import make_record
    from workbench.data.store import save_version
    from workbench.train import train
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(tempfile.mkdtemp()))
    recs = [make_record(r["messages"]) for r in records(n)]
    v = save_version(ws, recs, "bench", "ingest").id
    r = train(ws, v, None, {**SETTINGS, "max_steps": steps, "packing": packing, "precision": precision, **over}, progress=False)
    row = ws.catalog().get_run(r.id)
    return {"tokens_per_s": row["tokens_per_s"], "peak_mem_mb": row["peak_mem_mb"], "wall_s": row["wall_s"],
            "tokens": row["train_tokens"], "nonpad_fraction": row["meta"]["nonpad_fraction"]}


def run_bare(steps, n, trl_defaults=False):
    """What a user would write by hand with trl: same data (messages), same LoRA and settings.

    With `trl_defaults`, trl's own defaults for precision and memory instead: bf16 autocast
    (on a CPU with bf16 support) and gradient checkpointing."""
    import resource

    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from workbench.core.models import resolve_model
    from workbench.train.config import TrainConfig  # the same LoRA dropout as workbench's default
    from workbench.train import batch_fill

    path = resolve_model(None)
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = "<|endoftext|>"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ds = datasets.Dataset.from_list([{"messages": r["messages"]} for r in records(n)])
    args = SFTConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=SETTINGS["batch_size"],
                     learning_rate=SETTINGS["lr"], max_steps=steps, max_length=SETTINGS["max_length"],
                     logging_steps=1, save_strategy="no", report_to=[], seed=0, use_cpu=True,
                     include_num_input_tokens_seen="non_padding", disable_tqdm=True,
                     **({} if trl_defaults else {"bf16": False, "gradient_checkpointing": False}))
    lora = LoraConfig(r=SETTINGS["r"], lora_alpha=SETTINGS["alpha"], lora_dropout=TrainConfig().dropout,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                      task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=lora)
    fill = batch_fill(trainer.get_train_dataloader(), steps)
    t = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t
    tokens = trainer.state.num_input_tokens_seen
    return {"tokens_per_s": tokens / wall, "peak_mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "wall_s": wall, "tokens": tokens, "nonpad_fraction": fill}


def child(kind, steps, n):
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    out = {"bare": lambda: run_bare(steps, n), "bare-trl-defaults": lambda: run_bare(steps, n, trl_defaults=True),
           "workbench": lambda: run_workbench(steps, n, False),
           "workbench+packing": lambda: run_workbench(steps, n, True),
           "workbench+bf16": lambda: run_workbench(steps, n, False, "bf16"),
           "workbench+dropout0.05": lambda: run_workbench(steps, n, False, dropout=0.05)}[kind]()
    print("RESULT " + json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--records", type=int, default=64)
    ap.add_argument("--child")
    ap.add_argument("--arms", default="bare,workbench,bare-trl-defaults,workbench+packing,workbench+bf16",
                    help="comma-separated: bare, workbench, bare-trl-defaults, workbench+packing, workbench+bf16, "
                         "workbench+dropout0.05 (LoRA dropout 0.05, the default until 2026-12-07, instead of 0)")
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.steps, a.records)
    import torch

    print(f"device: {'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU only (no GPU lent: no QLoRA nf4 figures)'}")
    results = {}
    for kind in a.arms.split(","):
        proc = subprocess.run([sys.executable, __file__, "--child", kind, "--steps", str(a.steps), "--records", str(a.records)],
                              capture_output=True, text=True, env={**os.environ, "WORKBENCH_PROGRESS": "0"})
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
        results[kind] = json.loads(line[7:])
    print(f"{'':20s} {'tokens/s':>10s} {'peak MB':>9s} {'wall s':>8s} {'tokens':>8s} {'non-pad':>8s}")
    for k, r in results.items():
        print(f"{k:20s} {r['tokens_per_s']:10.1f} {r['peak_mem_mb']:9.0f} {r['wall_s']:8.1f} {r['tokens']:8d} "
              f"{r.get('nonpad_fraction', float('nan')):8.3f}")
    w = results.get("workbench")
    for kind, label in (("bare", "workbench / bare"), ("workbench+packing", "packing on / off"),
                        ("workbench+bf16", "bf16 autocast / fp32")):
        if w and kind in results:
            num, den = (w, results[kind]) if kind == "bare" else (results[kind], w)
            print(f"{label} tokens/s: {num['tokens_per_s'] / den['tokens_per_s']:.3f}, "
                  f"peak memory {num['peak_mem_mb'] / den['peak_mem_mb']:.2f}x")


if __name__ == "__main__":
    main()
