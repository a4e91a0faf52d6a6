"""Discover and validate eval suites: one folder each under evalsuites/, plain lm-eval tasks.

A suite folder holds one lm-eval task YAML per layer (`metadata.layer: smoke|core`,
`metadata.suite: NAME`), the data JSONL they name in `metadata.data_file`, and a utils.py.
Adding a suite is dropping such a folder; `make_suite` copies an existing one around a new
JSONL (the official IFEval file, a GSM8K-format file, any prompt/reference set).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import types
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.core.config import read_config
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.core.hashing import suite_config_id, suite_files_id
from workbench.core.registry import Registry

LAYERS = ("smoke", "core")
SMOKE_SIZE = 30


class EvalError(WorkbenchError, ValueError):
    """Bad eval input (unknown model or run, nothing to compare, a run trained on held-out rows);
    the message says what to do."""


class SuiteError(ConfigError):
    """An unknown suite or layer, a broken suite file, or a bad data row (names file:line)."""


def _suite_root(name: str, obj) -> Path:
    if isinstance(obj, types.ModuleType):  # a module: the folder it sits in
        return Path(obj.__file__).resolve().parent
    if not isinstance(obj, (str, os.PathLike)):
        raise TypeError(f"names a {type(obj).__name__}, not a folder path (str or Path) or a module")
    return Path(obj)


# folders of suites from installed packages: entry points in group `workbench.suites`
# (`my_suites = "my_pkg:SUITES"` with SUITES a folder path, or a module: its folder)
SUITE_PATHS: Registry[Path] = Registry("suite path", "workbench.suites", _suite_root)


def default_dirs() -> list[Path]:
    """Folders on WORKBENCH_SUITES (os.pathsep-separated), WORKBENCH_HOME/evalsuites (held-out suites
    of the workspace's data), evalsuites/ of this checkout and of the current directory, then the suite folders of installed packages (SUITE_PATHS); on a name in
    two of them, the first wins."""
    dirs = [Path(p) for p in os.environ.get("WORKBENCH_SUITES", "").split(os.pathsep) if p]
    home = workspace_suites_dir()
    if home.is_dir():
        dirs.append(home)
    repo = Path(__file__).resolve().parents[2] / "evalsuites"
    if repo.is_dir():
        dirs.append(repo)
    cwd = Path.cwd() / "evalsuites"
    if cwd.is_dir() and cwd.resolve() not in [d.resolve() for d in dirs]:
        dirs.append(cwd)
    return dirs + [p for p in SUITE_PATHS.values() if p.resolve() not in [d.resolve() for d in dirs]]


def workspace_suites_dir() -> Path:
    """WORKBENCH_HOME/evalsuites: suites made from a workspace's own data (`workbench eval heldout`)."""
    return Path(os.environ.get("WORKBENCH_HOME", ".workbench")).resolve() / "evalsuites"


class _Function(str):
    """An lm-eval `!function module.name` tag, kept as its text (written back as the tag)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps lm-eval's `!function module.name` tags as strings."""


class _Dumper(yaml.SafeDumper):
    """Writes task YAML back with its `!function` tags."""


_Loader.add_constructor("!function", lambda loader, node: _Function(loader.construct_scalar(node)))
_Dumper.add_representer(_Function, lambda dumper, v: dumper.represent_scalar("!function", str(v)))


def _read_yaml(path: Path) -> dict:
    data = read_config(path, SuiteError, loader=_Loader, phrase="broken YAML").data
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a task YAML must be a mapping")
    return data


def read_task_yaml(path: Path, _seen: frozenset = frozenset()) -> dict:
    """A task YAML with its `include:` files merged in, the way lm-eval merges them: each
    included file (relative to the including one) in order, then the file's own keys on top
    (a shallow update: a key set here replaces the included key whole)."""
    data = _read_yaml(path)
    includes = data.pop("include", None)
    if includes is None:
        return data
    merged: dict = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        inc_path = Path(inc) if Path(inc).is_absolute() else path.parent / str(inc)
        if inc_path.resolve() in _seen or inc_path.resolve() == path.resolve():
            raise SuiteError(f"{path}: include cycle at {inc_path}")
        if not inc_path.is_file():
            raise SuiteError(f"{path}: include {inc!r} not found ({inc_path})")
        sub = read_task_yaml(inc_path, _seen | {path.resolve()})
        sub.pop("task_list", None)
        merged.update(sub)
    merged.update(data)
    return merged


def included_files(path: Path, _seen: frozenset = frozenset()) -> list[Path]:
    """The files a task YAML's `include:` chain reads (resolved), with the utils.py beside each
    (its `!function` hooks live there)."""
    out: list[Path] = []
    includes = _read_yaml(path).get("include")
    for inc in [] if includes is None else includes if isinstance(includes, list) else [includes]:
        inc_path = (Path(inc) if Path(inc).is_absolute() else path.parent / str(inc)).resolve()
        if inc_path in _seen or not inc_path.is_file():
            continue  # read_task_yaml names the cycle or the missing file
        out += [inc_path, *[u for u in [inc_path.parent / "utils.py"] if u.is_file()]]
        out += included_files(inc_path, _seen | {inc_path})
    return out


@functools.lru_cache(maxsize=1)
def lm_eval_task_manager():
    """lm-eval's TaskManager over its own built-in tasks (indexing them takes seconds: once)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=True)


def builtin_task(name: str) -> "Suite | None":
    """A task registered in lm-eval itself (ifeval, gsm8k, arc_easy, ...) as a Suite, or None.

    It has no data file here (lm-eval loads its hub dataset, which needs the network once);
    both layers run the same task, the smoke layer on its first SMOKE_SIZE items."""
    entry = lm_eval_task_manager().task_index.get(name)
    if entry is None or getattr(entry.kind, "name", "") != "TASK":
        return None
    cfg = dict(entry.cfg)
    return Suite(name=name, dir=Path(entry.yaml_path).parent, tasks={layer: name for layer in LAYERS},
                 configs={layer: cfg for layer in LAYERS}, builtin=True)


@dataclass
class Suite:
    name: str
    dir: Path
    tasks: dict[str, str] = field(default_factory=dict)  # layer -> lm-eval task name
    configs: dict[str, dict] = field(default_factory=dict)  # layer -> parsed YAML, includes merged
    files: dict[str, Path] = field(default_factory=dict)  # layer -> its task YAML
    builtin: bool = False  # a task of lm-eval itself, not a folder of ours

    def meta(self, layer: str) -> dict:
        return self.configs[layer].get("metadata") or {}

    def _suite_meta(self) -> dict:
        return self.meta("core" if "core" in self.configs else next(iter(self.configs)))

    def output_type(self, layer: str) -> str:
        return str(self.configs[layer].get("output_type") or "generate_until")

    @property
    def reference_field(self) -> str | None:
        """The data field holding each item's reference answer (`metadata.reference`): the
        runner scores its bits per byte under the model. None: generation metrics only."""
        ref = self._suite_meta().get("reference")
        return str(ref) if ref else None

    @property
    def likelihood_only(self) -> bool:
        """Scored by likelihood alone (lm-eval `loglikelihood`/`multiple_choice` in every layer): no
        generation, so a few hundred items cost about what 30 generated ones do."""
        return bool(self.configs) and all(self.output_type(lay) != "generate_until" for lay in self.configs)

    @property
    def heldout_of(self) -> str | None:
        """The dataset version whose rows this suite holds out (`metadata.heldout_of`, written by
        `workbench eval heldout`); its item ids are record ids, and a run trained on any of them is refused."""
        v = self._suite_meta().get("heldout_of")
        return str(v) if v else None

    @property
    def chat_template(self) -> bool:
        """Whether prompts go through the model's chat template (`metadata.chat_template`, default on)."""
        return bool(self._suite_meta().get("chat_template", True))

    @property
    def system_prompt(self) -> str | None:
        """A system prompt the suite sets (`metadata.system_prompt`) instead of the model's default."""
        sp = self._suite_meta().get("system_prompt")
        return str(sp) if sp else None

    def data_path(self, layer: str) -> Path:
        p = Path(self.meta(layer).get("data_file", "data.jsonl"))
        return p if p.is_absolute() else self.dir / p

    def required_fields(self, layer: str) -> list[str]:
        return list(self.meta(layer).get("required_fields") or [])

    @property
    def primary_metric(self) -> str | None:
        return self._suite_meta().get("primary_metric")

    @property
    def pass_metrics(self) -> list[str]:
        return list(self._suite_meta().get("pass_metrics") or [])

    def content_hash(self) -> str:
        """Hash of every file that decides what is asked and how it is scored."""
        if self.builtin:  # lm-eval's own task: its resolved config (lm-eval's version is recorded, not hashed)
            return suite_config_id(self.configs["core"])
        files = sorted(p for p in self.dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.name != "make_data.py")
        # a variant that includes another folder's task YAML depends on that file and its utils.py
        outside = {q for p in self.files.values() for q in included_files(p) if not q.is_relative_to(self.dir)}
        extra = ({self.data_path(layer) for layer in self.configs} | outside) - set(files)
        return suite_files_id((str(p.relative_to(self.dir) if p.is_relative_to(self.dir) else p), p.read_bytes())
                              for p in [*files, *sorted(extra)] if p.exists())

    def rows(self, layer: str) -> list[dict]:
        """The layer's items, validated (missing field -> SuiteError naming file:line)."""
        from workbench.evals.scoring import DataError, layer_rows, read_jsonl

        try:
            return layer_rows(read_jsonl(self.data_path(layer), self.required_fields(layer)), layer,
                              smoke_rows=self.meta(layer).get("smoke_rows"))
        except DataError as e:
            raise SuiteError(f"suite {self.name}: {e}") from None

    def validate(self, layer: str | None = None) -> None:
        if self.builtin:
            return
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
        cfg = read_task_yaml(path)
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
        suite.files[layer] = path
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
    for n in names:
        if n not in available and (found := builtin_task(n)) is not None:
            available[n] = found
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


def _header(name: str, layer: str, task: str, template: Suite, data: Path, dest_root: Path) -> str:
    first = ""
    path = template.files.get(layer)
    if path is not None:
        first = next((ln[2:] for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("# ")), "")
    return (f"# Suite {name}: made by `workbench eval make-suite` from {data}, with the prompt and scoring of "
            f"{template.name} ({first.strip() or 'no description'}).\n"
            f"# Layer: {layer}. Run alone with: lm_eval --model hf --model_args pretrained=DIR --include_path "
            f"{dest_root} --tasks {task} --apply_chat_template\n")


def _task_yaml(src: Suite, layer: str, name: str, new_tasks: dict[str, str], edits: dict) -> dict:
    """The template's layer YAML as data, renamed for the new suite (includes repointed)."""
    raw = _read_yaml(src.files[layer])
    raw["task"] = new_tasks[layer]
    raw["metadata"] = {**(raw.get("metadata") or {}), "suite": name}
    if "include" in raw:
        incs = raw["include"] if isinstance(raw["include"], list) else [raw["include"]]
        by_file = {p.resolve(): new_tasks[lay] + ".yaml" for lay, p in src.files.items()}
        out = [by_file.get((src.dir / str(i)).resolve(), str((src.dir / str(i)).resolve())) for i in incs]
        raw["include"] = out if isinstance(raw["include"], list) else out[0]
    if layer == "core" or "include" not in raw:  # settings live in the core file; the smoke inherits them
        if edits.get("max_gen_toks"):
            gen = dict(src.configs[layer].get("generation_kwargs") or {})
            raw["generation_kwargs"] = {**gen, "max_gen_toks": int(edits["max_gen_toks"])}
        for key in ("system_prompt", "chat_template"):
            if edits.get(key) is not None:
                raw["metadata"][key] = edits[key]
    return raw


def make_suite(name: str, template: str, data: str | os.PathLike, dest: str | os.PathLike | None = None,
               smoke_size: int = SMOKE_SIZE, force: bool = False, max_gen_toks: int | None = None,
               system_prompt: str | None = None, chat_template: bool | None = None) -> Suite:
    """A new suite folder NAME made from TEMPLATE's task YAMLs and scoring around a JSONL file.

    The YAMLs are edited as data (task, metadata.suite, include, generation settings), with a
    header naming the new suite. NAME may not be an lm-eval built-in task (which the suite
    would shadow under `--include_path`) unless `force`."""
    from workbench.evals.scoring import DataError, read_jsonl

    suites = discover()
    if template not in suites:
        raise SuiteError(f"unknown template suite {template!r}; available: {', '.join(sorted(suites))}")
    if not name.replace("_", "").isalnum():
        raise SuiteError(f"suite name {name!r}: use letters, digits and underscores")
    src = suites[template]
    new_tasks = {layer: name if layer == "core" else f"{name}_{layer}" for layer in src.tasks}
    shadowed = [t for t in new_tasks.values() if builtin_task(t) is not None]
    if shadowed and not force:
        raise SuiteError(f"suite name {name!r}: {', '.join(shadowed)} is an lm-eval built-in task, which this suite "
                         "would shadow; pick another name, or pass --force to shadow it on purpose")
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
    edits = {"max_gen_toks": max_gen_toks, "system_prompt": system_prompt, "chat_template": chat_template}
    for layer in src.tasks:
        cfg = _task_yaml(src, layer, name, new_tasks, edits)
        text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
        header = _header(name, layer, new_tasks[layer], src, data, dest_root)
        (tmp / f"{new_tasks[layer]}.yaml").write_text(header + text, encoding="utf-8")
    write_jsonl(tmp / "data.jsonl", rows)
    os.replace(tmp, folder)
    suite = load_suite(folder)
    assert suite is not None
    suite.validate()
    return suite
