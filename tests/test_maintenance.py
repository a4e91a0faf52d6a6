"""`workbench gc [--apply]` and `workbench verify` on real workspaces (bodies, a real tiny run)."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from tests.conftest import run_cli
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.maintenance import find_garbage, gc, verify

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

    proc = run_cli("gc")
    for p in ("0123456789abcdef.parquet", "tmp-", "feedfacefeedface", "dry run"):
        assert p in proc.stdout, proc.stdout
    assert orphan.exists() and temp.exists() and stray_run.exists()  # dry run by default
    assert {g.kind for g in find_garbage(ws)} == {"body", "temp", "run_dir"}

    proc = run_cli("gc", "--apply")
    assert "removed" in proc.stdout
    assert not orphan.exists() and not temp.exists() and not stray_run.exists()
    assert keep.exists() and find_garbage(ws) == []
    assert verify(ws).ok
    assert "nothing to collect" in run_cli("gc").stdout


def test_verify_finds_a_changed_and_a_missing_body(ws):
    a = save_version(ws, records(), "a", "ingest")
    b = save_version(ws, records(offset=100), "b", "ingest")
    proc = run_cli("verify")
    assert proc.returncode == 0 and "2 dataset versions" in proc.stdout
    body = ws.home / f"data/{a.id}.parquet"
    table = pq.read_table(body)
    pq.write_table(table.slice(0, 11), body)  # one record lost
    (ws.home / f"data/{b.id}.parquet").unlink()
    report = verify(ws)
    assert {(p.kind, p.ref) for p in report.problems} == {("body_mismatch", a.id), ("missing_body", b.id)}
    proc = run_cli("verify", check=False)
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
