"""The scale workspace (benchmarks/scale.py) at a reduced size: the report's batched reads (every
result's items in one query, every run's steps in one query, every result row in one query, texts
only for the items shown) give the same numbers as one query per result, run and row did."""

from __future__ import annotations

import pytest

from benchmarks.scale import build, pair
from tests.conftest import run_cli
from workbench.evals.decide import paired_seed_diff
from workbench.evals.engine import ALPHA, Directions, metric_scores, suite_questions
from workbench.evals.matrices import ItemScores, SeedScores
from workbench.ops.maintenance import verify
from workbench.report import gather
from workbench.core.workspace import Workspace


@pytest.fixture(scope="module")
def scale_ws(tmp_path_factory):
    home = tmp_path_factory.mktemp("scale") / "home"
    made = build(home, variants=4, seeds=5, items=200, n_versions=4, records=300, suites=["gsm_style", "semsim"])
    assert made["runs"] == 20 and made["samples"] == (20 + 1) * 2 * 200
    return Workspace(home)


def per_result(ws, evaluated):
    """Each result's items read on its own, as the report read them before."""
    cat = ws.catalog(reader=True)
    return {rid: gather.eval_items(cat, rid) for t in evaluated for rid in t["results"].values()}


def reference_table(evaluated, items):
    table = {}
    for t in evaluated:
        for suite, rid in t["results"].items():
            for k, it in items[rid].items():
                d = table.setdefault(t["variant"], {}).setdefault(suite, {}).setdefault(
                    k, {"prompt": it["prompt"], "responses": [], "per_seed": []})
                d["responses"].append(it["response"])
                d["per_seed"].append(it["scores"])
    for suites in table.values():
        for its in suites.values():
            for d in its.values():
                metrics = list(dict.fromkeys(m for s in d["per_seed"] for m in s))
                d["scores"] = {m: sum(s.get(m, 0.0) for s in d["per_seed"]) / len(d["per_seed"]) for m in metrics}
    return table


def test_batched_reads_give_the_numbers_of_one_read_per_result(scale_ws):
    ws = scale_ws
    cat = ws.catalog(reader=True)
    evaluated = gather.targets(ws, "scale")[1]
    assert len(evaluated) == 21
    items = per_result(ws, evaluated)
    assert gather._all_scores(cat, evaluated) == {rid: {k: it["scores"] for k, it in its.items()}
                                                  for rid, its in items.items()}
    assert gather._all_texts(cat, evaluated) == {rid: {k: (it["prompt"], it["response"]) for k, it in its.items()}
                                                 for rid, its in items.items()}
    table = reference_table(evaluated, items)
    assert gather.item_table(ws, "scale") == table
    seeds = gather.seed_items(ws, "scale")
    for t in evaluated:
        label = "base" if t["seed"] is None else str(t["seed"])
        for suite, rid in t["results"].items():
            assert seeds[t["variant"]][suite][label] == {k: it["scores"] for k, it in items[rid].items()}

    rows = [cat.get_eval_result(rid) for t in evaluated for rid in t["results"].values()]
    assert vars(gather.stored_directions(cat, evaluated, "smoke")) == vars(Directions(rows, "smoke"))

    data = gather.report_data(ws, "scale")
    for r in data.runs:  # every run's loss curve, as its own run_steps read gives it
        assert r["loss"] == [{"step": s["step"], "loss": s["loss"]} for s in cat.run_steps(r["run_id"])]
    assert len(data.runs) == 20
    for s in data.scores:  # each score over the items, averaged over seeds, as before
        vals = [d["scores"][s["metric"]] for d in table.get(s["variant"], {}).get(s["suite"], {}).values()
                if s["metric"] in d["scores"]]
        assert s["n"] == len(vals) and s["mean"] == pytest.approx(sum(vals) / len(vals), abs=1e-12)
    assert {(s["variant"], s["suite"]) for s in data.scores} == {(v, s) for v in table for s in table[v]}
    assert data.disagreements
    for d in data.disagreements:  # the texts shown are the first target's, read for those items only
        first = next(iter(d["responses"]))
        assert d["prompt"] == table[first][d["suite"]][d["item_id"]]["prompt"] != ""
        for v, shown in d["responses"].items():
            assert shown["text"] == table[v][d["suite"]][d["item_id"]]["responses"][0]
            assert shown["score"] == pytest.approx(table[v][d["suite"]][d["item_id"]]["scores"][d["metric"]], abs=1e-12)
    verdicts = {(c.a, c.b, c.suite, c.metric): c.verdict for c in data.against_baseline()}
    assert len(verdicts) == 4 * 2 * 2  # base and three variants against v00, on two suites, two headline metrics


def test_the_batched_engine_decides_as_one_pair_at_a_time(scale_ws):
    """The report's paired decisions (each variant's matrix built once per suite and metric, the pairs of a
    metric decided together) are `paired_seed_diff`'s, pair by pair; the MDE within brentq's 1e-8 x se."""
    data = gather.report_data(scale_ws, "scale")
    per_seed = gather.seed_items(scale_ws, "scale")
    family = sum(len(h) for h in data.headlines.values()) * (len(data.order()) - 1)
    paired = [c for c in data.comparisons if c.kind == "variant" and c.paired_seeds]
    assert len(paired) == 6 * 2 * 2  # 6 pairs of the 4 trained variants x 2 suites x 2 metrics
    for c in paired:
        want = paired_seed_diff(metric_scores(per_seed[c.a][c.suite], c.metric),
                                metric_scores(per_seed[c.b][c.suite], c.metric), higher_is_better=c.higher_is_better,
                                alpha=ALPHA, family_size=family if c.headline else 1)
        assert (c.delta, c.lo, c.hi, c.p, c.se, c.df, c.note) == (want.delta, want.lo, want.hi, want.p, want.se,
                                                                    want.df, want.reason)
        assert abs(c.mdd - want.mdd) <= 1e-8 * want.se


def test_the_array_path_gives_the_numbers_of_the_dict_path(scale_ws):
    """The report reads every item's scores as arrays (`Catalog.results_score_arrays`, issue 26): they read
    back as `results_scores`' dicts, the item means are the SQL `item_means`', and the engine decides on
    the stacked matrices exactly as on the nested dicts."""
    cat = scale_ws.catalog(reader=True)
    evaluated = gather.targets(scale_ws, "scale")[1]
    arrays = gather._all_scores(cat, evaluated)
    dicts = cat.results_scores(gather._result_ids(evaluated))
    assert all(isinstance(v, ItemScores) for v in arrays.values()) and arrays == dicts

    sql = cat.item_means([(t["variant"], s, rid) for t in evaluated for s, rid in t["results"].items()])
    means = gather._item_means(evaluated, arrays)
    assert {(v, s) for v in means for s in means[v]} == set(sql)
    for (v, s), its in sql.items():
        assert list(means[v][s]) == sorted(its)
        for k, sc in its.items():
            assert means[v][s][k]["scores"] == pytest.approx(sc, abs=1e-12)

    per_arrays, per_dicts = gather._seed_items(evaluated, arrays), gather._seed_items(evaluated, dicts)
    assert isinstance(per_arrays["v00"]["semsim"], SeedScores) and per_arrays == per_dicts
    trained = set(per_arrays) - {"base"}
    direction = gather.stored_directions(cat, evaluated, "smoke")
    for suite in ("gsm_style", "semsim"):
        order = sorted(per_arrays)
        pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
        got, want = (suite_questions(suite, ["bits_per_byte", "exact_match"], ["exact_match"], pairs,
                                     {v: per[v][suite] for v in order}, trained, direction, ("v01", ["0", "1", "2"]), 8)
                     for per in (per_arrays, per_dicts))
        assert len(got) > len(pairs) and [repr(q) for q in got] == [repr(q) for q in want]


def test_the_generated_workspace_verifies_and_answers_the_commands(scale_ws):
    assert verify(scale_ws).ok and verify(scale_ws).runs == 20 and verify(scale_ws).versions == 4
    a, b = pair(scale_ws.home)
    env = {"WORKBENCH_HOME": str(scale_ws.home)}
    out = run_cli("compare", a, b, "--json", env=env).stdout
    assert '"suite": "gsm_style"' in out and '"suite": "semsim"' in out
    assert "scale-3" in run_cli("data", "list", env=env).stdout


def test_the_report_state_changes_when_a_task_does(scale_ws):
    before = gather.report_state(scale_ws, "scale")
    assert gather.report_state(scale_ws, "scale") == before  # nothing changed: the same key
    cat = scale_ws.catalog()
    task = next(t for t in cat.ablation_tasks("scale") if t["kind"] == "eval" and t["seed"] == 4)
    cat.task_failed("scale", task["task_id"], "an error", 1.0)
    assert gather.report_state(scale_ws, "scale") != before


def test_score_arrays_hold_what_the_dicts_hold_with_holes(tmp_path):
    """Text, null, NaN, booleans, integers and missing metrics: `results_score_arrays` (read from Arrow's
    buffers, NaN where there is no number) gives back `results_scores`' dicts."""
    from workbench.evals.matrices import score_tables

    cat = Workspace(tmp_path / "home").catalog()
    scores = [{"acc": 1.0, "f1": 0.5}, {"acc": True, "note": "text"}, {"acc": None, "f1": 2},
              {"acc": float("nan"), "f1": 0.25}, {}, {"f1": False}]
    for r, rows in (("r1", scores), ("r2", scores[::-1][:4])):
        cat.save_eval_result({"id": r, "model_key": "m", "target": "t", "run_id": None, "suite": "s", "layer": "smoke",
                              "suite_hash": "h", "settings": {}, "n_items": len(rows), "metrics": {},
                              "primary_metric": "acc"},
                             [{"item_id": f"i{j if r != 'r2' else 9 - j}", "scores": sc} for j, sc in enumerate(rows)])
    reader = Workspace(tmp_path / "home").catalog(reader=True)
    want = reader.results_scores(["r1", "r2", "r3", "missing"])
    got = score_tables(*reader.results_score_arrays(["r1", "r2", "r3", "missing"]))
    assert got == want and want["r1"]["i1"] == {"acc": 1.0} and want["r3"] == got["r3"] == {}
    assert [list(got[r]) for r in want] == [list(want[r]) for r in want]
