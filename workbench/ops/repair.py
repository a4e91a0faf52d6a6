"""`workbench verify --repair`: do what can be done from content still on disk, and say what needs you.

What it does, each found by `verify` first:

- a dataset body that is missing, unreadable or does not hash to its version id is rebuilt from
  content still on disk, and kept only when the rebuilt records hash to the version's id (so it
  is the same content by construction). Where from, in order: a copy (a backup folder made with
  `--with-data`, given as `--from DIR`); its parent and recorded lineage (a curated version: the
  parent less its recorded removals, or its recorded recipe run again; a concatenation: its
  parents in order); its ingest source, read again into a scratch workspace when the file is
  still where it was ingested from.
- a damaged body is moved aside into `damaged/` first (never deleted), whether or not it can be
  rebuilt; one that cannot is reported with its versions and the command that brings it back.
- a finished run whose adapter is missing is restored from a `--from` backup when one holds it
  (and checked against the model key it was evaluated under); otherwise its run row is marked
  failed (`maintenance.LOST`) and the ablation tasks that trained it are marked failed where the
  ablation runner's own lost-output check agrees, so the next `workbench ablate` retrains it.
  The command that does so is reported, and `verify` prints it from then on.
- temp files and folders of killed writers are removed.

Anything else is left as it was: a catalog row changes only where a repair was made.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.core.intents import dead_temps, intent
from workbench.ops.maintenance import LOST, Problem, VerifyReport, _verify_run, retrain_command, verify  # noqa: F401
from workbench.core.workspace import Workspace

BODY_KINDS = ("missing_body", "body_mismatch", "unreadable_body")


@dataclass(frozen=True)
class Repaired:
    kind: str  # body_rebuilt | moved_aside | adapter_restored | run_marked_lost | task_marked_lost | temp_removed
    ref: str
    detail: str


@dataclass(frozen=True)
class Needs:
    """What only the user can do, with the exact command."""

    kind: str
    ref: str
    detail: str
    command: str


@dataclass
class RepairReport:
    done: list[Repaired] = field(default_factory=list)
    needs: list[Needs] = field(default_factory=list)
    after: VerifyReport | None = None  # verify, once the repairs are made

    def to_dict(self) -> dict:
        after = self.after
        return {"done": [asdict(d) for d in self.done], "needs": [asdict(n) for n in self.needs],
                "verify": None if after is None else {
                    "ok": after.ok, "versions": after.versions, "runs": after.runs,
                    "problems": [asdict(p) for p in after.problems], "lost": [asdict(p) for p in after.lost]}}


def _aside(ws: Workspace, path: Path, name: str) -> Path:
    """Move `path` into `damaged/` under a name not taken yet; never deleted."""
    dest_dir = ws.subdir("damaged")
    dest, n = dest_dir / name, 1
    while dest.exists():
        n += 1
        dest = dest_dir / f"{name}.{n}"
    shutil.move(str(path), dest)
    return dest


def _remove_dead_temps(ws: Workspace, report: RepairReport) -> None:
    folders = [ws.home, ws.data_dir, ws.runs_dir, *(d for d in ws.runs_dir.iterdir() if d.is_dir())]
    for folder in folders:
        for p in dead_temps(folder):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            report.done.append(Repaired("temp_removed", str(p.relative_to(ws.home)), "temp file of a killed writer"))


# --- bodies --------------------------------------------------------------------------------------------


def _matches(records, version_id: str) -> bool:
    from workbench.data.store import version_hash

    return bool(records) and version_hash(records) == version_id


def _from_copies(v: dict, sources: list[Path]):
    from workbench.data.store import body_matches, read_body

    for src in sources:
        for cand in (src / "data" / f"{v['id']}.parquet", src / f"{v['id']}.parquet"):
            if cand.is_file() and body_matches(cand, v["id"]):
                yield read_body(cand), f"the copy {cand}"


def _from_lineage(ws: Workspace, v: dict):
    """Candidate records from the version's parents and its recorded lineage (checked by the caller)."""
    from workbench.data.records import unique_ids
    from workbench.data.store import load_records

    cat = ws.catalog()
    edges = cat.parents(v["id"])
    if v["operation"] == "curate" and len(edges) == 1:
        parent = edges[0]["parent"]
        records = load_records(ws, parent)
        gone = {r["record_id"] for r in cat.removals(v["id"])}
        yield [r for r in records if r.id not in gone], f"its parent {parent} less its recorded removals"
        recipe = (edges[0]["params"] or {}).get("recipe")
        if recipe is not None:
            from workbench.curate.recipe import load_recipe, run_steps

            result = run_steps(records, load_recipe(recipe), parent)
            yield result.kept_records, f"its recipe run again on its parent {parent}"
    elif v["operation"] == "concat" and edges:
        parts = [load_records(ws, e["parent"]) for e in edges]
        yield list(unique_ids(r for part in parts for r in part)), f"its parents {', '.join(e['parent'] for e in edges)}"


def _from_source(v: dict):
    """Read the ingest source again, into a scratch workspace, with the options it was ingested with."""
    from workbench.data.ingest import ingest
    from workbench.data.store import load_records

    src = (v.get("meta") or {}).get("input")
    if v["operation"] != "ingest" or not src or not Path(src).is_file():
        return
    with tempfile.TemporaryDirectory(prefix="workbench-repair-") as tmp:
        scratch = Workspace(Path(tmp))
        got = ingest(scratch, src, v["name"], skip_invalid=bool(v["meta"].get("rejected")))
        if got.version.id == v["id"]:
            yield load_records(scratch, got.version.id), f"its ingest source {src}"


def _recover(ws: Workspace, v: dict, sources: list[Path]) -> tuple[list, str] | tuple[None, str]:
    tried = []
    for gen in (_from_copies(v, sources), _from_lineage(ws, v), _from_source(v)):
        try:
            for records, how in gen:
                if _matches(records, v["id"]):
                    return records, how
                tried.append(f"{how} (does not hash to {v['id']})")
        except Exception as e:  # noqa: BLE001 - a source that cannot be read is one more thing tried
            tried.append(f"{type(e).__name__}: {str(e)[:200]}")
    return None, "; ".join(tried) or "no copy, parent or source of it on disk"


def _body_command(ws: Workspace, v: dict) -> str:
    cat = ws.catalog()
    spec = next((t["spec_path"] for t in cat.tasks_naming(v["id"], "build") if t.get("spec_path")), None)
    if spec:
        return f"workbench ablate {spec}"
    src = (v.get("meta") or {}).get("input")
    if v["operation"] == "ingest" and src:
        return f"workbench data ingest {src} --name {v['name']}" + (" --skip-invalid" if v["meta"].get("rejected") else "")
    if v["operation"] == "curate" and (edges := cat.parents(v["id"])):
        return f"workbench curate {edges[0]['parent']} --recipe RECIPE --name {v['name']} (its recipe is in `workbench data lineage {v['id']}`)"
    return "workbench verify --repair --from BACKUP_DIR (a backup made with `workbench backup DIR --with-data`)"


def _repair_body(ws: Workspace, v: dict, problem: Problem, sources: list[Path], report: RepairReport) -> None:
    from workbench.data.store import write_body

    path = Path(v["path"])
    body = path if path.is_absolute() else ws.home / path
    records, how = _recover(ws, v, sources)
    if body.exists():
        moved = _aside(ws, body, body.name)
        report.done.append(Repaired("moved_aside", v["id"], f"{problem.detail}: the damaged body is now "
                                    f"{moved.relative_to(ws.home)}"))
    if records is not None:
        with intent(ws.home, f"verify --repair of dataset version {v['name']!r}", body):
            write_body(body, records)
        report.done.append(Repaired("body_rebuilt", v["id"], f"{v['name']}: {len(records)} records rebuilt from {how} "
                                    "and re-hashed to its id"))
        return
    runs = [r["id"] for r in ws.catalog().list_runs(v["id"])]
    report.needs.append(Needs(problem.kind, v["id"], f"dataset version {v['name']!r} ({v['n_rows']} records"
                              + (f"; runs trained on it: {', '.join(runs)}" if runs else "")
                              + f"): its body cannot be rebuilt from what is on disk; tried: {how}",
                              _body_command(ws, v)))


# --- runs ----------------------------------------------------------------------------------------------


def _write_train_config(run: dict) -> None:
    """The run's resolved settings, where `retrain_command` points `--config` (the same run id again)."""
    path = Path(run["run_dir"]) / "train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"train": run["config"]}, indent=2, sort_keys=True))


def _restore_adapter(ws: Workspace, run: dict, sources: list[Path]) -> Path | None:
    adapter = Path(run["adapter_dir"])
    for src in sources:
        cand = src / "runs" / run["id"] / "adapter"
        if not (cand / "adapter_config.json").is_file():
            continue
        tmp = adapter.with_name(f"{adapter.name}.tmp-{os.getpid()}")
        with intent(ws.home, f"verify --repair of run {run['id']}", adapter.parent):
            shutil.copytree(cand, tmp, dirs_exist_ok=True)
            if adapter.exists():
                _aside(ws, adapter, f"{run['id']}-adapter")
            tmp.rename(adapter)
        if _verify_run(ws, run) is None:
            return cand
        _aside(ws, adapter, f"{run['id']}-adapter-from-backup")  # evaluated as another model: not this run's
    return None


def _repair_run(ws: Workspace, run: dict, problem: Problem, sources: list[Path], report: RepairReport) -> None:
    from workbench.ablate.outputs import parse_output
    from workbench.ablate.runner import _lost_output

    if problem.kind != "missing_adapter":
        report.needs.append(Needs(problem.kind, run["id"], problem.detail, retrain_command(ws, run)))
        return
    if (cand := _restore_adapter(ws, run, sources)) is not None:
        report.done.append(Repaired("adapter_restored", run["id"], f"adapter copied back from {cand}"))
        return
    cat = ws.catalog()
    trains = cat.tasks_naming(run["id"], "train")
    if not trains:
        _write_train_config(run)
    command = retrain_command(ws, run)
    cat.fail_run(run["id"], f"{LOST}its adapter {run['adapter_dir']} is missing; `{command}` trains it again")
    report.done.append(Repaired("run_marked_lost", run["id"], "marked failed: the next ablate or train trains it again"))
    for t in (t for t in trains if t["status"] == "done"):
        lost = _lost_output(ws, parse_output("train", t["output"]))  # the runner's own check, not a copy of it
        if lost:
            cat.task_failed(t["ablation"], t["task_id"], f"{LOST}{lost} (found by verify --repair)", None)
            report.done.append(Repaired("task_marked_lost", t["task_id"], f"ablation {t['ablation']!r}, {t['label']}"))
    report.needs.append(Needs("lost_adapter", run["id"], f"run {run['id']} must be trained again", command))


def repair(ws: Workspace, sources: list[str | Path] = ()) -> RepairReport:
    """Verify, repair what content on disk allows, and verify again (`report.after`)."""
    sources = [Path(s).resolve() for s in sources]
    report = RepairReport()
    _remove_dead_temps(ws, report)
    found = verify(ws)
    cat = ws.catalog()
    versions = {v["id"]: v for v in cat.list_versions()}  # in creation order: parents before children
    bad = {p.ref: p for p in found.problems if p.kind in BODY_KINDS}
    for vid, v in versions.items():
        if vid in bad:
            _repair_body(ws, v, bad[vid], sources, report)
    for p in found.problems:
        if p.kind not in BODY_KINDS:
            _repair_run(ws, cat.get_run(p.ref), p, sources, report)
    for p in found.lost:  # marked by an earlier repair: still to retrain
        if not any(n.ref == p.ref for n in report.needs):
            report.needs.append(Needs("lost_adapter", p.ref, f"run {p.ref} must be trained again",
                                      retrain_command(ws, cat.get_run(p.ref))))
    report.after = verify(ws)
    return report
