"""kill -9 fault harness: kill a real `workbench` command at sampled moments, then check.

After each kill: no partial version (every version row has its body and `verify` is clean),
no duplicate rows in any catalog table, and a rerun completes with the same version ids as
an uninterrupted run in a fresh workspace. Moments are fractions of the uninterrupted run's
wall time, drawn from a seeded generator. The default run samples two moments per command;
`-m faults_long` samples many (WORKBENCH_FAULT_MOMENTS, default 8).

Commands covered: ingest, curate, mix. (Training resumes after kill -9 in test_train.py.)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.maintenance import verify
from workbench.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
RECIPE = "name: faults\nsteps:\n  - step: structure\n  - step: length\n    params: {min_words: 2}\n  - step: exact_dedup\n"


def make_inputs(root: Path, n: int = 8000) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    rows = root / "rows.jsonl"
    with open(rows, "w", encoding="utf-8") as fh:
        for i in range(n):
            a = f"Question {i % (n // 2)}: what is {i} times three?"  # half are exact duplicates
            fh.write(json.dumps({"messages": [{"role": "user", "content": a},
                                              {"role": "assistant", "content": f"{i} times three is {3 * i}."}]}) + "\n")
    other = root / "other.jsonl"
    with open(other, "w", encoding="utf-8") as fh:
        for i in range(n // 4):
            fh.write(json.dumps({"prompt": f"Name the number after {i}.", "completion": f"It is {i + 1}."}) + "\n")
    (root / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    (root / "mix.yaml").write_text(
        "variants:\n  - name: mixed\n    sources:\n      - {version: rows, weight: 1}\n      - {version: other, weight: 1}\n"
        "    balance: examples\n    budget: {records: 2000}\n    seed: 0\n", encoding="utf-8")
    return {"rows": rows, "other": other, "recipe": root / "recipe.yaml", "mix": root / "mix.yaml"}


# each command: the setup commands (run to completion first) and the command that is killed
COMMANDS = {
    "ingest": ([], ["data", "ingest", "{rows}", "--name", "rows"]),
    "curate": ([["data", "ingest", "{rows}", "--name", "rows"]], ["curate", "rows", "--recipe", "{recipe}", "--name", "cur"]),
    "mix": ([["data", "ingest", "{rows}", "--name", "rows"], ["data", "ingest", "{other}", "--name", "other"]],
            ["mix", "--spec", "{mix}"]),
}


def _argv(args: list[str], files: dict[str, Path]) -> list[str]:
    return [str(files[a[1:-1]]) if a.startswith("{") else a for a in args]


def _env(home: Path) -> dict:
    return {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(REPO)}


def wb(home: Path, args: list[str], files) -> float:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "workbench", *_argv(args, files)], env=_env(home),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return time.monotonic() - start


def kill_at(home: Path, args: list[str], files, after_s: float) -> bool:
    """Start the command, SIGKILL it after `after_s`; True if it was still running then."""
    proc = subprocess.Popen([sys.executable, "-m", "workbench", *_argv(args, files)], env=_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=after_s)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def version_ids(home: Path) -> set[str]:
    return {v["id"] for v in Workspace(home).catalog().list_versions()}


def duplicate_rows(home: Path) -> dict[str, int]:
    cat = Workspace(home).catalog()
    tables = [r["t"] for r in cat.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'main'")]
    dups = {}
    for t in tables:
        n = cat.query(f'SELECT count(*) AS n FROM "{t}"')[0]["n"]
        d = cat.query(f'SELECT count(*) AS n FROM (SELECT DISTINCT * FROM "{t}")')[0]["n"]
        if n != d:
            dups[t] = n - d
    return dups


def check_after_kill(home: Path) -> None:
    report = verify(Workspace(home))
    assert report.ok, report.problems  # no partial version: every row has its full body
    assert duplicate_rows(home) == {}


def run_faults(command: str, tmp_path: Path, moments: int, seed: int = 0) -> list[float]:
    files = make_inputs(tmp_path / "inputs")
    setup, target = COMMANDS[command]
    base = tmp_path / "base"  # the setup runs once; each trial starts from a copy of it
    base.mkdir()
    for s in setup:
        wb(base, s, files)
    ref = tmp_path / "reference"
    shutil.copytree(base, ref)
    wall = wb(ref, target, files)
    expected = version_ids(ref)
    rng = random.Random(seed)
    killed_at = []
    for k in range(moments):
        home = tmp_path / f"kill-{k}"
        shutil.copytree(base, home)
        frac = rng.uniform(0.15, 0.95)
        if kill_at(home, target, files, after_s=frac * wall):
            killed_at.append(round(frac, 2))
        check_after_kill(home)
        assert version_ids(home) <= expected  # nothing but what a full run makes
        wb(home, target, files)  # the rerun completes ...
        assert version_ids(home) == expected  # ... with the same ids as an uninterrupted run
        check_after_kill(home)
    return killed_at


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_9_sampled_moments(command, tmp_path):
    run_faults(command, tmp_path, moments=2, seed=sorted(COMMANDS).index(command))


@pytest.mark.faults_long
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_9_many_moments(command, tmp_path):
    moments = int(os.environ.get("WORKBENCH_FAULT_MOMENTS", "8"))
    killed = run_faults(command, tmp_path, moments=moments, seed=1)
    assert killed, "no kill landed while the command ran"
