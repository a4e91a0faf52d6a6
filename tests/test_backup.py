"""Catalog backups and migrations under kill -9.

- `workbench backup` while a writer process ingests and a reader process queries: the copy is
  one committed state (every version in it is one the live catalog has, with its removals), and
  restored into a fresh workspace (by reference, or with `--with-data`) it passes `verify`.
- restore refuses to replace a catalog with rows unless --force, and keeps the replaced one.
- kill -9 of a real command in the middle of a schema migration (after the migration's SQL, and
  after its row in schema_migrations, before the commit): the next command migrates cleanly.
  The child signals through a file when it is inside the migration; the test waits on that file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_here
from workbench.ops.maintenance import verify
from workbench.core.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def rows_file(path: Path, n: int, tag: str) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"prompt": f"{tag} question {i}?", "completion": f"{tag} answer {i}."}) + "\n")
    return path


def wait_for(path: Path, proc: subprocess.Popen, what: str, limit_s: float = 300.0) -> None:
    """Wait until `path` exists (the child's signal); fail if the child exits first."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"{what}: the child exited ({proc.returncode}) before signalling:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: no signal from the child")
        time.sleep(0.05)


WRITER = """
import sys
from pathlib import Path
from workbench.data.ingest import ingest
from workbench.core.workspace import Workspace
ws, src, signal_file, stop = Workspace(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
i = 0
while i < 2 or not stop.exists():  # writes until told to stop: it is live during every backup
    f = src / f"w{i}.jsonl"
    f.write_text("".join('{"prompt": "w%d q%d?", "completion": "a%d."}\\n' % (i, j, j) for j in range(300)))
    ingest(ws, f, name=f"w{i}")
    signal_file.touch()
    i += 1
print(i)
"""

READER = """
import sys
from pathlib import Path
from workbench.core.workspace import Workspace
cat, stop = Workspace(Path(sys.argv[1])).catalog(reader=True), Path(sys.argv[2])
n = 0
while not stop.exists():
    cat.query("SELECT count(*) AS n FROM versions")
    n += 1
print(n)
"""


def test_backup_beside_a_live_writer_and_reader_restores_to_a_verified_workspace(ws, tmp_path):
    from workbench.data.ingest import ingest

    ingest(ws, rows_file(tmp_path / "first.jsonl", 50, "first"), name="first")
    src = tmp_path / "src"
    src.mkdir()
    started, stop = tmp_path / "writer-started", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ws.home), str(src), str(started), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(ws.home), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        wait_for(started, writer, "writer")
        run_cli_here("backup", str(tmp_path / "b-ref"))
        run_cli_here("backup", str(tmp_path / "b-data"), "--with-data")
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=600)
        r_out, r_err = reader.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert reader.returncode == 0 and int(r_out) > 0, r_err

    live = {v["id"]: v for v in ws.catalog().list_versions()}
    assert len(live) == 1 + int(out)
    for name in ("b-ref", "b-data"):
        home = tmp_path / f"restored-{name}"
        proc = run_cli_here("restore", str(tmp_path / name), env={"WORKBENCH_HOME": str(home)})
        assert "verify: ok" in proc.stdout
        restored = Workspace(home).catalog().list_versions()
        assert len(restored) >= 2  # what had committed when the copy was taken
        for v in restored:  # each is a whole version of the live catalog
            assert v["id"] in live and v["n_rows"] == live[v["id"]]["n_rows"]
        assert verify(Workspace(home)).ok
    run_cli("verify", env={"WORKBENCH_HOME": str(tmp_path / "restored-b-data")})  # a fresh process
    copied = sorted(p.name for p in (tmp_path / "restored-b-data" / "data").glob("*.parquet"))
    assert len(copied) >= 2 and all((ws.data_dir / n).read_bytes() == (tmp_path / "restored-b-data" / "data" / n)
                                    .read_bytes() for n in copied)
    ref_paths = [v["path"] for v in Workspace(tmp_path / "restored-b-ref").catalog().list_versions()]
    assert all(p.startswith(f"{ws.home}/data/") for p in ref_paths)  # by reference: the original's bodies


def fake_finished_run(ws: Workspace, run_id: str, version_id: str) -> Path:
    """A finished run row with an adapter folder on disk (what verify checks of an unevaluated run)."""
    run_dir = ws.runs_dir / run_id
    (run_dir / "adapter").mkdir(parents=True)
    (run_dir / "adapter" / "adapter_config.json").write_text('{"r": 8}')
    (run_dir / "adapter" / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    (run_dir / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    cat = ws.catalog()
    cat.start_run({"id": run_id, "version_id": version_id, "base_model": "tiny", "base_model_path": "/nowhere",
                   "base_model_hash": "tiny", "run_dir": str(run_dir), "adapter_dir": str(run_dir / "adapter"),
                   "mode": "lora-fp32", "config": {}, "seed": 0})
    cat.finish_run(run_id)
    return run_dir


def test_with_data_moves_runs_and_restore_keeps_the_replaced_catalog(ws, tmp_path):
    from workbench.data.ingest import ingest

    vid = ingest(ws, rows_file(tmp_path / "a.jsonl", 20, "a"), name="a").version.id
    fake_finished_run(ws, "run0", vid)
    run_cli_here("backup", str(tmp_path / "b"), "--with-data")
    assert not (tmp_path / "b" / "runs" / "run0" / "checkpoints").exists()
    again = run_cli_here("backup", str(tmp_path / "b"), "--with-data")  # content-addressed: nothing new to copy
    assert "copied 0 new dataset bodies and 0 runs" in again.stdout

    other = tmp_path / "other"
    run_cli_here("restore", str(tmp_path / "b"), env={"WORKBENCH_HOME": str(other)})
    run = Workspace(other).catalog().list_runs()[0]
    assert run["adapter_dir"] == str(other / "runs" / "run0" / "adapter")
    assert (Path(run["adapter_dir"]) / "adapter_model.safetensors").read_bytes() == \
        (ws.runs_dir / "run0" / "adapter" / "adapter_model.safetensors").read_bytes()

    ingest(ws, rows_file(tmp_path / "b.jsonl", 5, "b"), name="later")  # the live catalog moves on
    refused = run_cli_here("restore", str(tmp_path / "b"), check=False)
    assert refused.returncode == 2 and "already has rows" in refused.stderr and "--force" in refused.stderr
    assert len(ws.catalog().list_versions()) == 2  # untouched
    run_cli_here("restore", str(tmp_path / "b"), "--force")
    assert [v["name"] for v in ws.catalog().list_versions()] == ["a"]
    kept = list(ws.home.glob("catalog.duckdb.before-restore-*"))
    assert len(kept) == 1 and verify(ws).ok
    from workbench.core.catalog import Catalog

    assert len(Catalog(kept[0], reader=True).list_versions()) == 2

    interrupted = tmp_path / "half"
    interrupted.mkdir()
    (interrupted / "catalog.duckdb").write_bytes(b"")
    proc = run_cli_here("restore", str(interrupted), check=False)
    assert proc.returncode == 2 and "not a workbench backup" in proc.stderr


# --- kill -9 inside a schema migration -------------------------------------------------------

MIGRATE_AND_PAUSE = """
import sys, time
from pathlib import Path
import workbench.core.catalog.base as base
from workbench.core.catalog.migrations import MIGRATIONS

target, moment, signal_file = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

class Pausing:  # the real connection; it stops (until killed) at the chosen moment of migration `target`
    def __init__(self, con):
        self._con = con
    def execute(self, sql, *args):
        out = self._con.execute(sql, *args)
        at_sql = moment == "after_sql" and sql == MIGRATIONS[target]
        at_row = moment == "after_row" and sql.startswith("INSERT INTO schema_migrations") and args[0][0] == target
        if at_sql or at_row:
            signal_file.touch()
            while True:
                time.sleep(1)
        return out
    def __getattr__(self, name):
        return getattr(self._con, name)

real_open = base.CatalogBase._open
base.CatalogBase._open = lambda self, read_only: Pausing(real_open(self, read_only))
from workbench.cli import main
sys.argv = ["workbench", "data", "list"]
main()
"""


@pytest.mark.parametrize("moment", ["after_sql", "after_row"])
def test_kill_9_inside_a_migration_then_the_next_command_migrates_cleanly(tmp_path, monkeypatch, moment):
    import workbench.core.catalog.base as base
    from workbench.core.catalog import Catalog
    from workbench.core.catalog.migrations import MIGRATIONS

    home = tmp_path / "home"
    old = {n: sql for n, sql in MIGRATIONS.items() if n <= 6}  # a catalog written by an older workbench
    monkeypatch.setattr(base, "MIGRATIONS", old)
    cat = Catalog(home / "catalog.duckdb")
    cat.add_version("v-old", "old", 3, "data/v-old.parquet", "ingest", {"rows": 3},
                    removals=[{"parent": None, "record_id": "x:1", "step": "ingest", "reason": "r", "detail": None}])
    monkeypatch.setattr(base, "MIGRATIONS", MIGRATIONS)

    target = 8 if moment == "after_sql" else 7  # one migration done before the kill in the first case
    signal_file = tmp_path / "inside"
    child = subprocess.Popen([sys.executable, "-c", MIGRATE_AND_PAUSE, str(target), moment, str(signal_file)],
                             env={**os.environ, "WORKBENCH_HOME": str(home)}, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(signal_file, child, "migrating child")
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    proc = run_cli("data", "list", env={"WORKBENCH_HOME": str(home)})  # a fresh, unpatched command
    assert "old" in proc.stdout
    after = Catalog(home / "catalog.duckdb", reader=True)
    assert [r["version"] for r in after.query("SELECT version FROM schema_migrations ORDER BY 1")] == sorted(MIGRATIONS)
    cols = [r["column_name"] for r in after.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'eval_results'")]
    assert cols.count("higher_is_better") == 1 and cols.count("likelihood_s") == 1
    assert after.query("SELECT count(*) AS n FROM leases")[0]["n"] == 0
    assert after.query("SELECT count(*) AS n FROM removals")[0]["n"] == 1
