"""Training throughput: workbench train vs a bare trl SFTTrainer script, same data and settings.

Bundled SmolLM2-135M-Instruct, LoRA (fp32 on CPU, nf4 QLoRA on CUDA), the example chat data.
Each configuration runs in its own child process so peak memory is per run:
  - workbench: `workbench.train.train()` (templating, assistant-only labels, mask check,
    catalog rows per step, checkpoints, sanity generation after the loop)
  - bare trl: SFTTrainer on the messages dataset with the same LoRA targets and settings
with packing off and on. Tokens/s is non-pad tokens seen per second of the training loop;
the non-pad fraction is counted over the batches the trainer's dataloader yields.

    python benchmarks/train.py --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "datasets" / "example_clean.jsonl"

COMMON = """
import json, os, resource, sys, time
os.environ["WORKBENCH_PROGRESS"] = "0"
import torch
args = json.loads(sys.argv[1])
S = args["settings"]

def nonpad_fraction(trainer, pad_id, batches):
    real = total = 0
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i >= batches:
            break
        ids = batch["input_ids"]
        real += int((ids != pad_id).sum()); total += ids.numel()
    return real / total

def peak_mb():
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

WORKBENCH = COMMON + """
from pathlib import Path
from workbench.workspace import Workspace
from workbench.train import train
ws = Workspace(Path(args["home"]))
cfg = {"max_steps": S["steps"], "batch_size": S["batch"], "lr": 2e-4, "max_length": S["max_length"],
       "packing": args["packing"], "save_steps": 1000, "sanity_prompts": 2, "sanity_max_new_tokens": 16}
t = time.perf_counter()
r = train(ws, args["version"], None, cfg, seed=0, progress=False)
total = time.perf_counter() - t
row = ws.catalog().get_run(r.id)
print(json.dumps({"tokens_per_s": row["tokens_per_s"], "train_s": row["wall_s"], "total_s": total,
                  "tokens": row["train_tokens"], "peak_mb": peak_mb(), "mode": row["mode"]}))
"""

BARE_TRL = COMMON + """
import datasets
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from trl import SFTConfig, SFTTrainer
from workbench.models import resolve_model
path = resolve_model(None)
tok = AutoTokenizer.from_pretrained(path)
if tok.pad_token_id == tok.eos_token_id:
    tok.pad_token = "<|endoftext|>"
cuda = torch.cuda.is_available()
if cuda:
    from peft import prepare_model_for_kbit_training
    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
    model = prepare_model_for_kbit_training(AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb, device_map={"": 0}))
else:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
rows = [json.loads(l) for l in open(args["data"])]
ds = datasets.Dataset.from_list([{"messages": r["messages"]} for r in rows])
lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, bias="none", task_type="CAUSAL_LM",
                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
sft = SFTConfig(output_dir=args["out"], per_device_train_batch_size=S["batch"], max_steps=S["steps"], learning_rate=2e-4,
                max_length=S["max_length"], packing=args["packing"], logging_steps=1, save_strategy="no", report_to=[],
                disable_tqdm=True, include_num_input_tokens_seen="non_padding", use_cpu=not cuda, bf16=cuda, seed=0)
trainer = SFTTrainer(model=model, args=sft, train_dataset=ds, processing_class=tok, peft_config=lora)
frac = nonpad_fraction(trainer, tok.pad_token_id, S["steps"])
t = time.perf_counter()
trainer.train()
wall = time.perf_counter() - t
tokens = int(trainer.state.num_input_tokens_seen)
print(json.dumps({"tokens_per_s": tokens / wall, "train_s": wall, "tokens": tokens, "peak_mb": peak_mb(),
                  "nonpad_fraction": frac}))
"""


def child(code: str, payload: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code, json.dumps(payload)], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--packing", choices=("off", "on", "both"), default="both")
    a = ap.parse_args()
    settings = {"steps": a.steps, "batch": a.batch, "max_length": a.max_length}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = home = str(Path(tmp) / "home")
        from workbench.ingest import ingest
        from workbench.workspace import Workspace

        version = ingest(Workspace(Path(home)), str(DATA), "bench").version.id
        results = {}
        for packing in {"off": (False,), "on": (True,), "both": (False, True)}[a.packing]:
            tag = "packing" if packing else "no packing"
            results[("workbench", tag)] = child(WORKBENCH, {"home": home, "version": version, "packing": packing,
                                                            "settings": settings})
            results[("bare trl", tag)] = child(BARE_TRL, {"data": str(DATA), "out": str(Path(tmp) / f"trl-{packing}"),
                                                          "packing": packing, "settings": settings})
            print(tag, json.dumps({k[0]: v for k, v in results.items() if k[1] == tag}), flush=True)
    print(f"\nSmolLM2-135M-Instruct, {a.steps} steps, batch {a.batch}, max_length {a.max_length}, "
          f"mode {next(iter(results.values())).get('mode', '')}\n")
    print("| run | packing | tokens/s | train loop s | peak MiB | non-pad fraction | tokens/s vs bare trl |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (who, tag), r in results.items():
        base = results[("bare trl", tag)]["tokens_per_s"]
        frac = results[("bare trl", tag)]["nonpad_fraction"]
        print(f"| {who} | {tag} | {r['tokens_per_s']:.0f} | {r['train_s']:.1f} | {r['peak_mb']:.0f} | {frac:.3f} | "
              f"{r['tokens_per_s'] / base:.2f}x |")
    for (who, tag), w in results.items():
        if who != "workbench":
            continue
        print(f"workbench {tag}: whole call {w['total_s']:.1f} s (load, templating, loop, sanity generation, catalog)")


if __name__ == "__main__":
    main()
