"""A workspace that checks itself: `verify` re-hashes what the catalog points at, `gc` finds
what it no longer points at.

- verify: every dataset body is re-read and re-hashed (each record id from its content, the
  version id from its records) against its catalog row; every finished run's adapter must be
  there, and where the run was evaluated its adapter hash must still give the stored model key.
- gc: dataset bodies, run directories (adapters) and checkpoints that no catalog row references,
  and temp files of killed writers. Dry run by default; `apply` removes them. It is safe beside
  running writers (workbench.core.intents): it holds the writer lock while it looks and deletes, and
  skips what a live writer's intent covers and anything younger than the oldest live writer.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.intents import Holder, Intent, clear_dead, dead_temp, read_intents, writer_lock
from workbench.core.workspace import Workspace

# the error of a run whose adapter was found missing by `verify --repair` (workbench.ops.repair):
# the run is marked failed with it, so `ablate` and `train` train it again, and verify says how
LOST = "lost: "


@dataclass(frozen=True)
class Problem:
    kind: str  # missing_body | body_mismatch | unreadable_body | missing_adapter | adapter_mismatch
    ref: str  # version id or run id
    detail: str


@dataclass
class VerifyReport:
    versions: int = 0
    runs: int = 0
    problems: list[Problem] = field(default_factory=list)
    lost: list[Problem] = field(default_factory=list)  # runs marked lost by a repair: to retrain (detail: how)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Garbage:
    kind: str  # body | temp | run_dir | checkpoints | rejects
    path: Path
    bytes: int
    why: str


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _verify_version(ws: Workspace, v: dict) -> Problem | None:
    """Re-hash a body column by column (each record id from its content, the version id from the
    records in order), as `store.table_to_records` reads it, without making a Record of each row."""
    import json

    import pyarrow.parquet as pq

    from workbench.data.store import BODY_SCHEMA
    from workbench.core.hashing import record_id, version_id

    path = Path(v["path"])
    body = path if path.is_absolute() else ws.home / path
    if not body.is_file():
        return Problem("missing_body", v["id"], f"{v['path']} is missing")
    try:
        table = pq.read_table(body, schema=BODY_SCHEMA)
        ids, messages, sources, modes, metas, rejected = (table.column(c).to_pylist() for c in BODY_SCHEMA.names)
        parsed: dict[str, dict] = {}  # most bodies repeat a few meta texts: parse each once
        meta = [parsed[m] if m in parsed else parsed.setdefault(m, json.loads(m)) if m else {} for m in metas]
    except Exception as e:  # noqa: BLE001 - any unreadable body is a finding, not a crash
        return Problem("unreadable_body", v["id"], f"{v['path']}: {e}")
    if len(ids) != v["n_rows"]:
        return Problem("body_mismatch", v["id"], f"{len(ids)} rows in the body, {v['n_rows']} in the catalog")
    for rid, m, mode, rej, me in zip(ids, messages, modes, rejected, meta):
        if (h := record_id(m, mode, rej)) != rid and not _id_matches(rid, h, me):
            return Problem("body_mismatch", v["id"], f"record {rid}: content does not hash to its id")
    got = version_id(zip(ids, (s or "" for s in sources), meta))
    if got != v["id"]:
        return Problem("body_mismatch", v["id"], f"body hashes to {got}")
    return None


def _id_matches(rid: str, content_hash: str, meta: dict) -> bool:
    """A record's id that is not its content's hash may be an exact repeat in its version
    (`unique_ids`): the hash of `<content hash>#n`, with `repeat_of` naming the content hash."""
    from workbench.core.hashing import repeat_id

    return meta.get("repeat_of") == content_hash and any(repeat_id(content_hash, n) == rid for n in range(1, 10_000))


def retrain_command(ws: Workspace, run: dict) -> str:
    """The command that trains `run` again: its ablation, or `workbench train` with its settings."""
    spec = next((t["spec_path"] for t in ws.catalog().tasks_naming(run["id"], "train") if t.get("spec_path")), None)
    if spec:
        return f"workbench ablate {spec}"
    init = (run.get("meta") or {}).get("init_run")
    return (f"workbench train --data {run['version_id']} --base {run['base_model']} --seed {run['seed']}"
            f" --config {Path(run['run_dir']) / 'train.json'}" + (f" --from {init}" if init else ""))


def _verify_run(ws: Workspace, run: dict) -> Problem | None:
    adapter = Path(run["adapter_dir"])
    if not (adapter / "adapter_config.json").is_file():
        return Problem("missing_adapter", run["id"], f"{adapter} is missing or incomplete; fix: `workbench verify "
                       "--repair` copies it back from a backup given with --from, or marks the run so that "
                       f"`{retrain_command(ws, run)}` trains it again (the same inputs give the same run id)")
    evaluated = ws.catalog().query("SELECT DISTINCT model_key FROM eval_results WHERE run_id = ?", [run["id"]])
    if evaluated:
        from workbench.evals.runner import resolve_target

        key = resolve_target(ws, run["id"]).model_key
        stored = {r["model_key"] for r in evaluated}
        if key not in stored:
            return Problem("adapter_mismatch", run["id"],
                           f"adapter hashes to model key {key}, evaluated as {', '.join(sorted(stored))}")
    return None


def verify(ws: Workspace) -> VerifyReport:
    """Re-hash every dataset body and finished adapter against the catalog; report, never raise."""
    cat = ws.catalog()
    report = VerifyReport()
    for v in cat.list_versions():
        report.versions += 1
        if (p := _verify_version(ws, v)) is not None:
            report.problems.append(p)
    for run in cat.list_runs():
        if run["status"] == "failed" and (run["error"] or "").startswith(LOST):
            report.lost.append(Problem("lost_adapter", run["id"], run["error"][len(LOST):]))
        if run["status"] != "finished":
            continue
        report.runs += 1
        if (p := _verify_run(ws, run)) is not None:
            report.problems.append(p)
    return report


def find_garbage(ws: Workspace) -> list[Garbage]:
    """What no catalog row references (and temp files of dead writers), largest first."""
    cat = ws.catalog()
    versions = cat.list_versions()
    bodies = {str((ws.home / v["path"]).resolve()) for v in versions if v["path"]}
    ids = {v["id"] for v in versions}
    runs = {r["id"]: r for r in cat.list_runs()}
    found: list[Garbage] = []
    for p in sorted(ws.data_dir.iterdir()):
        if dead_temp(p):
            found.append(Garbage("temp", p, _size(p), "temp file of a killed writer"))
        elif p.suffix == ".parquet" and str(p.resolve()) not in bodies:
            found.append(Garbage("body", p, _size(p), "no dataset version has this body"))
    for d in sorted(p for p in ws.runs_dir.iterdir() if p.is_dir()):
        run = runs.get(d.name)
        if run is None:
            found.append(Garbage("run_dir", d, _size(d), "no training run has this id"))
            continue
        for t in sorted(d.iterdir()):
            if dead_temp(t):
                found.append(Garbage("temp", t, _size(t), "temp adapter of a killed run"))
        ck = d / "checkpoints"
        if ck.is_dir() and run["status"] == "finished":
            found.append(Garbage("checkpoints", ck, _size(ck), "the run finished: nothing to resume"))
    rejects = ws.home / "rejects"
    if rejects.is_dir():
        for p in sorted(rejects.glob("*.jsonl")):
            if p.stem not in ids:
                found.append(Garbage("rejects", p, _size(p), "no dataset version has this id"))
    return sorted(found, key=lambda g: -g.bytes)


@dataclass
class GcResult:
    """What gc found: `removed` (or removable, on a dry run) and `skipped`, each with a reason."""

    found: list[Garbage] = field(default_factory=list)
    skipped: list[Garbage] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)  # the live writers gc stepped around
    applied: bool = False

    def __iter__(self):  # a GcResult reads as the list of what was (or would be) removed
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)

    def __bool__(self) -> bool:
        return bool(self.found)


def _live_lease_starts(ws: Workspace) -> list[tuple[float, str]]:
    """(start time, who) of the ablation tasks whose holder is alive: writers too."""
    from datetime import timezone

    out = []
    for row in ws.catalog().leases():
        try:
            holder = Holder.parse(row["holder"])
        except (ValueError, TypeError):
            continue
        if holder.local and holder.gone():
            continue
        t = row["acquired"].replace(tzinfo=timezone.utc).timestamp()
        out.append((t, f"ablation task {row.get('label') or row['task_id']} ({holder})"))
    return out


def _mtime(path: Path) -> float:
    try:
        t = path.stat().st_mtime
        if path.is_dir():
            t = max([t, *(p.stat().st_mtime for p in path.rglob("*"))])
        return t
    except FileNotFoundError:
        return 0.0


def gc(ws: Workspace, apply: bool = False) -> GcResult:
    """The garbage found; with `apply`, removed too (files unlinked, directories deleted).

    Safe beside writers: under the exclusive writer lock, a path a live intent covers is skipped,
    and so is anything modified after the oldest live writer (intent or ablation lease) started."""
    result = GcResult(applied=apply)
    with writer_lock(ws.home, exclusive=True):
        live: list[Intent] = clear_dead(read_intents(ws.home))
        starts = [(i.started, f"{i.what} (pid {i.pid} on {i.host})") for i in live] + _live_lease_starts(ws)
        result.writers = [who for _, who in sorted(starts)]
        oldest = min((t for t, _ in starts), default=None)
        for g in find_garbage(ws):
            holder = next((i for i in live if i.covers(g.path)), None)
            if holder is not None:
                result.skipped.append(Garbage(g.kind, g.path, g.bytes,
                                              f"being written by {holder.what} (pid {holder.pid})"))
            elif g.kind != "temp" and oldest is not None and _mtime(g.path) >= oldest - 1.0:
                result.skipped.append(Garbage(g.kind, g.path, g.bytes,
                                              "newer than the oldest live writer: its row may not be committed yet"))
            else:
                result.found.append(g)
        if apply:
            for g in result.found:
                if g.path.is_dir():
                    shutil.rmtree(g.path, ignore_errors=True)
                else:
                    g.path.unlink(missing_ok=True)
    return result
