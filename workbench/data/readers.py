"""Readers: turn a file or a Hugging Face dataset id into raw rows with their location.

Each reader yields `(where, row)` where `where` is a human-readable location such as
`data.jsonl:12` so that every error can say exactly which row was wrong.
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

from workbench.core.registry import Registry, check_callable


class InputError(WorkbenchError, ValueError):
    """Input that cannot be read; the message names the file and what is wrong."""


class BadRow:
    """A row that could not even be parsed; yielded instead of raising when tolerant."""

    def __init__(self, error: str, raw: str):
        self.error, self.raw = error, raw


# file suffix -> generator of (where, row); installed packages add theirs as entry points in group
# `workbench.readers` (`".ext" = "my_pkg.read:read_ext"`, or `ext = ...`)
READERS = Registry("file reader for suffix", "workbench.readers", check_callable,
                   key=lambda s: ("" if s.startswith(".") else ".") + s.lower())


def reader(*suffixes: str):
    def deco(fn):
        for s in suffixes:
            READERS.register(s, fn)
        return fn

    return deco


BOM = b"\xef\xbb\xbf"  # what many Windows tools and spreadsheet exports write first: read, not refused


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte offset {e.start}); "
                         "save the file as UTF-8") from None


@reader(".jsonl", ".ndjson")
def read_jsonl(path: Path, tolerant: bool = False) -> Iterator[tuple[str, object]]:
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            where = f"{path}:{lineno}"
            if b"\x00" in raw and not tolerant:
                raise InputError(f"{where}: binary data (NUL byte), not a text file")
            try:
                line = _decode(raw, where)
            except InputError as e:
                if not tolerant:
                    raise
                yield where, BadRow(str(e).removeprefix(f"{where}: "), raw.decode("utf-8", "replace").rstrip("\n"))
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except RecursionError:
                if not tolerant:
                    raise InputError(f"{where}: {TOO_DEEP}") from None
                row = BadRow(TOO_DEEP, line.rstrip("\n")[:1000])
            except json.JSONDecodeError as e:
                msg = f"malformed JSON ({e.msg} at column {e.colno})"
                if lineno == 1 and line.lstrip().startswith("[") and not line.rstrip().endswith("]"):
                    msg += "; this looks like a JSON array: name the file .json"
                if not tolerant:
                    raise InputError(f"{where}: {msg}") from None
                row = BadRow(msg, line.rstrip("\n"))
            if isinstance(row, list) and not tolerant:
                raise InputError(f"{where}: a JSON array, expected one JSON object per line"
                                 + ("; if the file is one JSON array, name it .json" if lineno == 1 else ""))
            yield where, row


TOO_DEEP = "JSON nested too deeply to read (over ~1000 levels)"


@reader(".json")
def read_json_array(path: Path, tolerant: bool = False) -> Iterator[tuple[str, object]]:
    raw = path.read_bytes()
    text = _decode(raw.removeprefix(BOM), str(path))
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(f"{path}:1: {TOO_DEEP}") from None
    except json.JSONDecodeError as e:
        hint = "; this looks like JSON Lines (one object per line): name the file .jsonl" if e.msg == "Extra data" else ""
        raise InputError(f"{path}:{e.lineno}: malformed JSON ({e.msg} at column {e.colno}){hint}") from None
    if isinstance(data, list):
        lines = _array_lines(text)
        for i, row in enumerate(data):  # data.json:12 [3]: the line the element starts on, and its index
            yield (f"{path}:{lines[i]} [{i}]" if lines else f"{path}[{i}]"), row
        return
    if isinstance(data, dict):
        # {"data": [...]} or a single-split dict is common; a lone object is one row.
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON array of rows, found {type(data).__name__}")
    for i, row in enumerate(data):
        yield f"{path}[{i}]", row


def _array_lines(text: str) -> list[int] | None:
    """The line each element of a top-level JSON array starts on (the text is known to parse)."""
    decoder, ws = json.JSONDecoder(), " \t\r\n"
    pos = len(text) - len(text.lstrip(ws))
    if text[pos:pos + 1] != "[":
        return None
    pos, line, counted, out = pos + 1, 1, 0, []
    while True:
        while pos < len(text) and text[pos] in ws + ",":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        line += text.count("\n", counted, pos)
        counted = pos
        out.append(line)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None


@reader(".parquet")
def read_parquet(path: Path, tolerant: bool = False) -> Iterator[tuple[str, object]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: unreadable Parquet file ({e})") from None
    i = 0
    batches = pf.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches, None)
            rows = [] if batch is None else batch.to_pylist()
        except Exception as e:  # noqa: BLE001 - a damaged page, or a type pyarrow cannot convert
            raise InputError(f"{path} row {i}: unreadable Parquet data ({type(e).__name__}: {e})") from None
        if batch is None:
            return
        for row in rows:
            # a null cell is an absent field: a file mixing formats has every format's columns
            yield f"{path} row {i}", ({k: v for k, v in row.items() if v is not None} if isinstance(row, dict) else row)
            i += 1


CSV_FIELD_LIMIT = 2**31 - 1


@reader(".csv", ".tsv")
def read_csv(path: Path, tolerant: bool = False) -> Iterator[tuple[str, object]]:
    csv.field_size_limit(CSV_FIELD_LIMIT)  # a long document in one cell is data, not an error
    with open(path, encoding="utf-8-sig", newline="") as fh:  # -sig: a leading BOM is read, not kept
        rows = csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ",")
        for row in _csv_rows(rows, path):
            # Cells holding JSON (e.g. a messages list) are decoded; plain text stays text.
            out = {}
            for k, v in row.items():
                if isinstance(v, str) and v[:1] in "[{":
                    try:
                        v = json.loads(v)
                    except (json.JSONDecodeError, RecursionError):
                        pass
                out[k] = v
            yield f"{path}:{rows.line_num}", out


def _csv_rows(rows: csv.DictReader, path: Path) -> Iterator[dict]:
    """The rows of a DictReader; bad UTF-8 or a broken CSV becomes InputError naming the line."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except UnicodeDecodeError:  # decoding runs ahead in chunks: find the line itself
            with open(path, "rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    _decode(raw.removeprefix(BOM) if lineno == 1 else raw, f"{path}:{lineno}")
            raise  # unreachable: some line failed to decode above
        except csv.Error as e:
            raise InputError(f"{path}:{rows.line_num}: malformed CSV ({e})") from None
        if None in row:
            raise InputError(f"{path}:{rows.line_num}: more cells than the header has columns")
        yield row


def looks_like_hub_id(spec: str) -> bool:
    """`owner/name` that is not a local path and does not end in a file suffix we read."""
    return (
        not os.path.exists(spec)
        and spec.count("/") == 1
        and not spec.startswith((".", "/", "~"))
        and Path(spec).suffix.lower() not in READERS
    )


def read_hub(spec: str, split: str = "train") -> Iterator[tuple[str, object]]:
    """Stream a Hugging Face dataset; offline machines get a clear error at once, never a hang."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1" or not _hub_reachable():
        raise InputError(
            f"{spec!r} is not a local file and the Hugging Face Hub cannot be reached (offline). "
            "Download the dataset on a connected machine and ingest the file, or pass a local path."
        )
    import datasets

    ds = datasets.load_dataset(spec, split=split, streaming=True)
    for i, row in enumerate(ds):
        yield f"{spec}[{split}][{i}]", row


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def read_rows(spec: str | os.PathLike, split: str = "train", tolerant: bool = False) -> Iterator[tuple[str, object]]:
    """Yield (location, row) from a local file of a supported type or a hub dataset id.

    With `tolerant`, a line that cannot be parsed is yielded as a BadRow instead of raising.
    """
    spec_s = str(spec)
    path = Path(spec_s)
    if not path.exists():
        if looks_like_hub_id(spec_s):
            yield from read_hub(spec_s, split)
            return
        raise InputError(f"{spec_s}: no such file")
    if path.is_dir():
        raise InputError(f"{spec_s}: is a directory; give a file ({', '.join(sorted(READERS))})")
    fn = READERS.get(path.suffix.lower())
    if fn is None:
        raise InputError(f"{spec_s}: unsupported file type {path.suffix!r}; supported: {', '.join(sorted(READERS))}")
    if path.stat().st_size == 0:
        raise InputError(f"{spec_s}: empty file (no valid records to ingest)")
    yield from fn(path, tolerant=tolerant)
