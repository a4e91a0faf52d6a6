"""gc beside running writers: does `gc --apply` in a loop ever delete what a writer still needs?

    python benchmarks/gc_race.py --ingests 30 --curates 20 --trains 4 --ablate

One process runs `workbench.ops.maintenance.gc(ws, apply=True)` every 10 ms (a user's second terminal
or a cron job) while writer processes ingest fresh files, curate them, train tiny real LoRA runs
and (with --ablate) run a small real ablation, all on one workspace. At the end every version
row must have its body, every run row its directory, and `verify` must be clean. Prints a JSON
line: writer operations, gc passes, items gc removed and skipped, lost bodies, lost run
directories, verify problems. Exit 1 if anything was lost.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPE = {"name": "race", "steps": [{"step": "structure"}, {"step": "exact_dedup"}]}
FAST = {"max_steps": 2, "batch_size": 2, "save_steps": 1, "sanity_prompts": 0}


def _rows(k: int, n: int) -> list[dict]:
    rows = [{"messages": [{"role": "user", "content": f"Race {k}: what is {i} times {k}?"},
                          {"role": "assistant", "content": f"{i} times {k} is {i * k}."}]} for i in range(n)]
    rows.append(dict(rows[0]))  # an exact duplicate for curation to remove
    return rows


def _gc_loop(home: str, stop, out) -> None:
    from workbench.ops.maintenance import gc
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(home))
    passes = removed = skipped = 0
    while not stop.is_set():
        r = gc(ws, apply=True)
        passes += 1
        removed += len(getattr(r, "found", r))  # an older gc returns the plain list it removed
        skipped += len(getattr(r, "skipped", []))
        time.sleep(0.01)
    out.put({"gc_passes": passes, "gc_removed": removed, "gc_skipped": skipped})


def _ingest_curate(home: str, first: int, n_ingest: int, n_curate: int, rows: int, out) -> None:
    from workbench.curate.recipe import curate
    from workbench.data.ingest import ingest
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(home))
    src = Path(home).parent / f"src-{os.getpid()}"
    src.mkdir(exist_ok=True)
    ops = 0
    for k in range(first, first + n_ingest):
        f = src / f"race{k}.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in _rows(k, rows)))
        v = ingest(ws, f, name=f"race{k}")
        ops += 1
        if k - first < n_curate:
            curate(ws, v.version.id, RECIPE, name=f"race{k}-curated")
            ops += 1
    out.put({"ops": ops})


def _train(home: str, model_dir: str, n: int, out) -> None:
    from workbench.data.records import make_record
    from workbench.data.store import save_version
    from workbench.train import train
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(home))
    ops = 0
    for k in range(n):
        recs = [make_record([{"role": "user", "content": f"Train {k}: {i} plus {i}?"},
                             {"role": "assistant", "content": f"{2 * i}."}]) for i in range(8)]
        v = save_version(ws, recs, f"train{k}", "ingest")
        train(ws, v.id, model_dir, FAST, seed=k, progress=False)
        ops += 2
    out.put({"ops": ops})


def _ablate(home: str, spec: str, out) -> None:
    from workbench.ablate import run_ablation
    from workbench.core.workspace import Workspace

    run_ablation(Workspace(Path(home)), spec)
    out.put({"ops": 1})


def lost(home: Path) -> dict:
    """Rows whose files are gone: the one thing this harness must never see."""
    from workbench.ops.maintenance import verify
    from workbench.core.workspace import Workspace

    ws = Workspace(home)
    try:  # an older verify miscounts exact repeats: the loss this harness looks for is the missing files
        problems = [f"{p.kind} {p.ref}: {p.detail}" for p in verify(ws).problems]
    except Exception as e:  # noqa: BLE001
        problems = [f"verify failed: {e}"]
    cat = ws.catalog()
    bodies = [v["id"] for v in cat.list_versions() if v["path"] and not (home / v["path"]).is_file()]
    run_dirs = [r["id"] for r in cat.list_runs() if not Path(r["run_dir"]).is_dir()]
    return {"versions": len(cat.list_versions()), "runs": len(cat.list_runs()), "lost_bodies": bodies,
            "lost_run_dirs": run_dirs, "verify_problems": problems}


def race(home: Path, ingests: int, curates: int, trains: int, model_dir: str | None = None,
         ablate_spec: str | None = None, rows: int = 400) -> dict:
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    home.mkdir(parents=True, exist_ok=True)
    gc_proc = ctx.Process(target=_gc_loop, args=(str(home), stop, out))
    gc_proc.start()
    half = ingests // 2
    writers = [ctx.Process(target=_ingest_curate, args=(str(home), 0, half, curates // 2, rows, out)),
               ctx.Process(target=_ingest_curate, args=(str(home), 1000, ingests - half, curates - curates // 2, rows, out))]
    if trains:
        writers.append(ctx.Process(target=_train, args=(str(home), model_dir, trains, out)))
    if ablate_spec:
        writers.append(ctx.Process(target=_ablate, args=(str(home), ablate_spec, out)))
    start = time.monotonic()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    gc_proc.join()
    results = []
    for _ in range(len(writers) + 1):  # a writer that crashed put nothing: its exit code says so
        try:
            results.append(out.get(timeout=10))
        except queue.Empty:
            break
    summary = {"writers_ok": all(w.exitcode == 0 for w in writers), "wall_s": round(time.monotonic() - start, 1),
               "writer_ops": sum(r.get("ops", 0) for r in results)}
    for r in results:
        summary.update({k: v for k, v in r.items() if k != "ops"})
    summary.update(lost(home))
    return summary


def _tiny_model(out: Path) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbench.core.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def main() -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ingests", type=int, default=30)
    ap.add_argument("--curates", type=int, default=20)
    ap.add_argument("--trains", type=int, default=4)
    ap.add_argument("--ablate", default=None, help="an ablation spec to run beside the others")
    ap.add_argument("--rows", type=int, default=3000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    with tempfile.TemporaryDirectory() as tmp:
        model = _tiny_model(Path(tmp) / "tiny") if args.trains else None
        summary = race(Path(tmp) / "home", args.ingests, args.curates, args.trains, model, args.ablate, args.rows)
    print(json.dumps(summary))
    bad = summary["lost_bodies"] or summary["lost_run_dirs"] or summary["verify_problems"] or not summary["writers_ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
