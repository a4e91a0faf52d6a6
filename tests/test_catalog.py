"""The catalog: migrations, concurrent reader and writer processes, crash safety."""

import json
import os
import signal
import subprocess
import sys
import time

from workbench.core.catalog import Catalog
from workbench.core.catalog.migrations import MIGRATIONS


def test_migrations_are_recorded_and_applied_once(tmp_path):
    cat = Catalog(tmp_path / "c.duckdb")
    assert cat.migrate() == sorted(MIGRATIONS)
    assert cat.schema_version() == max(MIGRATIONS)
    assert Catalog(tmp_path / "c.duckdb").migrate() == []
    tables = {r["table_name"] for r in cat.query("SELECT table_name FROM information_schema.tables")}
    assert {"versions", "lineage", "removals", "schema_migrations"} <= tables


def _write_jsonl(path, n, tag):
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"instruction": f"{tag} question {i}?", "output": f"answer {i} " * 20}) + "\n")


WRITER = """
import sys
from workbench.data.ingest import ingest
from workbench.core.workspace import Workspace
ws = Workspace.default()
for i, path in enumerate(sys.argv[1:]):
    ingest(ws, path, name=f"v{i}")
print("writer done", flush=True)
"""

READER = """
import time, sys
from workbench.core.catalog import Catalog
cat = Catalog(sys.argv[1], reader=True)
seen, reads, end = 0, 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    seen = max(seen, len(cat.list_versions()))
    reads += 1
    if seen >= int(sys.argv[3]):
        break
print(f"reads={reads} seen={seen}", flush=True)
"""


def test_reader_process_queries_while_writer_process_writes(ws, tmp_path):
    files = []
    for i in range(12):
        path = tmp_path / f"d{i}.jsonl"
        _write_jsonl(path, 200, f"set{i}")
        files.append(str(path))
    ws.catalog().migrate()  # the file exists before the reader starts
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, *files], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(ws.catalog_path), "240", str(len(files))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    w_out, w_err = writer.communicate(timeout=300)
    r_out, r_err = reader.communicate(timeout=300)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_err
    reads, seen = (int(part.split("=")[1]) for part in r_out.split())
    assert seen == len(files) and reads > len(files)  # it read many times, during the writes
    assert len(ws.catalog().list_versions()) == len(files)


INGEST_ONE = """
import sys
from workbench.data.ingest import ingest
from workbench.core.workspace import Workspace
ingest(Workspace.default(), sys.argv[1], name="big")
"""


def test_ingest_killed_at_any_point_leaves_nothing_partial_and_rerun_succeeds(ws, tmp_path):
    src = tmp_path / "big.jsonl"
    _write_jsonl(src, 20000, "big")
    env = {**os.environ, "WORKBENCH_HOME": str(ws.home)}
    ws.catalog().migrate()
    data = ws.home / "data"
    # kill at moments the ingest itself marks, not after a fixed delay: once it has started, once its
    # temp body exists, and once the renamed body exists (before or after the row: both must hold)
    moments = (lambda: True, lambda: any(data.glob("*.tmp-*")), lambda: any(data.glob("*.parquet")))
    for reached in moments:
        proc = subprocess.Popen([sys.executable, "-c", INGEST_ONE, str(src)], env=env, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not (data.is_dir() and reached()):
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        versions = ws.catalog().list_versions()
        # all or nothing: a registered version has its body and the right row count
        for v in versions:
            assert (ws.home / v["path"]).exists() and v["n_rows"] == 20000
        if versions:
            break
    run = subprocess.run([sys.executable, "-c", INGEST_ONE, str(src)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    versions = ws.catalog().list_versions()
    assert len(versions) == 1 and versions[0]["n_rows"] == 20000
    assert ws.catalog().query("SELECT count(*) AS n FROM removals")[0]["n"] == 0
    assert not list((ws.home / "data").glob("*.tmp-*"))  # stale temp bodies were cleaned
    assert len(list((ws.home / "data").glob("*.parquet"))) == 1



def test_a_reader_brings_an_older_catalog_up_to_date(tmp_path):
    """`workbench report` (a reader) on a workspace an older workbench wrote migrates it first;
    on an up-to-date file a reader writes nothing."""
    import duckdb

    from workbench.core.catalog import Catalog
    from workbench.core.catalog.migrations import MIGRATIONS

    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))  # the schema as the previous release left it
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMP)")
    for n in sorted(MIGRATIONS)[:-1]:
        con.execute(MIGRATIONS[n])
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [n])
    con.close()
    reader = Catalog(old, reader=True)
    assert reader.schema_version() == max(MIGRATIONS)
    assert reader.query("SELECT count(*) AS n FROM schema_migrations")[0]["n"] == len(MIGRATIONS)

    fresh = tmp_path / "fresh.duckdb"
    Catalog(fresh).migrate()
    before = fresh.stat().st_mtime_ns
    assert Catalog(fresh, reader=True).schema_version() == max(MIGRATIONS)
    assert fresh.stat().st_mtime_ns == before
