"""One training run across the processes of one machine (data-parallel, through `accelerate launch`).

The CLI re-runs itself under `accelerate launch --multi_gpu` (DDP: NCCL on GPUs, gloo on CPU),
with WORKBENCH_LAUNCHED set so the children train instead of launching again. Every process
trains its share of each batch; only rank 0 writes the catalog (DuckDB has one writer), the
adapter, the loss curve and the sanity generations. A run trained by N processes sees N times
the examples per step, so N is part of its id.
"""

from __future__ import annotations

import os
import subprocess
import sys

from workbench.core.device import detect
from workbench.train.config import TrainError

LAUNCHERS = ("accelerate",)
LAUNCHED_ENV = "WORKBENCH_LAUNCHED"


def rank() -> int:
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    return bool(os.environ.get(LAUNCHED_ENV))


def default_processes() -> int:
    acc = detect()
    return acc.count if acc.cuda and acc.count > 1 else 2


def launch_command(train_args: list[str], processes: int, launcher: str = "accelerate") -> list[str]:
    """The command line that runs `workbench train run TRAIN_ARGS` in `processes` processes."""
    if launcher not in LAUNCHERS:
        raise TrainError(f"unknown launcher {launcher!r}: use {', '.join(LAUNCHERS)}")
    if processes < 1:
        raise TrainError(f"--processes must be at least 1, got {processes}")
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--module", "workbench", "train", "run", *train_args]


def launch(train_args: list[str], processes: int, launcher: str = "accelerate") -> int:
    """Run the launcher (its output streams through); the exit code of the run."""
    cmd = launch_command(train_args, processes, launcher)
    env = {**os.environ, LAUNCHED_ENV: launcher}
    if not env.get("OMP_NUM_THREADS"):  # processes share the cores instead of each taking them all
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or processes) // processes))
    return subprocess.run(cmd, env=env).returncode
