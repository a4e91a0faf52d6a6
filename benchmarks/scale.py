"""The catalog at scale: a generated workspace, then the commands a user runs on it, timed with peak RSS.

    python benchmarks/scale.py --home /tmp/scale            # 200 runs x 5 suites x 1,000 items, 10 x 1M records
    python benchmarks/scale.py --home /tmp/scale --time-only  # time again on the workspace already built

The workspace holds one ablation `scale`: 10 variants (each a dataset version of 1M records) x 20
seeds = 200 finished runs (adapter folders on disk, 50 logged steps each), the untrained base, and
every target evaluated on 5 suites of 1,000 items (1,005,000 per-item rows with two metrics each).
It is generated in bulk (record ids and version ids through workbench.core.hashing, bodies through
pyarrow, catalog rows through DuckDB `INSERT ... SELECT`), not through the per-record product path:
what is measured is what reads it. Each command then runs as its own process under
`/usr/bin/time -v`: `report scale`, `report scale --json`, `compare A B` and `--json`, `compare
--ablation`, `data list`, `verify`, and each page of the Streamlit view (AppTest on app.py in a
child process; the last one opens a second page in the same session, as a reader would). Prints
one JSON line per command: wall seconds, CPU seconds, peak RSS MiB, exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUITES = ["arith_choice", "gsm_style", "ifeval_style", "semsim", "think_follow"]
BASE = "smollm2-135m-instruct"
STEPS = 50


def _pool(n: int):
    """n distinct conversations as a pyarrow body table, and their record ids (workbench.core.hashing)."""
    import pyarrow as pa

    from workbench.data.store import BODY_SCHEMA
    from workbench.core.hashing import record_id

    users = [f"Scale item {i}: what is {i % 997} times {i % 13 + 2}?" for i in range(n)]
    answers = [f"{i % 997} times {i % 13 + 2} is {(i % 997) * (i % 13 + 2)}." for i in range(n)]
    ids = [record_id([{"role": "user", "content": u}, {"role": "assistant", "content": a}], None)
           for u, a in zip(users, answers)]
    roles = pa.array(["user", "assistant"] * n)
    contents = pa.array([x for pair in zip(users, answers) for x in pair])
    structs = pa.StructArray.from_arrays([roles, contents], names=["role", "content"])
    messages = pa.ListArray.from_arrays(pa.array(range(0, 2 * n + 1, 2), pa.int32()), structs)
    table = pa.table({"id": ids, "messages": messages, "source": pa.array(["scale"] * n),
                      "reasoning_mode": pa.nulls(n, pa.string()), "meta": pa.array(["{}"] * n),
                      "rejected": pa.nulls(n, pa.string())}, schema=BODY_SCHEMA)
    chars = sum(len(u) + len(a) for u, a in zip(users, answers))
    return table, ids, chars


def _versions(ws, n_versions: int, n_records: int, con) -> list[str]:
    """n_versions bodies of n_records each: the same pool, each rotated (another order, another id)."""
    import pyarrow.parquet as pq

    from workbench.core.catalog.base import now, to_json
    from workbench.core.hashing import version_id

    table, ids, chars = _pool(n_records)
    out = []
    for k in range(n_versions):
        shift = k * n_records // max(n_versions, 1)
        order = list(range(shift, n_records)) + list(range(shift))
        vid = version_id((ids[i], "scale", {}) for i in order)
        path = ws.data_dir / f"{vid}.parquet"
        pq.write_table(table.take(order), path, compression="zstd")
        stats = {"rows": n_records, "turns": 2 * n_records, "chars": chars, "mean_turns": 2.0, "kind": "sft",
                 "tokenizer": None, "by_source": {"scale": {"rows": n_records}}, "by_mode": {"none": {"rows": n_records}}}
        con.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [vid, f"scale-{k}", now(), n_records, f"data/{vid}.parquet", "ingest", to_json(stats),
                     to_json({"input": f"scale-{k}.jsonl"})])
        out.append(vid)
    return out


def build(home: Path, variants: int = 10, seeds: int = 20, items: int = 1000, n_versions: int = 10,
          records: int = 1_000_000, suites: list[str] | None = None) -> dict:
    """Generate the workspace at `home` (which must not hold a catalog yet); returns what it holds."""
    import random

    import pyarrow as pa

    from workbench.ablate.outputs import BuildOutput, BuildStep, EvalOutput, SuiteOutput, TrainOutput
    from workbench.ablate.spec import parse_spec
    from workbench.ablate.tasks import build_task, eval_task, resolved_train_config, train_task
    from workbench.core.catalog.base import now, to_json
    from workbench.core.hashing import adapter_identity, content_hash, model_identity
    from workbench.train.sft import run_id_for
    from workbench.core.workspace import Workspace

    suites = suites or SUITES[:5]
    if variants > n_versions:
        raise SystemExit("each variant has its own dataset version: --variants <= --versions")
    ws = Workspace(home)
    if ws.catalog_path.exists():
        raise SystemExit(f"{ws.catalog_path} exists: generate into an empty folder")
    cat = ws.catalog()
    cat.migrate()
    t0 = time.time()
    with cat.connect() as con:
        versions = _versions(ws, n_versions, records, con)
    t_bodies = time.time() - t0
    spec = parse_spec({"name": "scale", "base": BASE, "seeds": list(range(seeds)), "baseline": "v00",
                       "train": {"max_steps": STEPS}, "eval": {"suites": suites, "layer": "smoke"},
                       "variants": [{"name": f"v{k:02d}", "version": versions[k]} for k in range(variants)]})
    base = model_identity(BASE)
    config = resolved_train_config(spec)  # a TrainConfig (or, from an older workbench, its resolved dict)
    settings = config.resolved() if hasattr(config, "resolved") else config
    rng = random.Random(0)
    tasks, runs, results, steps = [], [], [], []
    when = now()

    def result(target: str, key: str, run_id: str | None, effect: float) -> list[SuiteOutput]:
        out = []
        for s in suites:
            rid = "r-" + content_hash({"key": key, "suite": s})
            results.append({"id": rid, "model_key": key, "target": target, "run_id": run_id, "suite": s,
                            "effect": effect})
            out.append(SuiteOutput(s, "smoke", rid, items, {}, "exact_match", key, run_id, 1.0))
        return out

    base_eval = eval_task(spec, "base", None, BASE)
    tasks.append((base_eval, EvalOutput(BASE, result(BASE, f"m-{base['hash']}", None, 0.0))))
    for k, v in enumerate(spec.variants):
        b = build_task(spec, v)
        tasks.append((b, BuildOutput(v.version, records, [BuildStep("version", v.version, n_rows=records)])))
        for seed in spec.seeds_for(v.name):
            t = train_task(spec, v.name, v.version, seed, config)
            run_id = run_id_for(v.version, base["hash"], settings, "lora-fp32", seed)
            run_dir = ws.runs_dir / run_id
            adapter = run_dir / "adapter"
            adapter.mkdir(parents=True, exist_ok=True)
            (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "peft_type": "LORA",
                                                                      "target_modules": ["q_proj", "v_proj"]}))
            (adapter / "adapter_model.safetensors").write_bytes(rng.randbytes(4096))
            key = f"m-{adapter_identity(base['hash'], adapter)}"
            runs.append([run_id, v.version, BASE, base["path"], base["hash"], str(run_dir), str(adapter), "finished",
                         "lora-fp32", "cpu", to_json(settings), seed, None, None, 1, records, 0, 10_000 * STEPS,
                         120.0, 80.0, 2000.0, 1.0, to_json([]), to_json({"method": "sft"}), when, when, when])
            steps += [[run_id, s, 2.0 - s / STEPS + 0.05 * rng.random(), None, 5e-4, s / STEPS, 1.0, None]
                      for s in range(1, STEPS + 1)]
            tasks.append((t, TrainOutput(run_id, str(adapter), "lora-fp32", 120.0, 80.0)))
            e = eval_task(spec, v.name, seed, run_id)
            tasks.append((e, EvalOutput(run_id, result(run_id, key, run_id, 0.02 * (k % 5)))))
    with cat.connect() as con:
        con.execute("INSERT INTO ablations VALUES (?, ?, ?, ?, ?, ?)",
                    ["scale", to_json(spec.model_dump(mode="json")), content_hash(spec.model_dump(mode="json")),
                     None, when, when])
        con.executemany("INSERT INTO ablation_tasks VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?, NULL, NULL, 1, ?, ?, 1.0)",
                        [["scale", t.id, t.kind, t.variant, t.seed, t.label, to_json(t.to_dict()["inputs"]), to_json(o.to_dict()),
                          when, when] for t, o in tasks])
        con.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 27)})", runs)
        con.register("steps_in", pa.table({c: [r[i] for r in steps] for i, c in enumerate(
            ["run_id", "step", "loss", "eval_loss", "lr", "epoch", "grad_norm", "metrics"])}))
        con.execute("INSERT INTO run_steps SELECT run_id, step, loss, eval_loss, lr, epoch, grad_norm, metrics "
                    "FROM steps_in")
        con.register("results_in", pa.table({c: [r[c] for r in results] for c in results[0]}))
        # per item: exact_match (higher is better) and bits_per_byte (lower is better), each a
        # deterministic draw per (item, target) with the variant's effect on top
        con.execute(f"""
            INSERT INTO eval_samples
            SELECT r.id, 'item-' || lpad(i::VARCHAR, 5, '0'), r.model_key, r.suite, 'smoke',
                   'Prompt ' || i || ' of ' || r.suite, 'Response of ' || r.target || ' to item ' || i,
                   json_object('bits_per_byte', round(0.9 + (hash(r.suite, i) % 1000) / 5000.0
                                                     + (hash(r.id, i) % 1000) / 20000.0 - r.effect, 5),
                               'exact_match', ((hash(r.suite, i) % 100) + (hash(r.id, i) % 40)
                                               + r.effect * 400 >= 90)::INTEGER)
            FROM results_in r, range({items}) t(i)
        """)
        con.execute(f"""
            INSERT INTO eval_results (id, model_key, target, run_id, suite, layer, suite_hash, settings, n_items,
                                      metrics, primary_metric, gen_tokens, wall_s, created, higher_is_better, likelihood_s)
            SELECT r.id, r.model_key, r.target, r.run_id, r.suite, 'smoke', 'h-' || r.suite, '{{}}', {items},
                   json_object('bits_per_byte', avg((s.scores->>'bits_per_byte')::DOUBLE),
                               'exact_match', avg((s.scores->>'exact_match')::DOUBLE)),
                   'exact_match', 0, 10.0, ?, '{{"bits_per_byte": false, "exact_match": true}}', 1.0
            FROM results_in r JOIN eval_samples s ON s.result_id = r.id
            GROUP BY ALL
        """, [when])
    return {"versions": len(versions), "records": records, "runs": len(runs), "results": len(results),
            "samples": len(results) * items, "bodies_s": round(t_bodies, 1), "total_s": round(time.time() - t0, 1)}


def pair(home: Path) -> tuple[str, str]:
    """Two runs of the scale ablation (variant v01 seed 0 vs v00 seed 0): what `compare A B` takes."""
    from workbench.core.workspace import Workspace

    rows = Workspace(home).catalog(reader=True).query(
        "SELECT variant, json_extract_string(output, '$.run_id') AS run FROM ablation_tasks "
        "WHERE kind = 'train' AND seed = 0 AND variant IN ('v00', 'v01') ORDER BY variant")
    return rows[0]["run"], rows[1]["run"]


PAGES = ["Leaderboard", "Compare runs", "Training", "Data", "Strategies"]
APPTEST = """
import sys, time
from streamlit.testing.v1 import AppTest
t0 = time.time()
at = AppTest.from_file({app!r}, default_timeout=600)
at.query_params["page"] = {page!r}
at.query_params["ablation"] = "scale"
at.run()
errors = [e.value for e in at.exception]
print("page-wall", round(time.time() - t0, 2), "errors", len(errors), errors[:1])
sys.exit(1 if errors else 0)
"""
# the next page in the same session: what a reader pays after the first page (the report data cached)
NEXT_PAGE = APPTEST.replace("sys.exit(1 if errors else 0)", """t1 = time.time()
at.radio(key="page").set_value({then!r}).run()
errors += [e.value for e in at.exception]
print("page-wall", round(t1 - t0, 2), "then", {then!r}, round(time.time() - t1, 2), "errors", len(errors), errors[:1])
sys.exit(1 if errors else 0)""")


def timed(cmd: list[str], env: dict, cwd: Path = ROOT) -> dict:
    """Run `cmd` under /usr/bin/time -v: wall seconds, CPU seconds (user + system: what a loaded machine
    inflates least), peak RSS MiB, exit code, the last output line."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, cwd=cwd)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    h, m, s = (float(x or 0) for x in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    cpu = sum(float(re.search(rf"{what} time \(seconds\): ([\d.]+)", proc.stderr).group(1)) for what in ("User", "System"))
    tail = (proc.stdout.strip().splitlines() or [""])[-1][:160]
    return {"wall_s": round(h * 3600 + m * 60 + s, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": rss // 1024, "rc": proc.returncode, "tail": tail}


def commands(home: Path, tree: Path | None = None) -> list[tuple[str, list[str]]]:
    """The commands timed; with `tree`, the view is the tree's app.py where it has one (Streamlit puts the
    script's folder first on sys.path, so this tree's app.py would import this tree's workbench)."""
    a, b = pair(home)
    app = str(tree / "app.py" if tree is not None and (tree / "app.py").exists() else ROOT / "app.py")
    wb = [sys.executable, "-m", "workbench"]
    out = [("report scale", wb + ["report", "scale", "--out", str(home.parent / "scale-report")]),
           ("report scale --json", wb + ["report", "scale", "--json"]),
           ("compare A B", wb + ["compare", a, b]),
           ("compare A B --json", wb + ["compare", a, b, "--json"]),
           ("compare v00 v01 --ablation scale", wb + ["compare", "v00", "v01", "--ablation", "scale"]),
           ("data list", wb + ["data", "list"]),
           ("verify", wb + ["verify"])]
    for page in PAGES:
        out.append((f"view: {page}", [sys.executable, "-c", APPTEST.format(app=app, page=page)]))
    out.append(("view: Leaderboard, then Data", [sys.executable, "-c", NEXT_PAGE.format(
        app=app, page="Leaderboard", then="Data")]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, required=True, help="Workspace folder (generated unless --time-only).")
    ap.add_argument("--variants", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--time-only", action="store_true", help="Time the commands on the workspace already there.")
    ap.add_argument("--only", default=None, help="Time only the commands whose names contain one of these "
                    "comma-separated texts.")
    ap.add_argument("--skip", default=None, help="Leave out the commands whose names contain one of these texts.")
    ap.add_argument("--tree", type=Path, default=None, help="Time another workbench tree (e.g. `git archive REV "
                    "workbench evalsuites app.py | tar -x -C DIR`): the commands run in it, for before/after on "
                    "one workspace.")
    args = ap.parse_args()
    home = args.home.resolve()
    if not args.time_only:
        made = build(home, args.variants, args.seeds, args.items, args.versions, args.records)
        print(json.dumps({"generated": made}), flush=True)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_PROGRESS": "0"}
    cwd = ROOT
    if args.tree:  # `python -m` and `-c` put the working folder first on sys.path: run in the tree, not here
        cwd = args.tree.resolve()
        env["PYTHONPATH"] = str(cwd)
    load = os.getloadavg()[0]
    for name, cmd in commands(home, args.tree.resolve() if args.tree else None):
        if args.only and not any(x in name for x in args.only.split(",")):
            continue
        if args.skip and any(x in name for x in args.skip.split(",")):
            continue
        print(json.dumps({"command": name, "tree": str(args.tree or "this"), **timed(cmd, env, cwd),
                          "load": round(load, 2)}), flush=True)
        load = os.getloadavg()[0]


if __name__ == "__main__":
    main()
