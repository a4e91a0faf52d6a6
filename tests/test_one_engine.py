"""One decision engine (issue 23, What to build 1): for every pair of a fixture ablation, the
`workbench compare` table, `compare --json`, the report (`report --json` and report.md) and the
view's data show the same decision, and a lower-is-better metric that got worse is never
called better or coloured green.

The ablation is written into a real DuckDB catalog through the catalog API (no model is trained):
an untrained base, three trained variants with two seeds each (plain, the A/A control's variant;
curated, whose bits per byte went down: better; broken, whose bits per byte went up: worse), on
two real suites. think_follow's results store their metrics' directions; semsim's are stored as
by an older workbench (no directions), so the direction comes from the suite's definition."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.conftest import run_cli_here
from workbench.ablate.outputs import EvalOutput, SuiteOutput
from workbench.evals import engine
from workbench.report import report_data
from workbench.report.views import decision_view
from workbench.core.workspace import Workspace

N_ITEMS = 30
SUITES = {"think_follow": "pass", "semsim": "similarity"}
STORED = {"think_follow": {"pass": True, "bits_per_byte": False, "pass_think": True}, "semsim": {}}
# per variant: shift of bits per byte (lower is better) and of the pass rate
SHIFTS = {"base": (0.0, 0.0), "plain": (-0.05, 0.0), "curated": (-0.35, 0.0), "broken": (0.30, 0.0)}


def _target(variant: str, seed: int | None) -> str:
    return f"t-{variant}" if seed is None else f"run-{variant}-{seed}"


def _fill(home) -> Workspace:
    ws = Workspace(home)
    cat = ws.catalog()
    spec = {"name": "fx", "base": "tiny-base", "seeds": [0, 1],
            "eval": {"suites": list(SUITES), "layer": "smoke"},
            "variants": [{"name": v, "sources": [f"data/{v}.jsonl"]} for v in ("plain", "curated", "broken")],
            "control": {"variant": "plain", "seeds": [0, 1]}}
    cat.save_ablation("fx", spec, "spec-hash")
    rng = np.random.default_rng(23)
    difficulty = {s: 1.2 + rng.normal(0, 0.3, N_ITEMS) for s in SUITES}
    pass_rate = {s: rng.uniform(0.2, 0.8, N_ITEMS) for s in SUITES}
    for variant, (bpb_shift, pass_shift) in SHIFTS.items():
        ixm = {s: rng.normal(0, 0.03, N_ITEMS) for s in SUITES}  # item x model: this variant's data
        for seed in ([None] if variant == "base" else [0, 1]):
            target = _target(variant, seed)
            results = []
            for suite, primary in SUITES.items():
                offset = 0.0 if seed is None else rng.normal(0, 0.01)  # training noise of this seed
                bpb = difficulty[suite] + ixm[suite] + offset + bpb_shift + rng.normal(0, 0.02, N_ITEMS)
                passed = rng.random(N_ITEMS) < np.clip(pass_rate[suite] + pass_shift, 0, 1)
                rid = f"r-{suite}-{target}"
                metrics = {primary: float(passed.mean()), "bits_per_byte": float(bpb.mean())}
                cat.save_eval_result(
                    {"id": rid, "model_key": f"m-{target}", "target": target, "run_id": None if seed is None else target,
                     "suite": suite, "layer": "smoke", "suite_hash": "h", "settings": {}, "n_items": N_ITEMS,
                     "metrics": metrics, "primary_metric": primary, "higher_is_better": STORED[suite]},
                    [{"item_id": f"i{i:02d}", "prompt": f"q{i}", "response": f"a{i}",
                      "scores": {primary: float(passed[i]), "bits_per_byte": float(bpb[i]), "n_instructions": 1}}
                     for i in range(N_ITEMS)])
                results.append(SuiteOutput(suite, "smoke", rid, N_ITEMS, metrics, primary, f"m-{target}",
                                           None if seed is None else target, 1.0))
            task = f"eval-{target}"
            cat.task_started("fx", task, "eval", variant, seed, f"eval {target}", {"target": target})
            cat.task_done("fx", task, EvalOutput(target, results).to_dict(), 5.0)
    return ws


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("one-engine")
    ws = _fill(root / "home")
    env = {"WORKBENCH_HOME": str(ws.home)}
    out = run_cli_here("report", "fx", "--json", env=env, cwd=root).stdout
    rows = json.loads(out[out.index("["):])
    run_cli_here("report", "fx", env=env, cwd=root)
    md = (root / "reports" / "fx" / "report.md").read_text()
    return ws, env, root, rows, md


def _json(proc) -> list[dict]:
    return json.loads(proc.stdout[proc.stdout.index("["):])


def _compare(env, root, monkeypatch, *args) -> tuple[list[dict], list[list[str]], str]:
    """`compare ... --json` rows, and the rows of the table the same command prints (and its text)."""
    from workbench.cli import compare

    shown: list = []
    real = compare.table
    monkeypatch.setattr(compare, "table", lambda title, cols, rows, **kw: shown.append(rows) or real(title, cols, rows, **kw))
    as_json = _json(run_cli_here("compare", *args, "--json", env=env, cwd=root))
    text = run_cli_here("compare", *args, env=env, cwd=root).stdout
    assert len(shown) == 1
    return as_json, shown[0], text


def _md_table(md: str, title: str) -> list[list[str]]:
    section = md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")][1:]  # past the header
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]


EXPECTED_COLOUR = {"better": "green", "worse": "red", "noise": "", "": ""}


def test_report_json_is_the_engine_and_reads_directions_from_the_stored_rows(fixture):
    ws, _, _, rows, _ = fixture
    data = report_data(ws, "fx")
    assert rows == [d.to_dict() for d in data.comparisons]
    assert all(isinstance(d, engine.Decision) for d in data.comparisons)
    variant = [r for r in rows if r["kind"] == "variant"]
    pairs = {(r["a"], r["b"]) for r in variant}
    assert pairs == {("base", "plain"), ("base", "curated"), ("base", "broken"), ("plain", "curated"),
                     ("plain", "broken"), ("curated", "broken")}
    for r in rows:
        assert r["higher_is_better"] is (r["metric"] != "bits_per_byte")  # stored (think_follow) or defined (semsim)
        assert r["metric"] != "n_instructions"
    # the stored direction wins over the suite's definition, which does not list bits_per_byte
    d = engine.Directions([{"suite": "think_follow", "higher_is_better": {"pass": False}}])
    assert d("think_follow", "pass") is False and d("semsim", "pass") is True
    assert engine.suite_direction("semsim", "bits_per_byte") is False
    # the planted effects: curated lowered bits per byte (better), broken raised it (worse)
    by = {(r["a"], r["b"], r["suite"], r["metric"]): r for r in variant}
    for suite in SUITES:
        good, bad = by[("plain", "curated", suite, "bits_per_byte")], by[("plain", "broken", suite, "bits_per_byte")]
        assert good["delta"] < 0 and good["verdict"] == "better"
        assert bad["delta"] > 0 and bad["verdict"] == "worse"
        assert by[("curated", "broken", suite, "bits_per_byte")]["verdict"] == "worse"
        assert by[("base", "broken", suite, "bits_per_byte")]["verdict"] == "worse"
    controls = [r for r in rows if r["kind"] == "control"]
    assert controls and all(r["verdict"] == "noise" for r in controls)
    assert all(r["floor"] is None for r in variant)  # the control is a check, not a second threshold
    # two seeds: below engine.PAIRED_MIN_SEEDS, every pair keeps the unpaired path (pooled seed variance)
    assert engine.PAIRED_MIN_SEEDS == 3 and not any(r["paired_seeds"] for r in variant)


def test_every_pair_agrees_across_compare_report_and_view(fixture, monkeypatch):
    ws, env, root, rows, md = fixture
    data = report_data(ws, "fx")
    view = decision_view(data)
    decisions_md = _md_table(md, "Decisions")
    between_md = _md_table(md, "Between variants")
    variant_rows = [r for r in rows if r["kind"] == "variant"]
    checked = 0
    for a, b in sorted({(r["a"], r["b"]) for r in variant_rows}):
        mine = [r for r in variant_rows if (r["a"], r["b"]) == (a, b)]
        as_json, table, text = _compare(env, root, monkeypatch, a, b, "--ablation", "fx")
        assert as_json == mine  # compare --json is the report's row, field for field
        decisions = [engine.Decision.from_dict(r) for r in as_json]
        assert [d.to_dict() for d in decisions] == mine
        assert len(table) == len(mine)
        for r, cells in zip(mine, table):
            d = engine.Decision.from_dict(r)
            assert cells[0] == r["suite"] and cells[1].startswith(r["metric"])
            assert ("(lower is better)" in cells[1]) is (not r["higher_is_better"])
            assert cells[4].startswith(f"{r['delta']:+.3f}")
            colour = EXPECTED_COLOUR[r["verdict"]]
            assert d.colour == colour
            if r["headline"]:
                assert cells[-1] == (f"[bold {colour}]{r['verdict']}[/]" if colour else r["verdict"])
                assert re.search(rf"{r['suite']}.*{r['verdict']}", text.replace("\n", " "))
            else:
                assert cells[-1] == "-" and not r["verdict"]
            if not r["headline"]:
                continue
            # the view's row
            (v,) = [x for x in view if (x["A"], x["B"], x["suite"], x["metric"]) == (a, b, r["suite"], r["metric"])]
            assert v["verdict"] == r["verdict"] and v["colour"] == colour and v["B - A"] == f"{r['delta']:+.3f}"
            assert v["p adj"] == r["p_adjusted"] and v["direction"] == d.direction
            # report.md: base vs each variant under Decisions, the variant pairs under Between variants
            metric_md = r["metric"] + ("" if r["higher_is_better"] else " (lower better)")
            if a == "base":
                (m,) = [x for x in decisions_md if (x[1], x[0], x[2], x[3]) == (a, b, r["suite"], metric_md)]
                assert m[6] == f"{r['delta']:+.3f}" and m[-1] == r["verdict"]
                assert m[9] == format(r["p_adjusted"], ".3g")
            else:
                (m,) = [x for x in between_md if (x[0], x[1], x[2], x[3]) == (a, b, r["suite"], r["metric"])]
                assert m[5] == f"{r['delta']:+.3f}" and m[-1] == r["verdict"]
            checked += 1
    assert checked == 6 * 2 * 2  # six pairs x two suites x two headline metrics
    # asked the other way round, the same decision reads flipped
    flipped, _, _ = _compare(env, root, monkeypatch, "broken", "plain", "--ablation", "fx")
    for r in flipped:
        (orig,) = [x for x in variant_rows if (x["a"], x["b"], x["suite"], x["metric"]) ==
                   ("plain", "broken", r["suite"], r["metric"])]
        assert r["delta"] == pytest.approx(-orig["delta"]) and r["p_adjusted"] == orig["p_adjusted"]
        assert r["verdict"] == {"better": "worse", "worse": "better"}.get(orig["verdict"], orig["verdict"])


def test_worse_bits_per_byte_is_red_in_the_plain_compare_table(fixture, monkeypatch):
    """Two runs outside the ablation (the table once coloured this green): table and --json agree."""
    _, env, root, _, _ = fixture
    as_json, table, text = _compare(env, root, monkeypatch, _target("plain", 0), _target("broken", 0))
    assert {r["suite"] for r in as_json} == set(SUITES) and len(table) == len(as_json)
    for r, cells in zip(as_json, table):
        assert r["n_seeds_a"] == r["n_seeds_b"] == 1 and r["kind"] == "variant"
        assert not r["training_noise"]  # one seed a side: said, not hidden
        if r["headline"]:
            colour = EXPECTED_COLOUR[r["verdict"]]
            assert cells[-1] == (f"[bold {colour}]{r['verdict']}[/]" if colour else r["verdict"])
        if r["metric"] == "bits_per_byte":
            assert r["delta"] > 0 and r["higher_is_better"] is False
            assert r["verdict"] == "worse" and "green" not in cells[-1] and "better" not in cells[-1]
            assert cells[-1] == "[bold red]worse[/]"
    # headline metrics of both suites form one family: Holm over 4
    heads = [r for r in as_json if r["headline"]]
    assert len(heads) == 4 and all(r["p_adjusted"] >= r["p"] for r in heads if r["p"] is not None)
    bpb_lines = [ln for ln in text.splitlines() if "bits_per_byte" in ln]
    assert len(bpb_lines) == 2 and all(re.search(r"│\s*worse\s*│\s*$", ln) for ln in bpb_lines), bpb_lines
    # the library call behind the old table is the same engine
    from workbench.evals.stats import compare_runs

    ws = Workspace(root / "home")
    assert [d.to_dict() for d in compare_runs(ws, _target("plain", 0), _target("broken", 0))] == as_json


def test_unknown_variant_and_missing_results_fail_clearly(fixture):
    _, env, root, _, _ = fixture
    bad = run_cli_here("compare", "plain", "nope", "--ablation", "fx", env=env, cwd=root, check=False)
    assert bad.returncode == 2 and "not a variant" in bad.stderr and "curated" in bad.stderr
    missing = run_cli_here("compare", _target("plain", 0), "never-evaluated", env=env, cwd=root, check=False)
    assert missing.returncode == 2 and "never-evaluated" in missing.stderr


def test_the_forest_plot_draws_every_headline_decision_in_its_verdict_colour(fixture):
    from matplotlib.colors import to_hex

    from workbench.report.figures import POINT_COLOURS, deltas_figure

    ws, *_ = fixture
    data = report_data(ws, "fx")
    shown = [c for c in data.comparisons if c.kind == "variant" and c.headline and c.a == data.baseline]
    assert {c.metric for c in shown} >= {"bits_per_byte"}  # bits per byte is in the figure, not only pass
    fig = deltas_figure(data)
    ax = fig.axes[0]
    [points] = [c for c in ax.collections if c.get_offsets().shape[0] == len(shown)]
    colours = [to_hex(c) for c in points.get_facecolors()]
    assert colours == [POINT_COLOURS[c.verdict] for c in shown[::-1]]
    assert [t.get_text() for t in ax.get_yticklabels()][0].startswith(shown[-1].b)


def test_the_compare_page_items_win_in_the_metric_direction(fixture):
    """The view's item-by-item table calls the lower bits per byte the winner, as the engine does."""
    from workbench.report.views import item_diff

    ws, *_ = fixture
    suite = next(iter(SUITES))
    rows = item_diff(ws, "fx", _target("plain", 0), _target("broken", 0), suite)
    assert {r["metric"] for r in rows} >= {"bits_per_byte", SUITES[suite]}
    for r in rows:
        if r["score_a"] == r["score_b"]:
            assert r["outcome"] == "tie"
            continue
        b_better = r["score_b"] < r["score_a"] if r["metric"] == "bits_per_byte" else r["score_b"] > r["score_a"]
        assert r["outcome"] == ("B wins" if b_better else "A wins"), r
    bpb = [r for r in rows if r["metric"] == "bits_per_byte"]
    assert sum(r["outcome"] == "A wins" for r in bpb) > len(bpb) / 2  # broken's bits per byte are worse
