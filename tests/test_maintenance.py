"""`workbench gc [--apply]` and `workbench verify` on real workspaces (bodies, a real tiny run)."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli_here
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.ops.maintenance import find_garbage, gc, verify

FAST = {"max_steps": 2, "batch_size": 4, "save_steps": 1, "sanity_prompts": 1, "sanity_max_new_tokens": 4}


def records(n=12, offset=0):
    return [make_record([{"role": "user", "content": f"What is {i} plus {i}?"},
                         {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]) for i in range(offset, offset + n)]


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_gc_lists_then_removes_only_unreferenced_files(ws):
    v = save_version(ws, records(), "toy", "ingest")
    keep = ws.home / f"data/{v.id}.parquet"
    orphan = ws.data_dir / "0123456789abcdef.parquet"
    orphan.write_bytes(keep.read_bytes())  # a body a killed ingest left behind
    temp = ws.data_dir / f"x.parquet.tmp-{dead_pid()}"
    temp.write_bytes(b"partial")
    stray_run = ws.runs_dir / "feedfacefeedface"
    (stray_run / "adapter").mkdir(parents=True)
    (stray_run / "adapter" / "adapter_model.safetensors").write_bytes(b"0" * 1000)

    proc = run_cli_here("gc")
    for p in ("0123456789abcdef.parquet", "tmp-", "feedfacefeedface", "dry run"):
        assert p in proc.stdout, proc.stdout
    assert orphan.exists() and temp.exists() and stray_run.exists()  # dry run by default
    assert {g.kind for g in find_garbage(ws)} == {"body", "temp", "run_dir"}

    proc = run_cli_here("gc", "--apply")
    assert "removed" in proc.stdout
    assert not orphan.exists() and not temp.exists() and not stray_run.exists()
    assert keep.exists() and find_garbage(ws) == []
    assert verify(ws).ok
    assert "nothing to collect" in run_cli_here("gc").stdout


def test_verify_finds_a_changed_and_a_missing_body(ws):
    a = save_version(ws, records(), "a", "ingest")
    b = save_version(ws, records(offset=100), "b", "ingest")
    proc = run_cli_here("verify")
    assert proc.returncode == 0 and "2 dataset versions" in proc.stdout
    body = ws.home / f"data/{a.id}.parquet"
    table = pq.read_table(body)
    pq.write_table(table.slice(0, 11), body)  # one record lost
    (ws.home / f"data/{b.id}.parquet").unlink()
    report = verify(ws)
    assert {(p.kind, p.ref) for p in report.problems} == {("body_mismatch", a.id), ("missing_body", b.id)}
    proc = run_cli_here("verify", check=False)
    assert proc.returncode == 1 and "body_mismatch" in proc.stderr and "missing_body" in proc.stderr


def test_verify_and_gc_with_a_real_run(ws, tiny_model_dir):
    from workbench.train import train

    v = save_version(ws, records(), "toy", "ingest")
    r = train(ws, v.id, str(tiny_model_dir), FAST, progress=False)
    assert verify(ws).ok and verify(ws).runs == 1
    assert find_garbage(ws) == []  # the finished run's checkpoints are already gone
    (r.run_dir / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    assert [g.kind for g in gc(ws, apply=True)] == ["checkpoints"]
    assert r.adapter_dir.exists() and verify(ws).ok
    (r.adapter_dir / "adapter_config.json").unlink()
    assert [p.kind for p in verify(ws).problems] == ["missing_adapter"]


# --- gc beside writers (workbench.core.intents) ---------------------------------------------------

def test_gc_skips_what_a_live_writer_intends_and_anything_newer(ws):
    import time

    from workbench.core.intents import intent, read_intents

    old = ws.data_dir / "00000000000000aa.parquet"
    old.write_bytes(b"an orphan from before any writer")
    t0 = time.time() - 60
    os.utime(old, (t0, t0))
    body = ws.data_dir / "00000000000000bb.parquet"
    with intent(ws.home, "dataset version 'x'", body):
        body.write_bytes(b"being written; its row is not committed yet")
        stray = ws.data_dir / "00000000000000cc.parquet"
        stray.write_bytes(b"written after the writer started, by someone gc cannot see")
        result = gc(ws, apply=True)
        assert [g.path for g in result.found] == [old] and not old.exists()
        skipped = {g.path: g.why for g in result.skipped}
        assert "being written by dataset version 'x'" in skipped[body]
        assert "newer than the oldest live writer" in skipped[stray]
        assert body.exists() and stray.exists() and result.writers
        proc = run_cli_here("gc")
        assert "skipped" in proc.stdout and "live writers" in proc.stdout, proc.stdout
    assert read_intents(ws.home) == []  # the writer's intent is gone with its block
    assert {g.path for g in gc(ws, apply=True).found} == {body, stray}  # no row references them: garbage now


def test_a_killed_writers_intent_protects_nothing(ws):
    import json

    from workbench.core.intents import read_intents

    orphan = ws.data_dir / "00000000000000dd.parquet"
    orphan.write_bytes(b"left by a writer that was killed")
    (ws.home / "intents").mkdir(exist_ok=True)
    (ws.home / "intents" / "dead.json").write_text(json.dumps(
        {"host": __import__("socket").gethostname(), "pid": dead_pid(), "token": "1", "started": 0.0,
         "what": "dataset version 'killed'", "paths": [str(orphan)]}))
    assert [g.path for g in gc(ws, apply=True).found] == [orphan]
    assert read_intents(ws.home) == []


def test_saving_again_heals_a_missing_or_damaged_body(ws):
    v = save_version(ws, records(), "toy", "ingest")
    body = ws.home / f"data/{v.id}.parquet"
    body.unlink()
    assert [p.kind for p in verify(ws).problems] == ["missing_body"]
    again = save_version(ws, records(), "toy", "ingest")
    assert again.id == v.id and not again.created and verify(ws).ok
    body.write_bytes(b"not parquet")
    save_version(ws, records(), "toy", "ingest")
    assert verify(ws).ok


def test_reingesting_the_same_file_restores_a_deleted_body(ws, tmp_path):
    import json

    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"messages": m}) + "\n" for m in (r.messages for r in records())))
    run_cli_here("data", "ingest", str(src), "--name", "a")
    [body] = ws.data_dir.glob("*.parquet")
    body.unlink()
    assert run_cli_here("verify", check=False).returncode == 1
    run_cli_here("data", "ingest", str(src), "--name", "a")
    assert body.is_file() and run_cli_here("verify").returncode == 0


def test_verify_accepts_exact_repeats_and_preference_pairs(ws):
    from workbench.data.records import unique_ids

    recs = list(unique_ids(records(4) + records(2)))  # two exact repeats get derived ids
    save_version(ws, recs, "repeats", "ingest")
    assert verify(ws).ok


def _race(tmp_path, **kw):
    import sys

    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))  # importable by name, so its spawned processes find it
    import gc_race

    return gc_race.race(tmp_path / "race", **kw)


def test_gc_in_a_loop_beside_ingest_and_curate_loses_nothing(tmp_path):
    s = _race(tmp_path, ingests=4, curates=2, trains=0, rows=1500)
    assert s["writers_ok"] and s["writer_ops"] == 6 and s["gc_passes"] > 0, s
    assert s["lost_bodies"] == [] and s["lost_run_dirs"] == [] and s["verify_problems"] == [], s


@pytest.mark.faults_long
@pytest.mark.timeout(3600)
def test_gc_race_over_fifty_writer_operations(tmp_path, tiny_model_dir):
    from tests.ablate_helpers import tiny_spec

    spec = tiny_spec(tmp_path / "ablation", tiny_model_dir)
    s = _race(tmp_path, ingests=30, curates=16, trains=4, model_dir=str(tiny_model_dir), ablate_spec=str(spec),
              rows=1000)
    assert s["writers_ok"] and s["writer_ops"] >= 50 and s["runs"] >= 4 + 2, s  # 4 trainings, the ablation's 2
    assert s["lost_bodies"] == [] and s["lost_run_dirs"] == [] and s["verify_problems"] == [], s
