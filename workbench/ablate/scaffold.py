"""`workbench ablate new`: a commented, ready-to-run ablation spec from the curator's own files.

One variant per data file (its file name, made a valid variant name), plus a curated variant of
all files together when a recipe is given; the first file's variant is the baseline and gets an
A/A control (trained twice) so the report can tell an effect from seed noise. Train and eval
sizes fit the machine: the quickstart's on a CPU, larger on a GPU.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.ablate.spec import SpecError, load_spec
from workbench.core.names import NAME_RE


@dataclass(frozen=True)
class Sizes:
    """Train and eval settings for one kind of machine."""

    where: str
    max_steps: int
    batch_size: int
    grad_accum: int
    max_length: int
    layer: str
    note: str


CPU = Sizes("a CPU", 12, 2, 3, 384, "smoke",
            "~2 minutes of training per run on 2 cores (the quickstart's size)")
GPU = Sizes("a GPU", 200, 8, 2, 1024, "core",
            "a few minutes per run on one GPU; raise max_steps for a real signal")


def machine_sizes() -> Sizes:
    try:
        import torch

        return GPU if torch.cuda.is_available() else CPU
    except ImportError:  # pragma: no cover - torch is a dependency
        return CPU


def variant_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem).strip("-.") or "data"
    base = base[:56] if base != "base" else "data-base"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


def _rel(path: str, folder: Path) -> str:
    """A path as the spec will read it: relative to the spec's folder where it can be."""
    p = Path(path).resolve()
    try:
        rel = os.path.relpath(p, folder.resolve())
    except ValueError:  # another drive (Windows)
        return str(p)
    return str(p) if rel.startswith(os.path.join("..", "..")) else rel


def _q(path: str, folder: Path) -> str:
    return json.dumps(_rel(path, folder))  # a JSON string is a YAML string: any path reads back as is


def _line(text: str, comment: str) -> str:
    """A YAML line with its comment in the column the quickstart uses."""
    return f"{text:<36} # {comment}"


def render_spec(name: str, data: list[str], folder: Path, recipe: str | None = None,
                suites: list[str] | None = None, sizes: Sizes | None = None) -> str:
    """The spec's text (YAML with a comment on every key)."""
    if not NAME_RE.match(name):
        raise SpecError(f"ablation name {name!r}: use letters, digits, '_', '-', '.' (at most 64 characters)")
    if not data:
        raise SpecError("give at least one --data file")
    missing = [d for d in data if not Path(d).exists()]
    if missing:
        raise SpecError(f"--data {missing[0]} does not exist")
    if recipe is not None and not Path(recipe).exists():
        raise SpecError(f"--recipe {recipe} does not exist")
    sizes = sizes or machine_sizes()
    suites = suites or ["think_follow", "semsim"]
    taken: set[str] = set()
    names = []
    for d in data:
        names.append(variant_name(d, taken))
        taken.add(names[-1])
    lines = [
        f"# Ablation {name!r}: which of these data files makes the model better, and is it more than noise?",
        f"# Written by `workbench ablate new` for {sizes.where}. Check it, then:",
        f"#   workbench ablate {name}.yaml --dry-run   # the tasks, what is cached, a time estimate",
        f"#   workbench ablate {name}.yaml             # run (Ctrl-C and rerun to resume)",
        f"#   workbench report {name}                  # the verdicts, with confidence intervals",
        "# Relative paths are read from this file's folder.",
        _line(f"name: {name}", f"the ablation's name: the report and `ablate status` use it"),
        _line("base: smollm2-135m-instruct", "the model every variant fine-tunes (bundled name, local dir or hub id)"),
        _line("seeds: [0]", "training seeds per variant; more seeds, tighter confidence intervals"),
        _line(f"baseline: {names[0]}", f"every variant is judged against this one"),
        _line("control:", "A/A: the baseline trained again with another seed, same data;"),
        _line(f"  variant: {names[0]}", f"the difference between the two is the noise floor"),
        _line("  seeds: [0, 1]", "a real effect must clear"),
        _line(f"train:", f"TrainConfig keys (examples/train.yaml lists them all); {sizes.note}"),
        _line(f"  max_steps: {sizes.max_steps}", f"optimizer steps per run"),
        _line(f"  batch_size: {sizes.batch_size}", f"examples per forward pass"),
        _line(f"  grad_accum: {sizes.grad_accum}", f"passes per step: batch_size x grad_accum examples a step"),
        _line("  lr: 5.0e-4", "LoRA learning rate"),
        _line("  warmup_ratio: 0.1", "share of the steps with a rising learning rate"),
        _line(f"  max_length: {sizes.max_length}", f"tokens per example; longer ones are cut"),
        _line("  save_steps: 4", "checkpoint interval: what an interrupted run resumes from"),
        _line("  report_to: none", "or tensorboard / mlflow / wandb (offline modes) for loss curves"),
        _line("eval:", "what every run (and the untrained base model) is scored on"),
        _line(f"  suites: [{', '.join(suites)}]", f"`workbench eval suites` lists them; add your own with `eval make-suite`"),
        _line(f"  layer: {sizes.layer}", f"smoke: ~30 items per suite; core: every item"),
        _line("variants:", "one per data file; each is built, trained and evaluated"),
    ]
    for n, d in zip(names, data):
        lines += [f"  - name: {n}", _line(f"    sources: [{_q(d, folder)}]", "read as is (JSONL, JSON, Parquet or CSV)")]
    if recipe is not None:
        lines += [_line(f"  - name: {variant_name('curated', taken)}", "all the files together, curated by the recipe"),
                  _line(f"    sources: [{', '.join(_q(d, folder) for d in data)}]", "concatenated, then curated"),
                  _line(f"    recipe: {_q(recipe, folder)}", "curation steps (dedup, filters, decontamination)")]
    return "\n".join(lines) + "\n"


def write_spec(path: Path, name: str, data: list[str], recipe: str | None = None, suites: list[str] | None = None,
               sizes: Sizes | None = None, force: bool = False) -> Path:
    """Write the spec to `path`, then load it back (a spec it writes always loads)."""
    path = Path(path)
    if path.exists() and not force:
        raise SpecError(f"{path} exists; pass --force to overwrite it or --out for another path")
    text = render_spec(name, data, path.parent, recipe, suites, sizes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_spec(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path
