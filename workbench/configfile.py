"""Reading a config file (recipe, mix spec, train config, suite YAML, ablation spec): one home.

Every problem is a `ConfigError` naming the file, and the line where there is one: a missing
file, a directory, bytes that are not UTF-8, broken YAML. A leading UTF-8 BOM is read, not refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from workbench.errors import ConfigError


def read_config_text(path: str | os.PathLike) -> str:
    """The text of a config file, BOM removed; ConfigError (file or file:line) if it cannot be read."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a YAML file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror})") from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8") from None


def load_config_yaml(path: str | os.PathLike, loader: type = yaml.SafeLoader):
    """The parsed YAML of a config file; ConfigError naming file:line for broken YAML."""
    text = read_config_text(path)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader (or a subclass) by default
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
