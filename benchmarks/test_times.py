"""Wall time of test files in two checkouts, side by side (same machine, same moment).

    python benchmarks/test_times.py --base /tmp/speed_base --new . tests/test_ids.py tests/test_faults.py
    python benchmarks/test_times.py --base /tmp/speed_base --new . tests   # the whole default suite

Each checkout's tests run against that checkout's own code (PYTHONPATH=checkout), one file (or
node id) at a time, base and new taking turns so that load drift on a shared machine hits both
alike. Each runs with its own checkout's pytest options (pyproject.toml's addopts: since the
parallel suite, `-n auto` for the new one); options after the targets go to both (`-n 0` runs
both serially). Prints a Markdown table: file, base s, new s, new/base, pytest's summary line of
each, and the 1-minute load average before each pair (a shared machine's load changes the times).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def run(checkout: Path, target: str, extra: list[str], timeout: int) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", target, "-q", *extra],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines) if " in " in ln and ("passed" in ln or "failed" in ln
                                                                               or "error" in ln)), "?")
    return wall, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, required=True, help="the checkout before (its tests and code)")
    ap.add_argument("--new", type=Path, required=True, help="the checkout after")
    ap.add_argument("--timeout", type=int, default=7200, help="seconds per pytest run")
    ap.add_argument("targets", nargs="+", help="test files or node ids (relative to each checkout)")
    args, extra = ap.parse_known_args()
    print("| tests | base s | new s | new/base | base result | new result | load before |")
    print("|---|---:|---:|---:|---|---|---:|")
    for i, target in enumerate(args.targets):
        load = os.getloadavg()[0]
        order = [("base", args.base), ("new", args.new)]
        if i % 2:
            order.reverse()
        got = {name: run(path.resolve(), target, extra, args.timeout) for name, path in order}
        (b, bs), (n, ns) = got["base"], got["new"]
        print(f"| {target} | {b:.0f} | {n:.0f} | {n / b:.2f} | {bs} | {ns} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
