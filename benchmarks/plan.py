"""Memory planning: `workbench train plan`'s estimate vs the measured peak RSS of real runs.

For each batch_size x grad_accum (the quickstart's train settings otherwise: 12 steps, max_length
384, lr 5e-4, on the 244 example records; with a `dpo:` prefix DPO on the 40 example pairs), in a
fresh workspace:
  1. `workbench train plan --json` (its own process: the runtime term is measured there);
  2. `/usr/bin/time -v workbench train run` (peak RSS = "Maximum resident set size").
Prints both and the ratio; the target is within +-25%.

    python benchmarks/plan.py [--configs 2x3,3x2,6x1] [--steps 12]
    python benchmarks/plan.py --configs 2x3,dpo:2x3      # a method prefix: dpo on the example pairs
    python benchmarks/plan.py --calibrate     # the forward+backward micro-measurements the constants came from
    python benchmarks/plan.py --known         # estimates only, against the peaks measured earlier (README "Memory")
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Peak RSS of these very runs, measured with /usr/bin/time -v on 2026-12-01 (benchmarks/README.md, "Memory")
KNOWN_PEAK_MIB = {"2x3": 2636, "3x2": 3293, "6x1": 5124}
DATA = {"sft": "example_clean.jsonl", "dpo": "example_preferences.jsonl", "grpo": "example_prompts.jsonl"}
METHOD_SETTINGS = {"dpo": {"method": "dpo"},  # examples/dpo.yaml's train section
                   "grpo": {"method": "grpo", "lr": 5.0e-5,  # examples/grpo.yaml's
                            "grpo": {"rewards": ["gsm_answer", "think_format", "ifeval"], "num_generations": 4,
                                     "max_completion_length": 96}}}
QUICKSTART = {"lr": 5.0e-4, "warmup_ratio": 0.1, "max_length": 384, "save_steps": 4, "sanity_prompts": 2,
              "sanity_max_new_tokens": 48}


def wb(*args, env, timed=False):
    cmd = [sys.executable, "-m", "workbench", *args]
    if timed:
        cmd = ["/usr/bin/time", "-v", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p


def _micro(b: int, length: int, checkpointing: bool) -> float:
    """RSS added (MiB) by one forward+backward of SmolLM2-135M with LoRA on every projection."""
    import resource

    import psutil
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from workbench.core.models import resolve_model

    m = AutoModelForCausalLM.from_pretrained(resolve_model("smollm2-135m-instruct"), dtype=torch.float32)
    m = get_peft_model(m, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM", target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    if checkpointing:
        m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        m.enable_input_require_grads()
    m.train()
    with torch.no_grad():
        m(input_ids=torch.randint(100, 40000, (1, 8)))  # page the weights in first
    rss0 = psutil.Process().memory_info().rss / 2**20
    ids = torch.randint(100, 40000, (b, length))
    m(input_ids=ids, labels=ids).loss.backward()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0


def calibrate() -> None:
    """Two micro-measurements, each in its own process (2x160 tokens plain, 4x160 with gradient
    checkpointing), solved for ACT_PER_HI and LOGIT_COPIES with CKPT_PER_H = 2."""
    from workbench.train.plan import CKPT_PER_H, model_shape
    from workbench.core.models import resolve_model

    per_token = {}
    for b, ckpt in ((2, False), (4, True)):
        out = subprocess.run([sys.executable, __file__, "--micro", f"{b},160,{int(ckpt)}"], capture_output=True,
                             text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
        mib = float(out.stdout.strip().splitlines()[-1])
        per_token[ckpt] = mib * 2**20 / (b * 160)
        print(f"{b}x160 tokens, checkpointing {ckpt}: +{mib:,.0f} MiB peak RSS, {per_token[ckpt] / 2**20:.2f} MiB/token")
    s = model_shape(resolve_model("smollm2-135m-instruct"))
    kept = s.layers * CKPT_PER_H * s.hidden * 4
    layer = (per_token[False] - per_token[True] + kept) / (s.layers - 1)
    logits = per_token[False] - s.layers * layer
    print(f"ACT_PER_HI = {layer / (s.hidden + s.intermediate) / 4:.1f}, LOGIT_COPIES = {logits / (s.vocab * 4):.1f}")


def known(specs: list[str], steps: int) -> None:
    """Estimates (one process, one plan per config) against KNOWN_PEAK_MIB."""
    from workbench.data.ingest import ingest
    from workbench.train.plan import plan
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(tempfile.mkdtemp(prefix="wb-plan-known-")))
    vid = ingest(ws, REPO / "datasets" / "example_clean.jsonl", name="curated").version.id
    print("| batch x grad_accum | estimate MiB (runtime + weights + LoRA + activations) | measured peak RSS MiB | estimate / measured |")
    print("|---|---:|---:|---:|")
    for spec in specs:
        batch, accum = (int(x) for x in spec.split("x"))
        p = plan(ws, vid, None, {**QUICKSTART, "max_steps": steps, "batch_size": batch, "grad_accum": accum})
        print(f"| {spec} | {p.total_mb:,.0f} ({p.runtime_mb:,.0f} + {p.weights_mb:,.0f} + {p.lora_mb:,.0f} + "
              f"{p.activations_mb:,.0f}; peak seq {p.seq_len}) | {KNOWN_PEAK_MIB[spec]:,} | "
              f"{p.total_mb / KNOWN_PEAK_MIB[spec]:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="2x3,3x2,6x1")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--known", action="store_true")
    ap.add_argument("--micro", help=argparse.SUPPRESS)  # B,LENGTH,CHECKPOINTING: one calibration process
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    if a.micro:
        b, length, ckpt = (int(x) for x in a.micro.split(","))
        return print(_micro(b, length, bool(ckpt)))
    if a.calibrate:
        return calibrate()
    if a.known:
        return known(a.configs.split(","), a.steps)
    root = Path(tempfile.mkdtemp(prefix="wb-plan-bench-"))
    rows = []
    for spec in a.configs.split(","):
        method, _, shape = spec.rpartition(":")  # "2x3" (sft) or "dpo:2x3" / "grpo:4x1"
        method = method or "sft"
        batch, accum = (int(x) for x in shape.split("x"))
        env = {**os.environ, "WORKBENCH_HOME": str(root / spec.replace(":", "-")), "WORKBENCH_PROGRESS": "0",
               "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        wb("data", "ingest", str(REPO / "datasets" / DATA[method]), "--name", "curated", env=env)
        cfg = root / f"{spec.replace(':', '-')}.json"
        cfg.write_text(json.dumps({**QUICKSTART, **METHOD_SETTINGS.get(method, {}), "max_steps": a.steps,
                                   "batch_size": batch, "grad_accum": accum}))
        est = json.loads(wb("train", "plan", "--data", "curated", "--config", str(cfg), "--json", env=env).stdout)
        run = wb("train", "run", "--data", "curated", "--config", str(cfg), env=env, timed=True)
        peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) / 1024
        rows.append((spec, est, peak))
        print(f"{spec}: estimate {est['total_mb']:,.0f} MiB (runtime {est['runtime_mb']:,.0f}, weights "
              f"{est['weights_mb']:,.0f}, lora {est['lora_mb']:,.0f}, activations {est['activations_mb']:,.0f}; "
              f"peak seq {est['seq_len']}) measured {peak:,.0f} MiB  ratio {est['total_mb'] / peak:.2f}", flush=True)
    print("\n| batch x grad_accum | estimate MiB | measured peak RSS MiB | estimate / measured |\n|---|---:|---:|---:|")
    for spec, est, peak in rows:
        print(f"| {spec} | {est['total_mb']:,.0f} | {peak:,.0f} | {est['total_mb'] / peak:.2f} |")


if __name__ == "__main__":
    main()
