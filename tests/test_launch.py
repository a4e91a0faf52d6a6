"""`workbench train run --launcher accelerate`: one run, data-parallel over 2 CPU processes (gloo).
The loss curve is recorded once (rank 0 writes the catalog) and the adapter has the same shape
as a single-process run's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli_here
from tests.test_train import FAST, arithmetic_records
from workbench.data.store import save_version
from workbench.train import TrainError, train
from workbench.train.launch import launch_command


def test_launch_command():
    cmd = launch_command(["--data", "v"], 2)
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "2" and "--multi_gpu" in cmd
    assert cmd[-5:] == ["workbench", "train", "run", "--data", "v"]
    with pytest.raises(TrainError, match="unknown launcher 'deepspeed'"):
        launch_command([], 2, "deepspeed")
    with pytest.raises(TrainError, match="at least 1"):
        launch_command([], 0)


def _shapes(adapter_dir):
    from safetensors import safe_open

    with safe_open(str(adapter_dir / "adapter_model.safetensors"), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def test_two_cpu_processes_train_one_run(ws, tiny_model_dir, tmp_path):
    vid = save_version(ws, arithmetic_records(), "toy", "ingest").id
    cfg = {**FAST, "batch_size": 2}
    single = train(ws, vid, str(tiny_model_dir), cfg, progress=False)
    path = tmp_path / "train.json"
    path.write_text(json.dumps(cfg))
    proc = run_cli_here("train", "run", "--data", vid, "--base", str(tiny_model_dir), "--config", str(path),
                        "--launcher", "accelerate", "--processes", "2", env={"OMP_NUM_THREADS": "1"})
    cat = ws.catalog()
    runs = cat.list_runs(vid)
    assert len(runs) == 2, proc.stdout + proc.stderr
    ddp = next(r for r in runs if r["id"] != single.id)  # 2 processes: twice the examples per step, its own id
    assert ddp["status"] == "finished" and ddp["meta"]["data_parallel"] == 2
    assert proc.stdout.count(f"run {ddp['id']}") == 1  # rank 0 reports, once
    steps = [s["step"] for s in cat.run_steps(ddp["id"]) if s["loss"] is not None]
    assert steps == [1, 2, 3, 4]  # the curve once, not once per process
    assert _shapes(single.adapter_dir) == _shapes(Path(ddp["adapter_dir"]))
