"""A full disk: one DiskFullError naming the path, the catalog unchanged, and a rerun that resumes.

Two ways in: an injected write failure (OSError(ENOSPC) from the body writer, the adapter save,
or a DuckDB commit), which runs everywhere, and a real small tmpfs mount (as root; skipped
cleanly where mounting is not permitted), where pyarrow, torch, safetensors and DuckDB each hit
the real ENOSPC of a device that is full.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_here
from workbench.core.errors import DiskFullError, WorkbenchError
from workbench.ops.maintenance import verify


def catalog_dump(ws) -> dict[str, list]:
    cat = ws.catalog()
    tables = [r["table_name"] for r in cat.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")]
    return {t: sorted(json.dumps(r, default=str, sort_keys=True) for r in cat.query(f'SELECT * FROM "{t}"'))
            for t in tables if t != "schema_migrations"}


def write_rows(path: Path, n: int, seed: int = 0, width: int = 40) -> Path:
    import random

    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(width))
            fh.write(json.dumps({"prompt": f"q{i} {text}", "completion": f"a{i} {text[::-1]}"}) + "\n")
    return path


def leftovers(ws) -> list[str]:
    return [p.name for p in ws.data_dir.iterdir() if ".tmp-" in p.name]


# --- injected failures (every machine) -------------------------------------------------------


def test_ingest_body_enospc_is_one_clear_error_and_rerun_resumes(ws, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from workbench.data.ingest import ingest

    src = write_rows(tmp_path / "rows.jsonl", 200)
    ingest(ws, write_rows(tmp_path / "first.jsonl", 5, seed=1), name="first")
    before = catalog_dump(ws)
    real = pq.write_table

    def full(table, where, **kw):  # writes part of the file, then the device is full
        Path(where).write_bytes(b"PAR1" + b"\0" * 1000)
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    proc = run_cli_here("data", "ingest", str(src), "--name", "big", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "disk full" in proc.stderr
    assert str(ws.data_dir) in proc.stderr.replace("\n", "") and ".parquet" in proc.stderr
    with pytest.raises(DiskFullError) as info:
        ingest(ws, src, name="big")
    assert isinstance(info.value, WorkbenchError) and info.value.errno == errno.ENOSPC
    assert Path(info.value.filename).parent == ws.data_dir and info.value.filename.endswith(".parquet")
    assert catalog_dump(ws) == before
    assert leftovers(ws) == [] and len(list(ws.data_dir.glob("*.parquet"))) == 1

    monkeypatch.setattr(pq, "write_table", real)  # space freed
    done = ingest(ws, src, name="big")
    assert done.version.created and done.version.n_rows == 200
    assert verify(ws).ok


class _FullDiskOnCommit:
    """A real DuckDB connection whose COMMIT meets a full disk, as DuckDB reports it."""

    def __init__(self, con, wal: str):
        self._con, self._wal = con, wal

    def execute(self, sql, *args):
        if sql.strip().upper() == "COMMIT":
            import duckdb

            raise duckdb.TransactionException(
                f'TransactionContext Error: Failed to commit: Could not write file "{self._wal}": No space left on device')
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_catalog_commit_on_a_full_disk_rolls_back_and_names_the_catalog(ws, tmp_path, monkeypatch):
    from workbench.core.catalog.base import CatalogBase
    from workbench.data.ingest import ingest

    ingest(ws, write_rows(tmp_path / "first.jsonl", 5, seed=1), name="first")
    before = catalog_dump(ws)
    real_open = CatalogBase._open
    wal = f"{ws.catalog_path}.wal"
    monkeypatch.setattr(CatalogBase, "_open", lambda self, read_only: _FullDiskOnCommit(real_open(self, read_only), wal))
    src = write_rows(tmp_path / "rows.jsonl", 50)
    with pytest.raises(DiskFullError) as info:
        ingest(ws, src, name="second")
    assert info.value.filename == wal and "the catalog" in str(info.value)
    monkeypatch.setattr(CatalogBase, "_open", real_open)
    assert catalog_dump(ws) == before  # rolled back: no version row, no lineage
    assert ingest(ws, src, name="second").version.n_rows == 50  # the body on disk is healed or reused
    assert verify(ws).ok


def test_adapter_save_enospc_names_the_run_and_rerun_finishes(ws, tiny_model_dir, monkeypatch):
    from peft import PeftModel

    from workbench.data.records import make_record
    from workbench.data.store import save_version
    from workbench.train import train

    recs = [make_record([{"role": "user", "content": f"What is {i} plus {i}?"},
                         {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]) for i in range(12)]
    vid = save_version(ws, recs, "toy", "ingest").id
    cfg = {"max_steps": 2, "batch_size": 4, "save_steps": 1, "sanity_prompts": 0}
    real = PeftModel.save_pretrained

    def full(self, save_directory, *a, **kw):  # checkpoints save; the final adapter finds the disk full
        if not Path(save_directory).name.startswith("adapter.tmp-"):
            return real(self, save_directory, *a, **kw)
        Path(save_directory).mkdir(parents=True, exist_ok=True)
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(save_directory) / "adapter_model.safetensors"))

    monkeypatch.setattr(PeftModel, "save_pretrained", full)
    with pytest.raises(DiskFullError) as info:
        train(ws, vid, base=str(tiny_model_dir), config=cfg, progress=False)
    assert "adapter_model.safetensors" in info.value.filename and "training run" in str(info.value)
    run = ws.catalog().list_runs()[0]
    assert run["status"] != "finished" and "disk full" in (run["error"] or "")
    assert any((Path(run["run_dir"]) / "checkpoints").glob("checkpoint-*"))  # what resumes

    monkeypatch.setattr(PeftModel, "save_pretrained", real)
    result = train(ws, vid, base=str(tiny_model_dir), config=cfg, progress=False)
    assert result.status == "finished" and result.resumed_from  # from the checkpoint, not from scratch
    assert verify(ws).ok


def test_only_a_full_disk_is_translated():
    from workbench.core.diskfull import disk_full, is_disk_full

    with pytest.raises(PermissionError):
        with disk_full("/x", "a test"):
            raise PermissionError(errno.EACCES, "Permission denied", "/x/y")
    assert not is_disk_full(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos"))
    assert is_disk_full(RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"))


# --- a real full device (root) ---------------------------------------------------------------


@pytest.fixture
def small_mount(tmp_path):
    """A 4 MiB tmpfs; skipped where mounting is not permitted (not root, a container without it)."""
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path, leave: int = 0) -> Path:
    """Fill the device of `where` up to `leave` bytes free; returns the filler to delete later."""
    import shutil

    filler = where / "filler"
    with open(filler, "wb") as fh:
        try:
            while (free := shutil.disk_usage(where).free) > leave:
                fh.write(b"\0" * min(free - leave, 1 << 16) or b"\0")
                fh.flush()
        except OSError:
            pass
    return filler


def test_real_full_tmpfs_ingest_then_rerun(small_mount, tmp_path):
    home = small_mount / "home"
    env = {"WORKBENCH_HOME": str(home)}
    run_cli("data", "ingest", str(write_rows(tmp_path / "first.jsonl", 5, seed=1)), "--name", "first", env=env)
    from workbench.core.workspace import Workspace

    ws = Workspace(home)
    before = catalog_dump(ws)
    filler = fill(small_mount, leave=64 * 1024)
    src = write_rows(tmp_path / "big.jsonl", 3000, width=200)  # ~1.3 MB of incompressible-ish text
    proc = run_cli("data", "ingest", str(src), "--name", "big", env=env, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr and "disk full" in err and str(home) in err
    filler.unlink()  # space freed
    assert catalog_dump(ws) == before and leftovers(ws) == []
    run_cli("data", "ingest", str(src), "--name", "big", env=env)
    assert verify(ws).ok and len(ws.catalog().list_versions()) == 2


def test_real_full_tmpfs_catalog_torch_and_safetensors(small_mount):
    import torch
    from safetensors.torch import save_file

    from workbench.core.catalog import Catalog
    from workbench.core.diskfull import disk_full

    cat = Catalog(small_mount / "catalog.duckdb")
    cat.add_version("v1", "one", 1, "data/v1.parquet", "ingest", {})
    filler = fill(small_mount)
    with pytest.raises(DiskFullError) as info:  # a big insert cannot grow the WAL
        with cat.connect() as con:
            con.execute("INSERT INTO removals SELECT 'v1', NULL, 'r' || i, 'ingest', 'x', repeat('y', 500) "
                        "FROM range(20000) t(i)")
    assert str(small_mount) in info.value.filename
    for what, write in (("torch", lambda p: torch.save(torch.zeros(300_000), p)),
                        ("safetensors", lambda p: save_file({"w": torch.zeros(300_000)}, str(p)))):
        with pytest.raises(DiskFullError, match="disk full"):
            with disk_full(small_mount / what, what):
                write(small_mount / what)
        (small_mount / what).unlink(missing_ok=True)
    filler.unlink()
    assert [v["id"] for v in Catalog(small_mount / "catalog.duckdb").list_versions()] == ["v1"]
    assert Catalog(small_mount / "catalog.duckdb").query("SELECT count(*) AS n FROM removals")[0]["n"] == 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
