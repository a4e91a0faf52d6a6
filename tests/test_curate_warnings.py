"""Per-source removal rates and the warning when one step hits one source hard: the function on a
built dataset, and `workbench curate` / `curate report` (console and --json) through the real CLI."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from workbench.curate.sources import source_report
from workbench.data.records import make_record


def _rows():
    """60 prose rows and 40 math rows; 6 of the math rows have long worked solutions that a
    strict per-turn length limit (800 characters) removes, and 1 prose row is long too."""
    rows = []
    for i in range(60):
        long = i == 0
        answer = (f"Answer {i}: " + "a sentence of ordinary prose about topic number %d. " % i * (30 if long else 2)).strip()
        rows.append({"messages": [{"role": "user", "content": f"Tell me about topic {i}."},
                                  {"role": "assistant", "content": answer}], "source": "prose"})
    for i in range(40):
        steps = 40 if i < 6 else 3
        answer = "\n".join(f"Step {k}: {i} * {k} = {i * k}, so the running total is {i * k + k}." for k in range(steps))
        rows.append({"messages": [{"role": "user", "content": f"Work out problem {i}."},
                                  {"role": "assistant", "content": answer + f"\n#### {i}"}], "source": "math"})
    return rows


RECIPE = {"name": "strict", "steps": [{"step": "structure"}, {"step": "length", "params": {"max_turn_chars": 800}}]}


def test_a_step_that_hits_one_source_is_warned_about():
    from workbench.curate.recipe import load_recipe, run_steps

    records = [make_record(r["messages"], r["source"]) for r in _rows()]
    res = run_steps(records, load_recipe(RECIPE))
    report = source_report(records, res.removals)
    assert report["sources"]["math"] == {"rows": 40, "removed": 6, "by_step": {"length": 6}}
    assert report["sources"]["prose"] == {"rows": 60, "removed": 1, "by_step": {"length": 1}}
    [w] = report["warnings"]
    assert (w["step"], w["source"], w["removed"], w["rows"], w["elsewhere_removed"], w["elsewhere_rows"]) == \
        ("length", "math", 6, 40, 1, 60)
    assert w["share"] == 0.15 and len(w["examples"]) == 3
    assert all(e["reason"] == "turn_too_long_chars" and "Step 0:" in e["text"] for e in w["examples"])
    # a step that removes as much elsewhere is not one source's problem; a higher share is not crossed
    assert source_report(records, res.removals, max_elsewhere=0.0)["warnings"] == []
    assert source_report(records, res.removals, warn_share=0.2)["warnings"] == []


def test_curate_and_report_show_rates_and_warnings(ws, tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    recipe = tmp_path / "strict.yaml"
    recipe.write_text(json.dumps(RECIPE))
    run_cli("data", "ingest", str(src), "--name", "mixed")
    out = run_cli("curate", "mixed", "--recipe", str(recipe), "--name", "mixed-strict").stdout
    assert "removal rate per source and step" in out
    assert "warning: length removed 6/40 (15.0%) of source 'math'" in out
    assert out.count("turn_too_long_chars") >= 3
    report = run_cli("curate", "report", "mixed-strict").stdout
    assert "warning: length removed 6/40 (15.0%) of source 'math'" in report
    data = json.loads(run_cli("curate", "report", "mixed-strict", "--json").stdout)
    assert [(w["step"], w["source"], len(w["examples"])) for w in data["warnings"]] == [("length", "math", 3)]
    assert data["sources"]["prose"]["removed"] == 1
    quiet = json.loads(run_cli("curate", "report", "mixed-strict", "--json", "--warn-share", "0.5").stdout)
    assert quiet["warnings"] == []


def test_the_ablation_dry_run_and_report_carry_the_warning(ws, tmp_path, tiny_model_dir):
    """Once a variant is built, `ablate --dry-run` and `workbench report` show the warning `curate` shows."""
    import yaml

    from workbench.ablate import run_ablation

    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    spec_path = tmp_path / "warn.yaml"
    spec_path.write_text(yaml.safe_dump({
        "name": "warn", "base": str(tiny_model_dir), "seeds": [0],
        "train": {"max_steps": 1, "batch_size": 2, "max_length": 64, "sanity_prompts": 0},
        "eval": {"suites": ["arith_choice"], "layer": "smoke", "limit": 2},
        "variants": [{"name": "strict", "sources": [str(src)], "recipe": RECIPE}]}))
    assert not run_ablation(ws, str(spec_path), quiet=True).failures  # a real tiny ablation: one step, two items
    out = run_cli("ablate", str(spec_path), "--dry-run", "--memory-budget", "64GiB").stdout
    assert "warning: variant strict: length removed 6/40 (15.0%) of source 'math'" in " ".join(out.split()), out
    proc = run_cli("report", "warn", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = (tmp_path / "reports" / "warn" / "report.md").read_text()
    assert "Curation warnings" in md and "6/40 (15.0%)" in md and "turn_too_long" not in md.split("Curation warnings")[0]


def test_a_select_step_drops_a_source_on_purpose_and_is_not_warned_about():
    records = [make_record(r["messages"], r["source"]) for r in _rows()]
    removals = [{"record_id": r.id, "step": "select", "reason": "not_selected", "detail": "source math"}
                for r in records if r.source == "math"]
    report = source_report(records, removals)
    assert report["sources"]["math"]["removed"] == 40 and report["warnings"] == []
