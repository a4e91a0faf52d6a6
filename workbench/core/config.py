"""Loading YAML configs into pydantic models, with errors that say `file:line: key.path: msg`.

One helper for every config a user writes (curation recipe, ablation spec, eval suite YAML,
train config, mix spec). `read_config` reads a file or takes a parsed mapping and remembers
the line of every key; `problems` turns a pydantic `ValidationError` into messages that name
the file and line (for a file) and the key path; `load_config` does both for one model.
Each area raises its own `ConfigError` subclass (RecipeError, SpecError, TrainError, ...).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workbench.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass
class ConfigSource:
    """A parsed config, the file it came from (None for a mapping given in code) and key lines."""

    data: Any
    file: str | None = None
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest key of `loc` that the file has."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None

    def where(self, loc: Loc = (), default: str = "config") -> str:
        """`file:line` of a key path (or `file`, or `default` for a mapping without a file)."""
        if self.file is None:
            return default
        line = self.line(loc)
        return f"{self.file}:{line}" if line else self.file

    def at(self, loc: Loc = ()) -> str:
        """`file:line: ` to put in front of a message about a key, or "" for a mapping given in code."""
        return f"{self.where(loc)}: " if self.file is not None else ""

    def sub(self, key: str | int) -> "ConfigSource":
        """The source of one section (lines re-rooted at it)."""
        n = 1
        lines = {loc[n:]: ln for loc, ln in self.lines.items() if loc[:n] == (key,)}
        return ConfigSource(self.data[key], self.file, lines)


def _node_lines(node: yaml.Node, prefix: Loc, out: dict[Loc, int]) -> None:
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            loc = (*prefix, key.value)
            out[loc] = key.start_mark.line + 1
            _node_lines(value, loc, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _node_lines(value, (*prefix, i), out)


def yaml_error(path: str | os.PathLike, e: yaml.YAMLError, error: type[ConfigError], phrase: str = "not valid YAML",
               parens: bool = False) -> ConfigError:
    """`file:line: not valid YAML: problem` for a syntax error (the line of the problem)."""
    mark = getattr(e, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = getattr(e, "problem", None) or e
    return error(f"{where}: {phrase} ({problem})" if parens else f"{where}: {phrase}: {problem}")


def read_config_text(path: str | os.PathLike, error: type[ConfigError] = ConfigError) -> str:
    """The text of a config file, a leading UTF-8 BOM removed; `error` naming the file (and the
    line, for bytes that are not UTF-8) when it is a directory, missing or unreadable."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a directory; give a YAML file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror})") from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise error(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8") from None


_FAST: dict[type, type] = {}


def _libyaml(loader: type[yaml.SafeLoader]) -> type:
    """The same loader (its constructors, the safe resolver) on libyaml's C parser when PyYAML has
    it: ~13x faster on suite YAML; the values are the same (checked in tests/test_config_yaml.py)."""
    if not getattr(yaml, "__with_libyaml__", False):
        return loader
    if loader not in _FAST:
        _FAST[loader] = type(f"C{loader.__name__}", (yaml.CSafeLoader,),
                             {"yaml_constructors": dict(loader.yaml_constructors),
                              "yaml_multi_constructors": dict(loader.yaml_multi_constructors)})
    return _FAST[loader]


def read_config(source: str | os.PathLike | dict | Any, error: type[ConfigError] = ConfigError, *,
                loader: type[yaml.SafeLoader] = yaml.SafeLoader, not_found: str = "{path}: file not found",
                phrase: str = "not valid YAML", parens: bool = False) -> ConfigSource:
    """A config from a YAML file (with the line of every key) or an already-parsed value."""
    if not isinstance(source, (str, os.PathLike)):
        return ConfigSource(source)
    path = Path(source)
    if not path.exists():
        raise error(not_found.format(path=path))
    text = read_config_text(path, error)
    try:
        fast = _libyaml(loader)
        data = yaml.load(text, Loader=fast)
        node = yaml.compose(text, Loader=fast)
    except yaml.YAMLError:
        try:  # the pure-Python parser names the problem in its own words (and is the reference)
            data = yaml.load(text, Loader=loader)
            node = yaml.compose(text, Loader=loader)
        except yaml.YAMLError as e:
            raise yaml_error(path, e, error, phrase, parens) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    return ConfigSource(data, str(path), lines)


def key_path(loc: Loc, dotted_index: bool = False) -> str:
    """`variants[1].recipe.steps[0]` (or `target_modules.1` with dotted_index)."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not dotted_index:
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems(e: ValidationError, src: ConfigSource, *, prefix: Loc = (), default: str = "config",
             message: Callable[[dict], str] | None = None, dotted_index: bool = False,
             drop: Callable[[str | int], bool] | None = None) -> list[str]:
    """One `where: key.path: msg` per pydantic error; `where` is `file:line` for a file (and
    `default` for a mapping given in code, left out when empty).

    `prefix` is the key path of the validated section inside the source; `message` rewrites
    pydantic's text for an area; `drop` removes loc parts that are not YAML keys (union branches).
    """
    out = []
    for err in e.errors():
        loc = tuple(p for p in err["loc"] if not (drop and drop(p)))
        full = (*prefix, *loc)
        msg = message(err) if message else err["msg"].removeprefix("Value error, ")
        where = src.where(full, default)
        out.append(f"{where + ': ' if where else ''}{key_path(full, dotted_index) or '(top level)'}: {msg}")
    return out


def load_config(source: str | os.PathLike | dict | ConfigSource, model: type[M], *, error: type[ConfigError] = ConfigError,
                what: str = "config", sep: str = "; ", **options: Any) -> M:
    """`model` validated from a YAML file or mapping; every problem in one `error`, by `problems`."""
    src = source if isinstance(source, ConfigSource) else read_config(source, error)
    if not isinstance(src.data, dict):
        raise error(f"{src.where(default=what)}: expected a mapping, got {type(src.data).__name__}")
    try:
        return model.model_validate(src.data)
    except ValidationError as e:
        raise error(sep.join(problems(e, src, default=what, **options))) from None
