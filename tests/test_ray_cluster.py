"""A real two-node Ray cluster on this machine: `ray start --head --num-cpus 1` plus a second
`ray start --address HEAD --num-cpus 1 --resources '{"node_b": 1}'` (two raylets, two node ids),
then `workbench ablate SPEC --executor ray --address HEAD` in its own process, as a user runs it.

The tiny 2-variant ablation (the local executor's reference from tests/ablate_helpers), plus a
third variant whose training raises (DPO on conversation data): its tasks ran on both nodes
(the "ran on" record), every task id, run id and per-item score equals the local executor's, the
failing variant's train failed alone (its eval never ran, the other chains finished) and left no
row in the catalog, and stopping the two nodes leaves no Ray process of theirs behind.

Without a cluster (the default suite, on the session's local Ray instance): a train task that
fails after its step wrote rows (the base model's weights are missing) fails alone while a build
runs beside it, and none of its rows reach the catalog.

Each node runs under `ray start --block` and is stopped with SIGTERM (what Ctrl-C on a real node
does): `ray stop` would stop every Ray process on the machine, other users' and other test
sessions' instances too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests.ablate_helpers import filled_workspace, free_port, tiny_spec
from workbench.ablate.tasks import Task, build_task, resolved_train_config
from workbench.core.workspace import Workspace

pytest.importorskip("ray", reason="the ray extra is not installed (bash setup.sh installs it)")
# the session's local Ray instance (conftest's `ray_address`, started after collection) runs its
# workers at normal priority, not Ray's default niceness 15, which starves them on a busy machine
os.environ.setdefault("RAY_worker_niceness", "0")
e2e = pytest.mark.e2e  # two Ray nodes and a 9-task ablation on 2 shared cores: minutes

REPO = Path(__file__).resolve().parents[1]
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
NODES_PY = """
import json, sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
deadline = time.monotonic() + 120
while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
    time.sleep(0.5)
print(json.dumps([{"id": n["NodeID"], "resources": n["Resources"]} for n in ray.nodes() if n["Alive"]]))
"""


def _env(**extra: str) -> dict:
    """The environment of every process of the cluster (nodes, driver). Ray 2.60 turns token auth
    on for a head started where ~/.ray/auth_token exists but not for a worker node, which then
    cannot join: one mode for all (disabled: loopback only, and nothing written to ~/.ray)."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a session's own instance: not ours
    return {**env, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled", **extra}


def _start_node(log: Path, *args: str) -> subprocess.Popen:
    """One `ray start --block` (its own process group), once it says the node is up."""
    ports = ["--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
             "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port"]
    cmd = [*RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
           "--object-store-memory", str(128 * 1024 ** 2), "--disable-usage-stats",
           *[x for p in ports for x in (p, str(free_port()))], *args]
    fh = open(log, "w")
    env = {**_env(), "RAY_USAGE_STATS_ENABLED": "0", "RAY_worker_niceness": "0",
           "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}  # SIGTERM: stop now, no 30 s drain
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    fh.close()
    deadline = time.monotonic() + 180
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"ray start {' '.join(args)} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return proc


def _stop_node(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGTERM to `ray start --block`, which stops its node's processes; those still alive after."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _, alive = psutil.wait_procs(family, timeout=30)
    return alive


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes (1 CPU each) on this machine: (address, {node id: resources}, temp root)."""
    root = Path(tempfile.mkdtemp(prefix="wbray-"))  # short: Ray's socket paths must stay under 107 bytes
    port = free_port()
    address = f"127.0.0.1:{port}"
    procs = []
    try:
        procs.append(_start_node(root / "head.log", "--head", "--port", str(port), "--include-dashboard", "false",
                                 "--ray-client-server-port", str(free_port()), "--temp-dir", str(root / "head")))
        procs.append(_start_node(root / "b.log", "--address", address, "--resources", json.dumps({"node_b": 1}),
                                 "--temp-dir", str(root / "b")))
        out = subprocess.run([sys.executable, "-c", NODES_PY, address], capture_output=True, text=True, timeout=180,
                             env=_env())
        assert out.returncode == 0, out.stderr[-3000:]
        nodes = {n["id"]: n["resources"] for n in json.loads(out.stdout.strip().splitlines()[-1])}
        assert len(nodes) == 2, nodes
        yield address, nodes, root
    finally:
        alive = [p for proc in reversed(procs) for p in _stop_node(proc)]
        leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(root) in " ".join(p.info["cmdline"] or [])]
        shutil.rmtree(root, ignore_errors=True)
        assert not alive and not leftovers, f"Ray processes left after stopping the nodes: {alive + leftovers}"


def _spec(folder: Path, model_dir: Path) -> Path:
    """The reference's spec (1 CPU per task: one task per node at a time) plus a variant whose
    training raises: DPO needs preference pairs, and its data are conversations."""
    path = tiny_spec(folder, model_dir, extra_variants=[
        {"name": "pref", "sources": [str(folder / "data" / "math.jsonl")], "recipe": {"steps": [{"step": "exact_dedup"}]},
         "method": "dpo"}])
    spec = yaml.safe_load(path.read_text())
    spec["resources"] = {k: {"num_cpus": 1} for k in ("build", "train", "eval")}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _tasks(ws: Workspace) -> dict:
    return {t["task_id"]: t for t in ws.catalog(reader=True).ablation_tasks("tiny")}


def _samples(ws: Workspace) -> list[tuple]:
    rows = ws.catalog(reader=True).query("SELECT r.run_id, r.suite, s.item_id, s.scores FROM eval_samples s "
                                         "JOIN eval_results r ON r.id = s.result_id ORDER BY 1, 2, 3")
    return [tuple(r.values()) for r in rows]


def _ids(t: dict) -> tuple:
    o = t["output"] or {}
    return t["status"], o.get("version") or o.get("run_id") or o.get("target")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    return filled_workspace(tmp_path_factory, tiny_model_dir)  # the local executor's run of the 2 variants


@e2e
@pytest.mark.timeout(3600)  # 900 s was not enough at load 13 on 2 cores (one tiny eval item: 20-90 s)
def test_an_ablation_on_two_ray_nodes_matches_the_local_executor(cluster, reference, tmp_path_factory, tiny_model_dir):
    address, nodes, _ = cluster
    folder = tmp_path_factory.mktemp("cluster")
    home, spec = folder / "home", _spec(folder, tiny_model_dir)
    env = _env(WORKBENCH_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "workbench", "ablate", str(spec), "--executor", "ray",
                           "--address", address, "--no-report"], env=env, capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "failed train pref seed 0" in out, out[-4000:]  # the one failure, reported

    ws = Workspace(home)
    got, ref = _tasks(ws), _tasks(reference)
    assert {k: _ids(t) for k, t in got.items() if k in ref} == {k: _ids(t) for k, t in ref.items()}
    assert _samples(ws) == _samples(reference)  # every per-item score, of every run and the base model

    # the failing variant: its build ran, its train failed alone (a TrainError), its eval never ran
    extra = {t["label"]: t for k, t in got.items() if k not in ref}
    assert set(extra) == {"build pref", "train pref seed 0"}, set(extra)
    assert extra["build pref"]["status"] == "done" and extra["train pref seed 0"]["status"] == "failed"
    assert "TrainError" in extra["train pref seed 0"]["error"] and "preference" in extra["train pref seed 0"]["error"]
    cat, ref_cat = ws.catalog(reader=True), reference.catalog(reader=True)
    for table in ("runs", "run_steps", "eval_results", "eval_samples"):  # nothing of the failed run
        assert cat.query(f"SELECT count(*) AS n FROM {table}") == ref_cat.query(f"SELECT count(*) AS n FROM {table}")

    # every task says where it ran: both nodes ran tasks, and they are the cluster's two nodes
    where = [t["output"]["where"] for t in got.values() if t["status"] == "done"]
    ran_on = {re.search(r"ray node \S+ ([0-9a-f]{8})", w).group(1) for w in where}
    assert ran_on == {n[:8] for n in nodes}, (where, list(nodes))
    status = subprocess.run([sys.executable, "-m", "workbench", "ablate", "status", "tiny"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "ran on" in status.stdout and "failed: 1" in status.stdout, status.stdout


def _counts(ws: Workspace) -> dict:
    cat = ws.catalog(reader=True)
    return {t: cat.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("versions", "runs", "run_steps")}


def test_a_train_failing_on_ray_fails_alone_and_leaves_no_row(tmp_path, tiny_model_dir, ray_address):
    from workbench.ablate.ray_executor import RayExecutor
    from workbench.ablate.runner import Runner
    from workbench.ablate.spec import load_spec

    spec = load_spec(tiny_spec(tmp_path, tiny_model_dir, name="fails"))
    ws, executor = Workspace(tmp_path / "home"), RayExecutor(address=ray_address)
    runner = Runner(ws, spec, executor=executor)
    version = runner.run_task(build_task(spec, spec.variant("math"))).output.version
    broken = tmp_path / "no-weights"  # config and tokenizer, no weights: train writes its run row, then fails to load
    shutil.copytree(tiny_model_dir, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    bad = Task("train", "math", 0, "train math seed 0", {"version": version, "base": str(broken),
                                                          "config": resolved_train_config(spec), "seed": 0})
    before = _counts(ws)
    executor.map(runner.run_task, [bad, build_task(spec, spec.variant("all"))])  # side by side on Ray

    by_label = {o.task.label: o for o in runner.run_record.outcomes}
    assert by_label["build all"].status == "done" and by_label["train math seed 0"].status == "failed"
    assert "cannot load model" in by_label["train math seed 0"].error, by_label["train math seed 0"].error
    row = ws.catalog(reader=True).get_task("fails", bad.id)
    assert row["status"] == "failed" and "no-weights" in row["error"]
    assert list(ws.runs_dir.glob("*/config.json")), "the step got as far as its run folder"
    after = _counts(ws)
    assert after["runs"] == before["runs"] == 0 and after["run_steps"] == 0  # its rows never reached the catalog
    assert after["versions"] > before["versions"]  # the build beside it landed
