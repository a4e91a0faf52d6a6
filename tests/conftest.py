"""Shared fixtures: an isolated workspace, and a tiny random model for fast real training/eval;
and how the default suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml's addopts).

Parallel runs: `--dist loadgroup` keeps each test file on one worker (its module fixtures are
built once) and every test that uses the session's Ray instance on one worker (one Ray, not one
per worker); files in SLOWEST_FIRST are handed out first so that the two workers end together.
`python -m pytest -n 0` runs everything in this one process, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach for the network: hub lookups fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WORKBENCH_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Under xdist the workers share the cores: each (and what it starts) sizes its thread pools to its
# share, as `workbench train --processes N` does, instead of every worker taking all cores.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, str(max(1, _cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

# Test files by their wall time, slowest first (`python -m pytest --durations=0`, 2026-12-06; see
# benchmarks/README.md "Test speed"); xdist hands work out in collection order, so the long ones
# start at once and the short ones fill the gaps at the end. Files not listed follow, in order.
# The xdist group "credit" (tests of test_mixture_search, test_shapley and test_app sharing one
# ablation) takes the rank of its first file.
SLOWEST_FIRST = [
    "test_mixture_search.py", "test_shapley.py", "test_warm_workers.py", "test_plugins.py", "test_ablate_ray.py",
    "test_faults.py", "test_eval_runner.py", "test_app.py", "test_badinput.py", "test_ablate_e2e.py",
    "test_strategies_e2e.py", "test_two_writers.py", "test_prefs.py", "test_method_curves.py", "test_maintenance.py",
    "test_curate_warnings.py", "test_train.py", "test_eval_likelihood.py", "test_verify_repair.py", "test_synth.py",
    "test_ux.py", "test_export.py", "test_until_decided.py", "test_diskfull.py", "test_suites.py",
    "test_ablate_executors.py", "test_checkpoint_avg.py", "test_heldout.py", "test_launch.py", "test_one_engine.py",
    "test_models.py", "test_eval_decode.py", "test_scale.py", "test_ids.py", "test_backup.py", "test_catalog.py",
]
MAX_WORKERS = 4  # -n auto: at most this many workers (each imports torch: ~1.4 GB)


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: one worker more than the cores this process may use, capped (a 2-core machine gets
    3). Many tests wait on a process they started (a CLI, a killed ablation, a browser); with one
    worker per core the cores sat idle a sixth of the time (168% of 200% measured)."""
    return max(1, min(_cores() + 1, MAX_WORKERS))


def pytest_sessionstart(session) -> None:
    """Convert the bundled model (GGUF -> safetensors, once per cache) before any worker starts, so
    that two workers never convert it into the same cache folder at once."""
    if hasattr(session.config, "workerinput"):
        return
    from workbench.core.errors import WorkbenchError
    from workbench.core.models import DEFAULT_MODEL, bundled_dir
    from workbench.core.workspace import cache_dir

    if not (cache_dir() / "models" / DEFAULT_MODEL / "model.safetensors").exists():
        try:
            bundled_dir(DEFAULT_MODEL)
        except WorkbenchError:
            pass  # not installed: the tests that need it say so themselves


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = "ray" if "ray_address" in item.fixturenames else item.path.name
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A fresh workspace (WORKBENCH_HOME) for one test; subprocesses inherit it."""
    from workbench.core.workspace import Workspace

    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return Workspace(home)


def run_folder(tmp_path_factory) -> Path:
    """This pytest run's temporary folder, shared by its xdist workers (each has a folder inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` run once per pytest run, whichever worker asks first; the others wait for it
    (a file lock) and get the same folder. A build that failed is redone by the next one to ask."""
    import fcntl
    import shutil

    root = run_folder(tmp_path_factory)
    target, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            build(target)
            done.touch()
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama with the bundled SmolLM2 tokenizer (ChatML template).

    Made once per test run in a few seconds (one folder for every worker, so every worker's runs
    name the same base path); real weights, real forward passes.
    """
    return once_per_run(tmp_path_factory, "tiny-model", _make_tiny_model)


def _make_tiny_model(out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbench.core.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, check: bool = True):
    """Run the real `workbench` console script in a subprocess."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_cli_here(*args: str, env: dict | None = None, cwd: Path | None = None, check: bool = True):
    """The `workbench` command line in this process: the console script's entry point
    (`workbench.cli.main`) with the same argv, environment, working directory, exit code and
    stdout/stderr (captured at the file descriptors, so task logs and child processes behave as
    under the console script), without an interpreter start-up that imports torch again (~5-10 s
    on 2 shared cores). Use `run_cli` where the process itself is under test (kill -9, output
    of a fresh interpreter, concurrency); this one for what a command computes and prints."""
    import io
    import subprocess
    import sys
    import tempfile
    import traceback

    from workbench.cli import main

    saved_env, saved_cwd, saved_argv, saved_hook = dict(os.environ), os.getcwd(), sys.argv, sys.excepthook
    saved_streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        for stream in saved_streams:
            stream.flush()
        saved_fds = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", line_buffering=True)
        code = 0
        try:
            os.environ.update(env or {})
            if cwd is not None:
                os.chdir(cwd)
            sys.argv = ["workbench", *args]
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int | None):
                print(e.code, file=sys.stderr)  # as the interpreter does with sys.exit("message")
        except Exception:  # noqa: BLE001 - what the interpreter would print, and its exit code
            traceback.print_exc()
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
                stream.detach()
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
            sys.stdout, sys.stderr = saved_streams
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)
            sys.argv, sys.excepthook = saved_argv, saved_hook
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(["workbench", *args], code, out.read().decode("utf-8", "replace"),
                                           err.read().decode("utf-8", "replace"))
    if check and proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray instance (2 CPUs) for the whole session: Ray takes many seconds to start."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (bash setup.sh installs it)")
    ctx = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 ** 2,
                   log_to_driver=False, configure_logging=False,
                   _system_config={"worker_niceness": 0})  # Ray's default 15 starves its workers on a busy machine
    yield ctx.address_info["gcs_address"]
    ray.shutdown()


def manual_bpb(model_dir, context: str, reference: str, adapter_dir=None) -> float:
    """Bits per byte of `reference` after `context` from one plain transformers forward pass (with
    `adapter_dir` merged in by peft): the by-hand figure the likelihood tests check the runner against."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    model.eval()
    ctx = context.rstrip()
    cont = context[len(ctx):] + reference
    whole = tok(ctx + cont, add_special_tokens=False)["input_ids"]
    n_ctx = len(tok(ctx, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].double(), -1)
    lp = sum(float(logp[i - 1, whole[i]]) for i in range(n_ctx, len(whole)))
    return -lp / math.log(2) / len(cont.encode("utf-8"))
