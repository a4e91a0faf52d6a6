"""Dataset bodies: Parquet files addressed by a hash of their records, plus catalog rows.

`save_version` is how every operation (ingest, curate, synth, mix) creates a dataset
version: it hashes the records, writes the body atomically (temp file, then rename), and
registers the version, its lineage and its removals in one catalog transaction. A process
killed at any point leaves either nothing registered or everything registered.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.hashing import version_id
from workbench.core.intents import dead_temps, intent
from workbench.data.records import Record
from workbench.core.workspace import Workspace

BODY_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("source", pa.string()),
        ("reasoning_mode", pa.string()),
        ("meta", pa.string()),  # JSON text: free-form, so no fixed columns
        ("rejected", pa.string()),  # preference pairs only (null elsewhere; bodies written before it read as null)
    ]
)


@dataclass(frozen=True)
class SavedVersion:
    id: str
    name: str
    n_rows: int
    created: bool  # False when the same content was already registered


def _meta_json(meta: dict) -> str:
    return json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str)


def version_hash(records: list[Record]) -> str:
    """Hash of the normalized records in order: same content, same version id."""
    return version_id((r.id, r.source, r.meta) for r in records)


def records_to_table(records: list[Record]) -> pa.Table:
    return pa.table(
        {
            "id": [r.id for r in records],
            "messages": [r.messages for r in records],
            "source": [r.source for r in records],
            "reasoning_mode": [r.reasoning_mode for r in records],
            "meta": [_meta_json(r.meta) for r in records],
            "rejected": [r.rejected for r in records],
        },
        schema=BODY_SCHEMA,
    )


def table_to_records(table: pa.Table) -> list[Record]:
    cols = table.to_pydict()
    rejected = cols.get("rejected") or [None] * table.num_rows
    return [
        Record(i, list(m), s or "", mode, json.loads(meta) if meta else {}, rej)
        for i, m, s, mode, meta, rej in zip(cols["id"], cols["messages"], cols["source"], cols["reasoning_mode"],
                                            cols["meta"], rejected)
    ]


def version_kind(records: list[Record], name: str = "") -> str:
    """The one record kind of a version (sft, preference or prompt); a mix of kinds is an error."""
    from workbench.data.records import RecordError

    kinds: dict[str, str] = {}
    for r in records:
        kinds.setdefault(r.kind, r.id)
    if len(kinds) > 1:
        found = ", ".join(f"{k} (e.g. record {rid})" for k, rid in kinds.items())
        raise RecordError(f"dataset {name!r} mixes record kinds: {found}; keep SFT conversations, preference pairs "
                          "and prompt-only rows in separate versions")
    return next(iter(kinds), "sft")


def write_body(path: Path, records: list[Record]) -> None:
    """Write the body atomically; a full disk raises DiskFullError naming `path` and leaves no temp file."""
    from workbench.core.diskfull import disk_full

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with disk_full(path, f"a dataset body ({len(records)} records)"):
            pq.write_table(records_to_table(records), tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half-written temp body would only hold on to the space
        raise


def save_version(
    ws: Workspace,
    records: list[Record],
    name: str,
    operation: str,
    parents: list[tuple[str, dict]] | None = None,
    removals: list[dict] | None = None,
    meta: dict | None = None,
    stats: dict | None = None,
) -> SavedVersion:
    """Register `records` as a dataset version (a no-op if that content exists already)."""
    from workbench.data.profile import profile

    if not records:
        raise ValueError(f"refusing to save an empty dataset version {name!r}")
    version_kind(records, name)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"dataset {name!r} has duplicate record ids; pass records through records.unique_ids")
    version_id = version_hash(records)
    catalog = ws.catalog()
    rel = f"data/{version_id}.parquet"
    body = ws.home / rel
    with intent(ws.home, f"dataset version {name!r}", body):  # gc steps around the body until its row exists
        if catalog.version_exists(version_id):
            row = catalog.resolve_version(version_id)
            if row.get("path") and not body_matches(ws.home / row["path"], version_id):
                write_body(ws.home / row["path"], records)  # heal: same id, so the same content by construction
            catalog.add_version(version_id, name, len(records), "", operation, {}, parents=parents)  # lineage only
            return SavedVersion(version_id, name, len(records), created=False)
        for tmp in dead_temps(ws.data_dir):  # temp bodies of killed writers
            tmp.unlink(missing_ok=True)
        write_body(body, records)
        created = catalog.add_version(
            version_id,
            name,
            len(records),
            rel,
            operation,
            stats if stats is not None else profile(records),
            meta=meta,
            parents=parents,
            removals=removals,
        )
    return SavedVersion(version_id, name, len(records), created=created)


def body_matches(path: Path, version_id: str) -> bool:
    """True when the body at `path` is there, readable and hashes to `version_id`."""
    try:
        return version_hash(read_body(path)) == version_id
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: it does not match
        return False


def read_body(path: Path) -> list[Record]:
    """The records of the body file at `path`."""
    return table_to_records(pq.read_table(path, schema=BODY_SCHEMA))


def load_table(ws: Workspace, version_ref: str) -> pa.Table:
    row = ws.catalog().resolve_version(version_ref)
    return pq.read_table(ws.home / row["path"], schema=BODY_SCHEMA)


def load_records(ws: Workspace, version_ref: str) -> list[Record]:
    return table_to_records(load_table(ws, version_ref))


def load_frame(ws: Workspace, version_ref: str):
    """The version body as a polars DataFrame (meta stays JSON text)."""
    import polars as pl

    return pl.from_arrow(load_table(ws, version_ref))


def _export_row(r: Record) -> dict:
    row = {"id": r.id, "messages": r.messages, "source": r.source, "reasoning_mode": r.reasoning_mode,
           "meta": _meta_json(r.meta)}
    if r.rejected is not None:  # the messages-prefix shape, which ingest reads back as the same pair
        row.update(messages=r.messages[:-1], chosen=r.chosen, rejected=r.rejected)
    return row


def export_version(ws: Workspace, version_ref: str, path: str | os.PathLike) -> Path:
    """Write a version as JSONL or Parquet in messages format (loadable by `datasets`)."""
    path = Path(path)
    table = load_table(ws, version_ref)
    records = table_to_records(table)
    rows = [_export_row(r) for r in records]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with open(path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"{path}: export to .jsonl or .parquet")
    return path
