"""`workbench verify --repair` on real workspaces: damage bodies, adapters and temp files, repair,
verify afterwards; a second repair changes nothing; catalog rows change only where a repair was made."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq

from tests.conftest import run_cli_here
from workbench.curate.recipe import curate
from workbench.data.ingest import ingest
from workbench.data.records import make_record
from workbench.data.store import save_version
from workbench.ops.maintenance import verify
from workbench.ops.repair import repair

FAST = {"max_steps": 2, "batch_size": 4, "save_steps": 1, "sanity_prompts": 1, "sanity_max_new_tokens": 4}


def rows(n: int, offset: int = 0, pii: bool = False) -> list[dict]:
    out = []
    for i in range(offset, offset + n):
        mail = f" Write to me at user{i}@example.com." if pii and i % 3 == 0 else ""
        out.append({"messages": [{"role": "user", "content": f"What is {i} plus {i}?{mail}"},
                                 {"role": "assistant", "content": f"{i} plus {i} is {2 * i}." + " Indeed." * (i % 4)}]})
    return out


def write_jsonl(path, data) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    return str(path)


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def catalog_rows(ws) -> dict:
    cat = ws.catalog()
    return {t: cat.query(f"SELECT * FROM {t} ORDER BY ALL") for t in ("versions", "lineage", "removals", "runs",
                                                                        "ablation_tasks")}


def files(ws) -> dict:
    return {str(p.relative_to(ws.home)): p.stat().st_size for p in ws.home.rglob("*")
            if p.is_file() and "intents" not in p.parts and not p.name.startswith("catalog.duckdb")}


def test_repair_rebuilds_bodies_from_source_lineage_and_backup_and_moves_the_rest_aside(ws, tmp_path):
    from workbench.ops.backup import backup

    backed = save_version(ws, [make_record([{"role": "user", "content": f"hi {i}"},
                                            {"role": "assistant", "content": f"hello {i}"}]) for i in range(8)],
                          "handmade", "mix")
    backup(ws, tmp_path / "backup", with_data=True)  # holds this body only
    raw = ingest(ws, write_jsonl(tmp_path / "raw.jsonl", rows(30, pii=True)), "raw").version
    # a redaction rewrites records: only running the recorded recipe again gives this body back
    redacted = curate(ws, raw.id, {"steps": [{"step": "pii", "params": {"action": "redact"}}]}, "redacted").version
    # a plain filter: the parent less its recorded removals gives it back
    short = curate(ws, redacted.id, {"steps": [{"step": "length", "params": {"max_chars": 75}}]}, "short").version
    assert 0 < short.n_rows < redacted.n_rows
    lone = save_version(ws, [make_record([{"role": "user", "content": f"q {i}"},
                                          {"role": "assistant", "content": f"a {i}"}]) for i in range(5)],
                        "lone", "mix")  # no copy, no lineage, no source: cannot be rebuilt
    assert verify(ws).ok
    before = catalog_rows(ws)

    body = lambda v: ws.home / f"data/{v.id}.parquet"  # noqa: E731
    pq.write_table(pq.read_table(body(raw)).slice(0, 29), body(raw))  # one record lost
    body(redacted).unlink()
    body(short).write_bytes(b"not parquet at all")
    body(backed).unlink()
    body(lone).write_bytes(body(lone).read_bytes()[:-40])  # truncated
    temp = ws.data_dir / f"x.parquet.tmp-{dead_pid()}"
    temp.write_bytes(b"partial")
    found = {(p.kind, p.ref) for p in verify(ws).problems}
    assert found == {("body_mismatch", raw.id), ("missing_body", redacted.id), ("unreadable_body", short.id),
                     ("missing_body", backed.id), ("unreadable_body", lone.id)}

    proc = run_cli_here("verify", "--repair", "--from", str(tmp_path / "backup"), "--json", check=False)
    assert proc.returncode == 1, proc.stderr  # one body could not be rebuilt
    out = json.loads(proc.stdout)
    rebuilt = {d["ref"]: d["detail"] for d in out["done"] if d["kind"] == "body_rebuilt"}
    assert set(rebuilt) == {raw.id, redacted.id, short.id, backed.id}
    assert "ingest source" in rebuilt[raw.id] and "recipe run again" in rebuilt[redacted.id]
    assert "less its recorded removals" in rebuilt[short.id] and "backup" in rebuilt[backed.id]
    aside = {d["ref"] for d in out["done"] if d["kind"] == "moved_aside"}
    assert aside == {raw.id, short.id, lone.id}  # every damaged body is kept, none deleted
    assert len(list((ws.home / "damaged").iterdir())) == 3
    assert {d["kind"] for d in out["done"]} == {"body_rebuilt", "moved_aside", "temp_removed"} and not temp.exists()
    [need] = out["needs"]
    assert need["ref"] == lone.id and "workbench verify --repair --from" in need["command"]
    assert [(p["kind"], p["ref"]) for p in out["verify"]["problems"]] == [("missing_body", lone.id)]
    assert catalog_rows(ws) == before  # the bodies are rewritten, no row changed

    files_after = files(ws)
    again = repair(ws, [tmp_path / "backup"])  # a second repair is a no-op
    assert again.done == [] and [n.ref for n in again.needs] == [lone.id]
    assert files(ws) == files_after and catalog_rows(ws) == before
    proc = run_cli_here("verify", check=False)
    assert proc.returncode == 1 and lone.id in proc.stderr and "--repair" in proc.stderr


def test_repair_marks_a_run_with_a_lost_adapter_and_its_printed_command_retrains_it(ws, tiny_model_dir):
    from workbench.train import train

    v = save_version(ws, [make_record(r["messages"]) for r in rows(12)], "toy", "ingest")
    r = train(ws, v.id, str(tiny_model_dir), FAST, progress=False)
    before = catalog_rows(ws)
    assert repair(ws).done == [] and catalog_rows(ws) == before  # nothing to repair: nothing changes

    import shutil

    shutil.rmtree(r.adapter_dir)
    [p] = verify(ws).problems
    assert p.kind == "missing_adapter" and "--repair" in p.detail
    proc = run_cli_here("verify", "--repair")
    assert "run_marked_lost" in proc.stdout and "workbench train --data" in proc.stdout, proc.stdout
    report = verify(ws)
    assert report.ok and [x.ref for x in report.lost] == [r.id]
    row = ws.catalog().get_run(r.id)
    assert row["status"] == "failed" and row["error"].startswith("lost: ")
    again = repair(ws)
    assert again.done == [] and [n.kind for n in again.needs] == ["lost_adapter"]
    shown = run_cli_here("verify").stdout
    assert r.id in shown and "workbench train" in shown

    # the printed command, as the user would run it: the same run id, trained again
    command = again.needs[0].command.split()
    assert command[:2] == ["workbench", "train"]
    args = dict(zip(command[2::2], command[3::2]))
    r2 = train(ws, args["--data"], args["--base"], args["--config"], seed=int(args["--seed"]), progress=False)
    assert r2.id == r.id and (r.adapter_dir / "adapter_config.json").is_file()
    after = verify(ws)
    assert after.ok and after.lost == [] and after.runs == 1


def test_repair_marks_an_ablation_task_whose_adapter_is_lost_and_the_next_ablate_retrains_it(ws, tmp_path,
                                                                                          tiny_model_dir):
    import shutil

    from tests.ablate_helpers import mini_spec
    from workbench.ablate import run_ablation

    spec = mini_spec(tmp_path, tiny_model_dir, "mini")
    first = run_ablation(ws, spec)
    assert not first.failures
    [train] = [t for t in ws.catalog().ablation_tasks("mini") if t["kind"] == "train"]
    run = ws.catalog().get_run(train["output"]["run_id"])
    shutil.rmtree(run["adapter_dir"])

    report = repair(ws)
    assert {d.kind for d in report.done} == {"run_marked_lost", "task_marked_lost"}
    [need] = report.needs
    assert need.command == f"workbench ablate {spec.resolve()}"
    task = ws.catalog().get_task("mini", train["task_id"])
    assert task["status"] == "failed" and task["error"].startswith("lost: ")
    assert verify(ws).ok and [p.ref for p in verify(ws).lost] == [run["id"]]

    again = run_ablation(ws, spec)  # the printed command: the lost run is trained again
    assert not again.failures
    assert ws.catalog().get_run(run["id"])["status"] == "finished"
    after = verify(ws)
    assert after.ok and after.lost == [] and after.runs == 1
