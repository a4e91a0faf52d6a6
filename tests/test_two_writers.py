"""Two writers on one workspace, with real processes: the same ablation started twice and a
different ablation with the same steps, all at once. Each task runs exactly once; the others
wait for its lease and then find it done (cached, or reused from the other ablation)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

from tests.ablate_helpers import mini_spec


def _ablate(spec, home) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workbench", "ablate", str(spec), "--in-process", "--no-report"],
                            env={**os.environ, "WORKBENCH_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_the_same_ablation_twice_and_another_at_once_run_each_task_once(ws, tmp_path, tiny_model_dir):
    same = mini_spec(tmp_path, tiny_model_dir, "twice")
    other = mini_spec(tmp_path, tiny_model_dir, "other")
    procs = [_ablate(same, ws.home), _ablate(same, ws.home), _ablate(other, ws.home)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=600)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
    log = "\n".join(outs)

    cat = ws.catalog()
    rows = cat.query("SELECT ablation, task_id, kind, status, attempts FROM ablation_tasks")
    by_task = defaultdict(list)
    for r in rows:
        by_task[r["task_id"]].append(r)
    assert sorted(r["kind"] for r in rows if r["ablation"] == "twice") == ["build", "eval", "eval", "train"]
    assert {(r["ablation"], r["task_id"]) for r in rows} == {(a, t) for a in ("twice", "other") for t in by_task}
    for task_id, task_rows in by_task.items():
        assert all(r["status"] == "done" for r in task_rows), task_rows
        ran = [r for r in task_rows if r["attempts"] > 0]
        assert len(ran) == 1 and ran[0]["attempts"] == 1, task_rows  # run once, by one process, once
    assert log.count(": done in ") == 4, log  # 4 tasks run in all three processes together
    assert "waiting for ablation" in log and "which is running it" in log, log
    assert log.count(": cached") + log.count("reused from an earlier ablation") == 8
    [run] = cat.list_runs()  # one training run, trained once, into one directory
    assert run["attempts"] == 1 and run["status"] == "finished"
    assert [p.name for p in ws.runs_dir.iterdir()] == [run["id"]]
    assert cat.query("SELECT count(*) AS n FROM eval_results")[0]["n"] == 2  # base and the trained run
    assert cat.leases() == []  # every lease released
