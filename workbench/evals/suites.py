"""Discover and validate eval suites: one folder each under evalsuites/, plain lm-eval tasks.

A suite folder holds one lm-eval task YAML per layer (`metadata.layer: smoke|core`,
`metadata.suite: NAME`), the data JSONL they name in `metadata.data_file`, and a utils.py.
Adding a suite is dropping such a folder; `make_suite` copies an existing one around a new
JSONL (the official IFEval file, a GSM8K-format file, any prompt/reference set).
"""

from __future__ import annotations

from workbench.configfile import read_config_text
from workbench.errors import WorkbenchError

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LAYERS = ("smoke", "core")
SMOKE_SIZE = 30


class SuiteError(WorkbenchError, ValueError):
    """An unknown suite or layer, a broken suite file, or a bad data row (names file:line)."""


def default_dirs() -> list[Path]:
    """evalsuites/ of this checkout, plus any folders on WORKBENCH_SUITES (os.pathsep-separated)."""
    dirs = [Path(p) for p in os.environ.get("WORKBENCH_SUITES", "").split(os.pathsep) if p]
    repo = Path(__file__).resolve().parents[2] / "evalsuites"
    if repo.is_dir():
        dirs.append(repo)
    cwd = Path.cwd() / "evalsuites"
    if cwd.is_dir() and cwd.resolve() not in [d.resolve() for d in dirs]:
        dirs.append(cwd)
    return dirs


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps lm-eval's `!function module.name` tags as strings."""


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(read_config_text(path), Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SuiteError(f"{where}: broken YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a task YAML must be a mapping")
    return data


@dataclass
class Suite:
    name: str
    dir: Path
    tasks: dict[str, str] = field(default_factory=dict)  # layer -> lm-eval task name
    configs: dict[str, dict] = field(default_factory=dict)  # layer -> parsed YAML

    def meta(self, layer: str) -> dict:
        return self.configs[layer].get("metadata") or {}

    def data_path(self, layer: str) -> Path:
        p = Path(self.meta(layer).get("data_file", "data.jsonl"))
        return p if p.is_absolute() else self.dir / p

    def required_fields(self, layer: str) -> list[str]:
        return list(self.meta(layer).get("required_fields") or [])

    @property
    def primary_metric(self) -> str | None:
        return (self.meta("core") if "core" in self.configs else self.meta(next(iter(self.configs)))).get("primary_metric")

    @property
    def pass_metrics(self) -> list[str]:
        layer = "core" if "core" in self.configs else next(iter(self.configs))
        return list(self.meta(layer).get("pass_metrics") or [])

    def content_hash(self) -> str:
        """Hash of every file that decides what is asked and how it is scored."""
        h = hashlib.sha256()
        files = sorted(p for p in self.dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.name != "make_data.py")
        extra = {self.data_path(layer) for layer in self.configs} - set(files)
        for p in [*files, *sorted(extra)]:
            if not p.exists():
                continue
            h.update(str(p.relative_to(self.dir) if p.is_relative_to(self.dir) else p).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
        return h.hexdigest()[:16]

    def rows(self, layer: str) -> list[dict]:
        """The layer's items, validated (missing field -> SuiteError naming file:line)."""
        from workbench.evals.scoring import DataError, layer_rows, read_jsonl

        try:
            return layer_rows(read_jsonl(self.data_path(layer), self.required_fields(layer)), layer)
        except DataError as e:
            raise SuiteError(f"suite {self.name}: {e}") from None

    def validate(self, layer: str | None = None) -> None:
        for lay in [layer] if layer else list(self.configs):
            if lay not in self.configs:
                raise SuiteError(f"suite {self.name} has no {lay!r} layer (has: {', '.join(self.configs)})")
            rows = self.rows(lay)
            ids = [r["id"] for r in rows]
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise SuiteError(f"{self.data_path(lay)}: duplicate item id {dup!r}")


def load_suite(folder: Path) -> Suite | None:
    """A Suite from a folder of task YAMLs, or None if the folder has none with metadata.suite."""
    suite = None
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        cfg = _read_yaml(path)
        meta = cfg.get("metadata") or {}
        if "task" not in cfg or "suite" not in meta:
            continue
        layer = meta.get("layer")
        if layer not in LAYERS:
            raise SuiteError(f"{path}: metadata.layer must be one of {', '.join(LAYERS)}, got {layer!r}")
        if suite is None:
            suite = Suite(name=str(meta["suite"]), dir=folder)
        elif suite.name != meta["suite"]:
            raise SuiteError(f"{path}: metadata.suite {meta['suite']!r} differs from {suite.name!r} in the same folder")
        if layer in suite.tasks:
            raise SuiteError(f"{path}: a second {layer!r} task for suite {suite.name}")
        suite.tasks[layer] = str(cfg["task"])
        suite.configs[layer] = cfg
    return suite


def discover(dirs: list[Path] | None = None) -> dict[str, Suite]:
    """Every suite folder under the given roots (first root wins on a repeated name)."""
    found: dict[str, Suite] = {}
    for root in dirs or default_dirs():
        if not Path(root).is_dir():
            continue
        for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            suite = load_suite(folder)
            if suite is not None:
                found.setdefault(suite.name, suite)
    return found


def select(names: list[str] | str | None = None, layer: str = "smoke", dirs: list[Path] | None = None) -> list[Suite]:
    """The named suites (all when None), checked to have the layer and valid data."""
    if layer not in LAYERS:
        raise SuiteError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}")
    available = discover(dirs)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names or available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SuiteError(f"unknown suite(s) {', '.join(unknown)}; available: {', '.join(sorted(available)) or 'none'}")
    chosen = [available[n] for n in names]
    for s in chosen:
        s.validate(layer)
    return chosen


# ---------------------------------------------------------------------------------------
# Making a new suite from a JSONL
# ---------------------------------------------------------------------------------------


def _normalize_row(template: str, row: dict, lineno: int, path: Path) -> dict:
    """Map a source row to the template suite's fields (official IFEval `key`, GSM8K as is)."""
    row = dict(row)
    if "id" not in row:
        row["id"] = str(row["key"]) if "key" in row else f"{path.stem}-{lineno}"
    if template == "think_follow" and "mode" not in row and "system" in row:
        row["mode"] = str(row["system"]).lstrip("/")
    if template == "think_follow" and "system" not in row and "mode" in row:
        row["system"] = f"/{row['mode']}"
    return row


def mark_smoke(rows: list[dict], size: int = SMOKE_SIZE) -> list[dict]:
    """Mark every k-th item as the smoke layer, so the layer spans the whole suite."""
    step = max(1, len(rows) // size)
    for j, row in enumerate(rows):
        row["smoke"] = j % step == 0 and j // step < size
    return rows


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> None:
    """A suite's data file: one JSON object per line, UTF-8 as is."""
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def make_suite(name: str, template: str, data: str | os.PathLike, dest: str | os.PathLike | None = None,
               smoke_size: int = SMOKE_SIZE) -> Suite:
    """A new suite folder NAME made from TEMPLATE's task YAMLs and scoring around a JSONL file."""
    from workbench.evals.scoring import DataError, read_jsonl

    suites = discover()
    if template not in suites:
        raise SuiteError(f"unknown template suite {template!r}; available: {', '.join(sorted(suites))}")
    if not name.replace("_", "").isalnum():
        raise SuiteError(f"suite name {name!r}: use letters, digits and underscores")
    src = suites[template]
    dest_root = Path(dest) if dest else src.dir.parent
    folder = dest_root / name
    if folder.exists():
        raise SuiteError(f"{folder} already exists; pick another name or remove it")
    data = Path(data)
    try:
        raw = read_jsonl(data, [f for f in src.required_fields("core") if f not in ("id", "mode")])
    except DataError as e:
        raise SuiteError(str(e)) from None
    rows = []
    with open(data, encoding="utf-8") as f:
        linenos = [i for i, line in enumerate(f, 1) if line.strip()]
    for lineno, row in zip(linenos, raw):
        row = _normalize_row(template, row, lineno, data)
        missing = [k for k in src.required_fields("core") if row.get(k) in (None, "")]
        if missing:
            raise SuiteError(f"{data}:{lineno}: missing field(s) {', '.join(missing)}")
        rows.append(row)
    mark_smoke(rows, smoke_size)
    tmp = dest_root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy2(src.dir / "utils.py", tmp / "utils.py")
    for layer, task in src.tasks.items():
        text = (src.dir / f"{task}.yaml").read_text(encoding="utf-8") if (src.dir / f"{task}.yaml").exists() else None
        if text is None:
            raise SuiteError(f"{src.dir}: expected {task}.yaml for layer {layer}")
        new_task = name if layer == "core" else f"{name}_{layer}"
        text = text.replace(f"task: {task}\n", f"task: {new_task}\n").replace(f"suite: {template}\n", f"suite: {name}\n")
        text = text.replace(f"--tasks {task} ", f"--tasks {new_task} ")
        text = f"# Made by `workbench eval make-suite` from {data} (template: {template}).\n" + text
        (tmp / f"{new_task}.yaml").write_text(text, encoding="utf-8")
    write_jsonl(tmp / "data.jsonl", rows)
    os.replace(tmp, folder)
    suite = load_suite(folder)
    assert suite is not None
    suite.validate()
    return suite
