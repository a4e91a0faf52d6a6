"""Where workbench keeps things: the catalog file, dataset bodies, runs, eval outputs.

`WORKBENCH_HOME` (default `./.workbench`) holds one project's catalog and artefacts.
`WORKBENCH_CACHE` (default `~/.cache/workbench`) holds what is shared between projects,
such as the bundled model converted to safetensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    path = Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "workbench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def remembered(memo: str, key: str, compute: Callable[[], Any]) -> Any:
    """The value under `key` in the cache folder's JSON file `memo`, else `compute()` (a JSON value),
    then written there. Write-then-rename, so a reader sees the old file or the new one; two writers
    at once may drop each other's entry, which is then computed again: the key must name the content."""
    path = cache_dir() / memo
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = compute()
        tmp = path.with_name(f"{memo}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, path)
    return known[key]


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def default(cls) -> "Workspace":
        return cls(Path(os.environ.get("WORKBENCH_HOME", ".workbench")).resolve())

    def __post_init__(self):
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.duckdb"

    def subdir(self, *parts: str) -> Path:
        path = self.home.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def data_dir(self) -> Path:
        return self.subdir("data")

    @property
    def runs_dir(self) -> Path:
        return self.subdir("runs")

    def catalog(self, reader: bool = False):
        from workbench.core.catalog import Catalog

        return Catalog(self.catalog_path, reader=reader)


@dataclass(frozen=True)
class DetachedWorkspace(Workspace):
    """The shared workspace's artefacts (`home`) with a private catalog file: how a cluster
    worker runs a step without opening the workspace's catalog (see catalog/journal.py)."""

    catalog_file: Path | None = None

    @property
    def catalog_path(self) -> Path:
        return self.catalog_file if self.catalog_file is not None else self.home / "catalog.duckdb"
