"""The GPU path's check: what to run on a CUDA machine, once, to test it and record its figures.

1. the `gpu` tests (tests/test_gpu.py, tests/test_device.py): nf4 QLoRA training, HF and vLLM
   evals on CUDA, a 2-GPU accelerate launch where there are 2 GPUs;
2. training throughput on SmolLM2-135M: nf4 QLoRA (`--quant auto` on CUDA) and plain LoRA
   (`--quant none`), tokens/s and peak GPU memory (torch's max allocated), as the run records them;
3. eval generation throughput, HF generate vs vLLM (when installed), same items and settings:
   generated tokens/s and, for HF, peak GPU memory (vLLM reserves its `gpu_memory_utilization`
   share of the card up front, so its peak says nothing about the model).

Each measurement runs in its own process. Paste the output into benchmarks/README.md.

    python benchmarks/gpu_check.py                      # on a CUDA machine
    python benchmarks/gpu_check.py --steps 20 --items 32
    python benchmarks/gpu_check.py --allow-cpu --model tiny --steps 2 --items 2   # the script's own
        plumbing on a CPU: LoRA fp32 and HF only, the gpu tests skipped; no GPU figures
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
TRAIN = {"r": 16, "alpha": 32, "lr": 2e-4, "batch_size": 8, "max_length": 256, "save_steps": 10_000,
         "sanity_prompts": 0, "logging_steps": 1, "eval_fraction": 0.0}
SUITE = "think_follow"


def _model(name: str) -> str:
    if name != "tiny":
        return name
    import importlib.util

    loader = importlib.util.spec_from_file_location("ablate_memory", REPO / "benchmarks" / "ablate_memory.py")
    mod = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mod)
    return str(mod.tiny_model(Path(tempfile.mkdtemp(prefix="wb-tiny-"))))


def _cuda_peak_mb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def measure_train(model: str, quant: str, steps: int) -> dict:
    from workbench.data.records import make_record
    from workbench.data.store import save_version
    from workbench.train import train
    from workbench.core.workspace import Workspace

    rows = [json.loads(x) for x in (REPO / "datasets" / "example_clean.jsonl").read_text().splitlines() if x.strip()]
    ws = Workspace(Path(tempfile.mkdtemp(prefix="wb-gpu-")))
    version = save_version(ws, [make_record(r["messages"]) for r in rows[:128]], "gpu-check", "ingest").id
    r = train(ws, version, model, {**TRAIN, "max_steps": steps}, quant=quant, progress=False)
    run = ws.catalog().get_run(r.id)
    return {"mode": run["mode"], "device": run["meta"]["placement"]["device"], "tokens_per_s": run["tokens_per_s"],
            "peak_mb": run["peak_mem_mb"], "wall_s": run["wall_s"], "tokens": run["train_tokens"]}


def measure_eval(model: str, backend: str, items: int, max_gen_toks: int) -> dict:
    from workbench.evals.runner import evaluate
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(tempfile.mkdtemp(prefix="wb-gpu-")))
    t0 = time.perf_counter()
    [r] = evaluate(ws, model, [SUITE], "core", batch_size=16, limit=items, max_gen_toks=max_gen_toks,
                   progress=False, backend=backend)
    gen_s = r.wall_s - r.likelihood_s
    return {"backend": r.settings["backend"], "items": r.n_items, "gen_tokens": r.gen_tokens, "gen_s": gen_s,
            "tokens_per_s": r.gen_tokens / gen_s if gen_s > 0 else None, "wall_s": time.perf_counter() - t0,
            "peak_mb": _cuda_peak_mb() if backend == "hf" else None}


def child(kind: str, a) -> None:
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    if kind.startswith("train:"):
        out = measure_train(a.model, kind.split(":", 1)[1], a.steps)
    else:
        out = measure_eval(a.model, kind.split(":", 1)[1], a.items, a.max_gen_toks)
    print("RESULT " + json.dumps(out), flush=True)


def in_child(kind: str, a) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--model", a.model, "--steps", str(a.steps),
           "--items", str(a.items), "--max-gen-toks", str(a.max_gen_toks)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "WORKBENCH_PROGRESS": "0"})
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(line[len("RESULT "):])


def _table(a, title: str, cols: str, kinds: list[str], line) -> bool:
    """One measurement per kind, each in its own process, as a table; False if one failed."""
    print(f"\n{title}\n{cols}")
    ok = True
    for kind in kinds:
        r, name = in_child(kind, a), kind.split(":", 1)[1]
        if "error" in r:
            print(f"{name:8s} FAILED: {r['error']}")
            ok = False
        else:
            print(line(name, r))
    return ok


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct", help="a bundled name, a model folder, or 'tiny'")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--max-gen-toks", type=int, default=256)
    ap.add_argument("--allow-cpu", action="store_true", help="run without CUDA (checks this script, no GPU figures)")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--child")
    a = ap.parse_args()
    if a.child:
        return child(a.child, a)
    import torch

    from workbench.core.device import detect, vllm_installed
    from workbench.core.hashing import library_versions

    acc = detect()
    if not acc.cuda and not a.allow_cpu:
        raise SystemExit("no CUDA device here: this check is for a GPU machine (--allow-cpu checks the script itself)")
    print(f"device: {acc.name or 'CPU (no CUDA): not GPU figures'}; {acc.count} GPU(s), "
          f"{_fmt(acc.vram_mb and acc.vram_mb / 1024, '.0f')} GiB, bf16 {acc.bf16}; torch {torch.__version__}")
    print("versions:", json.dumps({**library_versions(), "vllm installed": vllm_installed()}))
    a.model = _model(a.model)
    failed = False
    if not a.skip_tests:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", "-p", "no:cacheprovider",
                                "tests/test_gpu.py", "tests/test_device.py"], cwd=REPO, capture_output=True, text=True)
        print("gpu tests:", tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr[-2000:])
        if tests.returncode not in (0, 5):  # 5: nothing collected
            print(tests.stdout[-6000:])
            failed = True

    train_cols = f"{'quant':8s} {'mode':10s} {'device':6s} {'tokens/s':>9s} {'peak MB':>9s} {'wall s':>7s}"
    ok = _table(a, f"training {a.model}: {a.steps} steps, batch {TRAIN['batch_size']}, max_length {TRAIN['max_length']}",
                train_cols, [f"train:{q}" for q in (("auto", "none") if acc.cuda else ("auto",))],
                lambda q, r: f"{q:8s} {r['mode']:10s} {r['device']:6s} {_fmt(r['tokens_per_s'], '9.0f')} "
                             f"{_fmt(r['peak_mb'], '9.0f')} {_fmt(r['wall_s'], '7.1f')}")
    eval_cols = f"{'backend':8s} {'items':>5s} {'gen tok':>8s} {'gen s':>7s} {'tokens/s':>9s} {'peak MB':>9s}"
    ok &= _table(a, f"eval generation: {SUITE} core, {a.items} items, batch 16, max_gen_toks {a.max_gen_toks}",
                 eval_cols, [f"eval:{b}" for b in (("hf", "vllm") if acc.cuda and vllm_installed() else ("hf",))],
                 lambda b, r: f"{r['backend']:8s} {r['items']:5d} {r['gen_tokens']:8d} {r['gen_s']:7.1f} "
                              f"{_fmt(r['tokens_per_s'], '9.0f')} {_fmt(r['peak_mb'], '9.0f')}")
    failed = failed or not ok
    if not vllm_installed():
        print("vllm: not installed (pip install -e .[gpu]): no vLLM figure")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
