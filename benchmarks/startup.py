"""What the CLI pays around the work: CPU seconds of real `workbench ablate` commands on a tiny model,
for this checkout and another tree side by side (the peer: the code before a change).

Per tree, in a fresh workspace and a fresh cache folder (the converted bundled model linked in, as
a machine that ran workbench before has it), in this order:

- `ablate SPEC --dry-run` before anything is built;
- `ablate SPEC --no-report`: the whole tiny ablation (2 variants, 1 seed, 2 suites: 2 builds,
  2 trainings of 3 steps, 3 evals), its tasks in one warm worker;
- `ablate SPEC --no-report` again: everything cached (what a resume or a second look costs);
- `ablate SPEC --dry-run` again.

CPU is user + system of the command and its children (`os.wait4`), which a loaded machine moves
much less than wall time; both are printed. The trees alternate command by command.

    python benchmarks/startup.py --tree /tmp/before            # a worktree of the earlier commit
    python benchmarks/startup.py --tree /tmp/before --rounds 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tiny_model(dest: Path) -> Path:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from ablate_memory import tiny_model as make

    return make(dest)


def spec(folder: Path, model: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.ablate_helpers import tiny_spec

    return tiny_spec(folder, model)


def run(tree: Path, args: list[str], home: Path, cache: Path, cwd: Path) -> tuple[float, float]:
    """(CPU seconds of the command and its children, wall seconds)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "WORKBENCH_HOME": str(home), "WORKBENCH_CACHE": str(cache)}
    err_path = cwd / "stderr.txt"  # a file, not a pipe: a chatty command cannot block on a full pipe
    t0 = time.monotonic()
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "ablate", *args], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{tree}: workbench ablate {' '.join(args)} exited {code}:\n{err_path.read_text()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from workbench.core.models import DEFAULT_MODEL, resolve_model

    bundled = Path(resolve_model(DEFAULT_MODEL))
    root = Path(tempfile.mkdtemp(prefix="wb_startup_"))
    model = tiny_model(root / "model")
    spec_path = spec(root / "spec", model)
    trees = {"this": REPO, "other": args.tree.resolve()}
    steps = [("dry-run, empty workspace", ["--dry-run"]), ("ablation, 7 tasks", ["--no-report"]),
             ("again, all cached", ["--no-report"]), ("dry-run, all cached", ["--dry-run"])]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(args.rounds):
        dirs = {}
        for name in trees:
            d = root / f"{name}-{r}"
            (d / "cache" / "models").mkdir(parents=True)
            (d / "cache" / "models" / DEFAULT_MODEL).symlink_to(bundled, target_is_directory=True)
            dirs[name] = d
        for label, extra in steps:
            for name, tree in trees.items():
                d = dirs[name]
                cpu, wall = run(tree, [str(spec_path), *extra], d / "home", d / "cache", d)
                results.setdefault((label, name), []).append((cpu, wall))
                print(f"round {r} {name:5s} {label:26s} cpu {cpu:6.1f} s  wall {wall:6.1f} s", flush=True)
    print(f"\nthis: {REPO}\nother: {trees['other']}")
    print(f"{'command':28s} {'this cpu':>9s} {'other cpu':>10s} {'ratio':>6s} {'this wall':>10s} {'other wall':>11s}")
    for label, _ in steps:
        this = results[(label, "this")]
        other = results[(label, "other")]
        c1, c2 = min(c for c, _ in this), min(c for c, _ in other)
        w1, w2 = min(w for _, w in this), min(w for _, w in other)
        print(f"{label:28s} {c1:9.1f} {c2:10.1f} {c1 / c2:6.2f} {w1:10.1f} {w2:11.1f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
