"""Peak memory of an ablation: train/eval tasks in child processes (`LocalExecutor(isolate=True)`)
vs every task in the runner's own process (`LocalExecutor()`, the default).

A 2-variant x 2-seed ablation (4 trainings, 5 evals) per mode, each in a fresh workspace and
its own `/usr/bin/time -v` process. Two peaks per mode:
  - time -v "Maximum resident set size": the largest single process (the runner or one child);
  - the process tree's summed RSS, sampled every 0.1 s with psutil (parent + live child).

    python benchmarks/ablate_memory.py                  # the tiny 2-layer test model (fast)
    python benchmarks/ablate_memory.py --model smollm2-135m-instruct --max-steps 4
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever is installed


def tiny_model(dest: Path) -> Path:
    """The test suite's tiny model: a random 2-layer Llama with the bundled SmolLM2 tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbench.core.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(dest)
    tok.save_pretrained(dest)
    return dest


def run_one(mode: str, home: str, spec: str) -> None:
    """The measured process: one ablation, all of it."""
    from workbench.ablate import LocalExecutor, run_ablation
    from workbench.core.workspace import Workspace

    t0 = time.monotonic()
    result = run_ablation(Workspace(Path(home)), spec, executor=LocalExecutor(isolate=(mode == "child")))
    assert not result.failures, [(o.task.label, o.error) for o in result.failures]
    print(f"WALL {time.monotonic() - t0:.1f} tasks {len(result.outcomes)}", flush=True)


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(mode: str, folder: Path, spec: Path) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--run", mode, "--home", str(folder / f"home-{mode}"),
           "--spec", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample():
        me = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak[0] = max(peak[0], tree_rss(me))
            except psutil.Error:
                break
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    done.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out}\n{err[-4000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    wall = float(re.search(r"WALL ([\d.]+)", out).group(1))
    return {"mode": mode, "wall_s": wall, "max_process_mib": rss_kb / 1024, "tree_sum_mib": peak[0] / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run")
    ap.add_argument("--home")
    ap.add_argument("--spec")
    ap.add_argument("--model", default=None, help="a model spec (default: the tiny test model, made here)")
    ap.add_argument("--max-steps", type=int, default=3)
    ap.add_argument("--limit", type=int, default=3, help="eval items per suite")
    args = ap.parse_args()
    if args.run:
        return run_one(args.run, args.home, args.spec)

    import yaml

    from tests.ablate_helpers import tiny_spec

    folder = Path(tempfile.mkdtemp(prefix="ablate-mem-"))
    model = args.model or str(tiny_model(folder / "tiny-model"))
    spec = tiny_spec(folder, Path(model), name="mem", max_steps=args.max_steps)
    data = yaml.safe_load(spec.read_text())
    data["base"], data["seeds"], data["eval"]["limit"] = model, [0, 1], args.limit
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    rows = [measure(mode, folder, spec) for mode in ("in-process", "child")]
    print(f"model {args.model or 'tiny (2-layer Llama)'}, 2 variants x 2 seeds, {args.max_steps} steps, "
          f"eval limit {args.limit}")
    print("| mode | wall s | peak RSS, largest process (time -v) MiB | peak RSS, process tree sum MiB |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['mode']} | {r['wall_s']:.0f} | {r['max_process_mib']:.0f} | {r['tree_sum_mib']:.0f} |")


if __name__ == "__main__":
    main()
