"""Content hashing and model identity: the one home of every hash an id is made of.

Every id (data version, model identity, run, eval result, ablation task) is a hash of content
only, never of paths, machines, environment variables or library versions. Three rules:

- Objects hash as canonical JSON (`canonical_json`: keys sorted, UTF-8, no ASCII escaping).
  Two older byte forms stay, each named here, because ids were made from them before this
  module was their home and an id never changes while its content is the same: record ids
  (`record_json`: compact, in message order) and recipe hashes and drawn seeds (`ascii_json`:
  keys sorted, non-ASCII escaped). Each id has one function below (`record_id`, `version_id`,
  `recipe_id`, `cluster_id`, `synth_settings_id`, `synth_key`, `suite_files_id`,
  `suite_config_id`, `task_id`, `draw_seed`); nothing else in the package imports hashlib.
- Files hash as their bytes (`file_hash`, `file_digest`); `file_digest` remembers the digest
  of a large file by (path, size, mtime) in one memo file, `<cache>/hashes.json`. The memo is a
  speed-up only: a digest is the same with or without it.
- Model and adapter directories hash as their content (`dir_hash`): each file's path inside
  the directory and its digest, where a JSON file is parsed and hashed canonically *without the
  keys in VOLATILE_KEYS*: the keys transformers, tokenizers and peft write about the environment
  a directory was saved in (the library version, where it was loaded from, whether that was
  local) rather than about the model, and with the lists of SET_VALUED_KEYS sorted (peft
  writes those sets in a per-process order). So a patch release of transformers, or the same model in
  another directory or cache, keeps its identity; any change of weights, config values,
  tokenizer or chat template changes it. Library versions belong in a run's recorded metadata
  (`library_versions`), not in its id.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.core.models import DEFAULT_MODEL, resolve_model
from workbench.core.workspace import remembered

# Keys in a model's or adapter's JSON files that describe where and with what it was saved,
# not what it is. Removed at any depth before hashing.
VOLATILE_KEYS = frozenset({
    "transformers_version",  # config.json, generation_config.json: the library that wrote them
    "peft_version",  # adapter_config.json
    "_name_or_path", "name_or_path",  # config / tokenizer_config: the directory it was loaded from
    "base_model_name_or_path",  # adapter_config.json: the base model's directory on this machine
    "is_local", "local_files_only",  # tokenizer_config.json: how this machine loaded it
    "_commit_hash", "cache_dir",  # hub download bookkeeping
})
# Keys whose list is a set that peft writes in Python's per-process set order (`target_modules`
# of one training run comes out as [q_proj, v_proj, ...] in one process and [v_proj, q_proj,
# ...] in the next): sorted before hashing.
SET_VALUED_KEYS = frozenset({"target_modules", "modules_to_save", "exclude_modules"})
# Files of a model or adapter directory that decide its behaviour.
HASHED_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".py")
MEMO_NAME = "hashes.json"
# This process's digests by (path, size, mtime): the same rule as the memo file, without re-reading it.
_SEEN: dict[str, str] = {}
_CHUNK = 1 << 22


def canonical_json(obj: Any) -> str:
    """The one JSON text of an object that ids are hashed from."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def content_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 of an object's canonical JSON, shortened to `length`."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def text_hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


# --- the ids of records, versions, recipes, curation, synthesis, suites and tasks -------------


def ascii_json(obj: Any) -> str:
    """Canonical JSON with non-ASCII escaped (`json.dumps` with sorted keys): the form recipe
    hashes and drawn seeds have always been made from. The same text as `canonical_json`
    wherever the content is ASCII."""
    return json.dumps(obj, sort_keys=True, default=str)


def record_json(messages: list[dict[str, str]], reasoning_mode: str | None, rejected: str | None = None) -> str:
    """The text a record id is hashed from: [[role, content], ...] in message order, then the
    reasoning mode, then ["rejected", text] for a preference pair only; compact, UTF-8."""
    extra = [] if rejected is None else [["rejected", rejected]]
    return json.dumps([[m["role"], m["content"]] for m in messages] + [reasoning_mode] + extra,
                      ensure_ascii=False, separators=(",", ":"))


def record_id(messages: list[dict[str, str]], reasoning_mode: str | None, rejected: str | None = None) -> str:
    """A record's id: its content (messages, reasoning mode, rejected turn), never its source or meta."""
    return text_hash(record_json(messages, reasoning_mode, rejected))


def repeat_id(record_id: str, n: int) -> str:
    """The id of the n-th exact repeat of a record in one version."""
    return text_hash(f"{record_id}#{n}")


def version_id(rows: Iterable[tuple[str, str, dict]]) -> str:
    """A dataset version's id from its (record id, source, meta) rows in order."""
    h = hashlib.sha256()
    for rid, source, meta in rows:
        h.update(rid.encode("utf-8") + b"\x1f" + source.encode("utf-8") + b"\x1f"
                 + canonical_json(meta).encode("utf-8") + b"\x1e")
    return h.hexdigest()[:16]


def recipe_id(recipe: dict) -> str:
    """A curation recipe's hash, from the recipe with every default filled in."""
    return text_hash(ascii_json(recipe))


def draw_seed(*parts: Any) -> int:
    """A 64-bit seed from parameters (content, never paths or machines)."""
    return int(text_hash(ascii_json(parts)), 16)


def cluster_id(record_ids: Iterable[str]) -> str:
    """A dedup cluster's id: its members' record ids, in any order."""
    return text_hash("\n".join(sorted(record_ids)), 12)


def synth_settings_id(settings: dict) -> str:
    """The sampling settings that decide what a teacher generates."""
    return content_hash(settings, 12)


def synth_key(prompt_id: str, mode: str, teacher: str, settings_id: str, index: int) -> str:
    """One generation's cache key: prompt, reasoning mode, teacher, settings and sample index."""
    return text_hash(f"{prompt_id}|{mode}|{teacher}|{settings_id}|{index}", 24)


def suite_files_id(files: Iterable[tuple[str, bytes]]) -> str:
    """An eval suite folder's hash from its (name, bytes) files in order."""
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode("utf-8") + b"\0")
        h.update(data + b"\0")
    return h.hexdigest()[:16]


def suite_config_id(config: dict) -> str:
    """A suite that is lm-eval's own task: its resolved config (library versions are recorded
    with each result, not hashed into it)."""
    return content_hash(config)


def task_id(kind: str, identity: dict, hashed: dict) -> str:
    """An ablation task's id: its kind, the inputs that define it and the content of its files."""
    return f"{kind}-{content_hash([kind, identity, hashed])}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hash(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, shortened to 16 (a source file in an ablation task)."""
    return _sha256_file(Path(path))[:16]


def _stamp(path: Path) -> str:
    """A file's version as the memos know it: where it is, its size and its modification time."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def file_digest(path: str | os.PathLike) -> str:
    """Full hex sha256 of a file, remembered by (path, size, mtime) so a 500 MB model is hashed once."""
    path = Path(path)
    return _remembered(_stamp(path), lambda: _sha256_file(path))


def _remembered(key: str, compute) -> str:
    """A file's digest from this process's memo, else the cache folder's (MEMO_NAME), else `compute()`."""
    if key not in _SEEN:
        _SEEN[key] = remembered(MEMO_NAME, key, compute)
    return _SEEN[key]


def without_volatile(obj: Any) -> Any:
    """A parsed JSON value with the VOLATILE_KEYS removed from every mapping in it, and the
    lists under SET_VALUED_KEYS sorted."""
    if isinstance(obj, dict):
        return {k: sorted(v, key=str) if k in SET_VALUED_KEYS and isinstance(v, list) else without_volatile(v)
                for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [without_volatile(v) for v in obj]
    return obj


def _json_digest(path: Path) -> str | None:
    """sha256 of a JSON file's canonical form without VOLATILE_KEYS; None when it is not JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not JSON after all: its bytes are its content
    return hashlib.sha256(canonical_json(without_volatile(data)).encode("utf-8")).hexdigest()


def _model_file_digest(path: Path) -> str:
    if path.suffix != ".json":
        return file_digest(path)
    # a tokenizer.json is megabytes of JSON (about half a second to canonicalise), and every adapter
    # saves the same one: its canonical digest is remembered by the sha256 of its bytes
    raw = file_digest(path)
    digest = _remembered("json-of|" + raw, lambda: _json_digest(path) or "bytes")
    return raw if digest == "bytes" else digest


def dir_hash(path: str | os.PathLike) -> str:
    """Content hash of a model or adapter directory (weights, configs, tokenizer files; no
    checkpoints), by the rules in this module's docstring."""
    root = Path(path)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.suffix in HASHED_SUFFIXES and "checkpoint-" not in rel and ".tmp-" not in rel:
            h.update(rel.encode() + b"\0" + _model_file_digest(p).encode() + b"\0")
    return h.hexdigest()


def model_identity(spec: str | None) -> dict:
    """What names a base model in run ids and eval keys: {spec, path, hash}.

    `hash` is the content hash of the model directory (`dir_hash`, shortened to 16), or of the
    hub id for a model that is not on disk. `path` says where it was found and is not part of it.
    """
    spec = str(spec or DEFAULT_MODEL)
    path = resolve_model(spec)
    if not os.path.isdir(path):
        return {"spec": spec, "path": path, "hash": text_hash(f"hub:{path}")}
    return {"spec": spec, "path": path, "hash": dir_hash(path)[:16]}


def adapter_identity(base_hash: str, adapter_dir: str | os.PathLike) -> str:
    """The identity of a base model with a trained adapter on top."""
    return text_hash(f"{base_hash}|adapter:{dir_hash(adapter_dir)}")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that produce results: recorded with a run or result, never in an id."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "peft", "trl", "lm_eval", "datasets", "tokenizers"):
        try:
            out[name] = version(name.replace("_", "-") if name == "lm_eval" else name)
        except PackageNotFoundError:
            continue
    return out


# --- keyed hashes that order and seed training (common random numbers) ------------------------
# A training run's randomness is a function of its seed and of record content only, never of a
# row's position in its variant: two variants trained with the same seed then see the rows they
# share in the same relative order, and what one variant removed is simply not there. BLAKE2b's
# keyed mode is the keyed hash; the key names the purpose, so orders, held-out splits and
# derived seeds are independent streams of one seed.


def keyed_int(key: str, text: str, bits: int = 64) -> int:
    """An unsigned `bits`-bit integer (at most 512) from BLAKE2b of `text` keyed with `key`."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=(bits + 7) // 8,
                             key=hashlib.sha256(key.encode("utf-8")).digest()).digest()
    return int.from_bytes(digest, "big") >> (8 * len(digest) - bits)


def data_order_key(seed: int, record_id: str, epoch: int = 0) -> int:
    """Where a record comes in training epoch `epoch` of a run with `seed`: rows are seen in
    ascending key order (ties, which need equal 64-bit hashes, broken by the record id)."""
    return keyed_int(f"workbench data order|seed={int(seed)}|epoch={int(epoch)}", record_id)


def holdout_key(seed: int, record_id: str) -> int:
    """A record's place in the held-out split of a run with `seed` (the lowest keys are held out)."""
    return keyed_int(f"workbench holdout|seed={int(seed)}", record_id)


def derived_seed(seed: int, purpose: str, *parts: object) -> int:
    """A 63-bit seed for one purpose of a run (e.g. "lora-init", or "dropout" at a step), so each
    random stream depends on the run's seed and that purpose only."""
    return keyed_int(f"workbench seed|{int(seed)}|{purpose}", canonical_json(list(parts)), bits=63)
