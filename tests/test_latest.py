"""Drift check (`python -m pytest -m latest`, not in the default run; needs the package index).

Installs the NEWEST releases of every dependency into a fresh plain venv (not
--system-site-packages: that would reuse what is installed here) and runs the CLI tests
there, so a new typer/click/... that breaks the command line shows up as a failing run
rather than as a user's traceback. torch stays at the installed release (an unpinned torch
pulls a multi-GB CUDA build); everything else is `pip install -U --upgrade-strategy eager`.

WORKBENCH_LATEST_TESTS chooses what runs in the venv (default: the CLI usage-error tests;
e.g. "tests" for the whole default suite).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.latest, pytest.mark.timeout(3600)]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_newest_releases_pass_the_cli_tests(tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    pins = tmp_path / "pins.txt"
    pins.write_text(f"torch=={version('torch').split('+')[0]}\n")
    _run([py, "-m", "pip", "install", "-q", "-U", "pip"])
    # a plain (non-editable) install builds in a temporary directory: nothing lands in the repo
    _run([py, "-m", "pip", "install", "-q", "-U", "--upgrade-strategy", "eager", "-c", str(pins), f"{REPO}[dev]"],
         timeout=3000)
    freeze = _run([py, "-m", "pip", "freeze"]).stdout
    print("newest releases installed:\n" + freeze)  # shown with -rA / on failure: what drifted
    assert "typer==" in freeze and "duckdb==" in freeze
    targets = os.environ.get("WORKBENCH_LATEST_TESTS", "tests/test_cli_errors.py").split()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *targets],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, f"tests failed on the newest releases:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
