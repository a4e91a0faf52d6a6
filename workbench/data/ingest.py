"""Ingest: read a source, convert every row to the record schema, save a dataset version.

Errors name the row (file:line) and what is wrong, and nothing is registered. With
`skip_invalid`, bad rows go to a rejects file and a removals row each, and the good rows
become the version.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import json
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.core.names import check_name
from workbench.core.progress import track
from workbench.data.readers import BadRow, InputError, read_rows
from workbench.data.records import ADAPTERS, RecordError, convert_row, detect_format, unique_ids
from workbench.data.store import SavedVersion, save_version
from workbench.core.workspace import Workspace


class IngestError(WorkbenchError, ValueError):
    """Input that cannot become a dataset version; the message says where and why."""


@dataclass(frozen=True)
class IngestResult:
    version: SavedVersion
    formats: dict[str, int]
    n_rejected: int
    rejects_path: Path | None


def default_source(spec: str) -> str:
    return Path(spec).stem if os.path.exists(spec) else spec


def ingest(
    ws: Workspace,
    spec: str | os.PathLike,
    name: str,
    fmt: str | None = None,
    skip_invalid: bool = False,
    source: str | None = None,
    split: str = "train",
) -> IngestResult:
    spec = str(spec)
    check_name(name)
    if fmt is not None and fmt not in ADAPTERS:
        raise IngestError(f"unknown --format {fmt!r}; known formats: {', '.join(ADAPTERS)}")
    source = source or default_source(spec)
    records, rejects, formats = [], [], {}
    fmt_by_keys: dict[frozenset, str] = {}  # detection is per key set, so mixed files work
    first_of_kind: tuple[str, str] | None = None  # (kind, where): a version holds one record kind
    try:
        for where, row in track(read_rows(spec, split=split, tolerant=skip_invalid), f"reading {Path(spec).name}"):
            if isinstance(row, BadRow):
                rejects.append({"where": where, "reason": "malformed_json", "error": row.error, "row": row.raw})
                continue
            try:
                row_fmt = fmt
                if row_fmt is None:
                    keys = frozenset(row) if isinstance(row, dict) else frozenset()
                    row_fmt = fmt_by_keys.get(keys) or detect_format(row)
                    fmt_by_keys[keys] = row_fmt
                record = convert_row(row, row_fmt, default_source=source)
                first_of_kind = first_of_kind or (record.kind, where)
                if record.kind != first_of_kind[0]:
                    raise RecordError(f"a {record.kind} row in a file of {first_of_kind[0]} rows (the first at "
                                      f"{first_of_kind[1]}); ingest each kind as its own version")
                records.append(record)
                formats[row_fmt] = formats.get(row_fmt, 0) + 1
            except RecordError as e:
                if not skip_invalid:
                    raise IngestError(f"{where}: {e}") from None
                rejects.append({"where": where, "reason": "invalid_row", "error": str(e), "row": row})
    except InputError as e:
        raise IngestError(str(e)) from None
    if not records:
        detail = f" ({len(rejects)} rows rejected)" if rejects else ""
        raise IngestError(f"{spec}: no valid records to ingest{detail}")
    records = list(unique_ids(records))
    removals = [
        {"parent": None, "record_id": r["where"], "step": "ingest", "reason": r["reason"], "detail": r["error"]}
        for r in rejects
    ]
    version = save_version(
        ws,
        records,
        name=name,
        operation="ingest",
        removals=removals,
        meta={"input": spec, "formats": formats, "rejected": len(rejects), "kind": first_of_kind[0]},
    )
    rejects_path = _write_rejects(ws, version.id, rejects) if rejects else None
    return IngestResult(version, formats, len(rejects), rejects_path)


def _write_rejects(ws: Workspace, version_id: str, rejects: list[dict]) -> Path:
    path = ws.subdir("rejects") / f"{version_id}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for r in rejects:
            fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    return path
