"""Helpers for the ablation, report and app tests: tiny data, a tiny spec, one filled catalog.

The filled catalog (a real 2-variant ablation on the tiny model) is made once per test
session and shared by the report and app tests, which only read it.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import yaml

_FILLED: dict[str, Path] = {}

QUESTIONS = [
    ("What is 2 + 3?", "2 + 3 = 5.\n#### 5"),
    ("Name a primary colour.", "Red is a primary colour."),
    ("Write the word cat in capitals.", "CAT"),
    ("What is 10 - 4?", "10 - 4 = 6.\n#### 6"),
    ("Say hello in French.", "Bonjour."),
    ("How many legs does a spider have?", "A spider has eight legs.\n#### 8"),
    ("Give a synonym of quick.", "Fast."),
    ("What is 3 * 3?", "3 * 3 = 9.\n#### 9"),
    ("Is the sun a star?", "Yes, the sun is a star."),
    ("What is 12 / 4?", "12 / 4 = 3.\n#### 3"),
    ("Spell dog backwards.", "god"),
    ("What comes after Monday?", "Tuesday comes after Monday."),
]


def write_data(folder: Path) -> dict[str, Path]:
    """Two small alpaca-format files (all questions; the math half), plus a malformed one."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"all": folder / "all.jsonl", "math": folder / "math.jsonl", "broken": folder / "broken.jsonl"}
    with open(paths["all"], "w") as fh:
        for q, a in QUESTIONS + QUESTIONS[:2]:  # two exact repeats for the curation step to remove
            fh.write(json.dumps({"instruction": q, "output": a}) + "\n")
    with open(paths["math"], "w") as fh:
        for q, a in QUESTIONS:
            if "####" in a:
                fh.write(json.dumps({"instruction": q, "output": a}) + "\n")
    paths["broken"].write_text('{"instruction": "ok", "output": "fine"}\n{"instruction": \n')
    return paths


def tiny_spec(folder: Path, model_dir: Path, name: str = "tiny", suites: list[str] | None = None,
              max_steps: int = 3, extra_variants: list[dict] | None = None, **train) -> Path:
    paths = write_data(folder / "data")
    spec = {
        "name": name,
        "base": str(model_dir),
        "seeds": [0],
        "train": {"max_steps": max_steps, "batch_size": 4, "max_length": 128, "sanity_prompts": 0, **train},
        "eval": {"suites": suites or default_suites(), "layer": "smoke", "limit": 3, "max_gen_toks": 16},
        "variants": [
            {"name": "all", "sources": [str(paths["all"])], "recipe": {"steps": [{"step": "exact_dedup"}]}},
            {"name": "math", "sources": [str(paths["math"])]},
            *(extra_variants or []),
        ],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def default_suites() -> list[str]:
    """Two cheap suites from evalsuites/ (whatever the evals area ships)."""
    from workbench.evals.suites import discover  # noqa: F401 - fails clearly if evals is missing

    return ["gsm_style", "think_follow"]


def filled_workspace(tmp_path_factory, model_dir: Path):
    """A workspace holding one finished tiny ablation named 'tiny' (made once per test run)."""
    from workbench.ablate import run_ablation
    from workbench.core.workspace import Workspace

    if "home" not in _FILLED:
        from tests.conftest import once_per_run

        def build(folder: Path) -> None:
            result = run_ablation(Workspace(folder / "home"), tiny_spec(folder, model_dir))
            assert not result.failures, [(o.task.label, o.error) for o in result.failures]

        # made once per run (the first worker to ask; the others wait), then copied: each worker's
        # tests write to their own copy (reports, views); its adapters stay where the run made them
        shared = once_per_run(tmp_path_factory, "filled", build)
        mine = tmp_path_factory.mktemp("filled") / "home"
        shutil.copytree(shared / "home", mine)
        _FILLED["home"] = mine
    return Workspace(_FILLED["home"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str | None:
    return shutil.which("chromium") or (str(Path("/usr/bin/chromium")) if Path("/usr/bin/chromium").exists() else None)


def mini_spec(folder: Path, model_dir: Path, name: str, **train) -> Path:
    """The smallest real ablation: one variant, one seed, one training step, 2 likelihood items.
    Specs of other names made in the same folder have the same tasks (same content hashes)."""
    paths = write_data(folder / "data")
    spec = {
        "name": name, "base": str(model_dir), "seeds": [0],
        "train": {"max_steps": 1, "batch_size": 4, "max_length": 128, "sanity_prompts": 0, **train},
        "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 2},
        "variants": [{"name": "math", "sources": [str(paths["math"])]}],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
