"""Ingest throughput: workbench ingest vs datasets.load_dataset("json") on the same file.

Writes N synthetic multi-turn chat records (OpenAI messages format) to a JSONL file, then
in separate child processes (so peak memory is per tool) measures:
  - workbench: read + detect + validate + hash + token stats + Parquet + catalog rows
  - workbench (no token stats): same, without the tokenizer pass
  - datasets.load_dataset("json", ...): Arrow conversion into a fresh cache dir

    python benchmarks/ingest.py --records 200000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = ("the model data curate token train eval answer question reason step value "
         "number list write explain short long simple because first then finally").split()


def make_file(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            turns = rng.choice((1, 1, 2, 3))
            messages = [{"role": "system", "content": "You are a helpful assistant."}] if rng.random() < 0.3 else []
            for t in range(turns):
                messages.append({"role": "user", "content": f"Q{i}.{t} " + " ".join(rng.choices(WORDS, k=rng.randint(8, 30)))})
                messages.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))})
            fh.write(json.dumps({"messages": messages}) + "\n")


CHILD = {
    "workbench": """
import os, sys
from workbench.data.ingest import ingest
from workbench.core.workspace import Workspace
r = ingest(Workspace(__import__('pathlib').Path(sys.argv[2])), sys.argv[1], name="bench")
assert r.version.n_rows == int(sys.argv[3])
""",
    "workbench-no-token-stats": """
import sys, workbench.data.store as store, workbench.data.profile as profile
orig = profile.profile
profile.profile = lambda records, tokenizer_name=None: orig(records, None)
from workbench.data.ingest import ingest
from workbench.core.workspace import Workspace
r = ingest(Workspace(__import__('pathlib').Path(sys.argv[2])), sys.argv[1], name="bench")
assert r.version.n_rows == int(sys.argv[3])
""",
    "datasets.load_dataset": """
import sys, datasets
ds = datasets.load_dataset("json", data_files=sys.argv[1], split="train", cache_dir=sys.argv[2])
assert len(ds) == int(sys.argv[3])
""",
}


def run_child(name: str, path: Path, n: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one tool ingesting the file, in a fresh process."""
    with tempfile.TemporaryDirectory() as home:
        code = (
            "import resource, time, sys\nt0 = time.perf_counter()\n"
            + CHILD[name]
            + "\nprint(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        )
        env = {**os.environ, "WORKBENCH_PROGRESS": "0", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
        out = subprocess.run([sys.executable, "-c", code, str(path), home, str(n)], env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{name} failed:\n{out.stderr[-2000:]}")
        secs, rss = out.stdout.strip().splitlines()[-1].split()
        return float(secs), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        make_file(path, args.records)
        size_mb = path.stat().st_size / 2**20
        print(f"{args.records} records, {size_mb:.0f} MiB JSONL, {os.cpu_count()} cores")
        results = {name: run_child(name, path, args.records) for name in CHILD}
    base_secs = results["datasets.load_dataset"][0]
    print(f"{'tool':28} {'seconds':>8} {'records/s':>10} {'peak MiB':>9} {'time vs datasets':>17}")
    for name, (secs, rss) in results.items():
        print(f"{name:28} {secs:8.1f} {args.records / secs:10.0f} {rss:9.0f} {secs / base_secs:16.2f}x")


if __name__ == "__main__":
    main()
