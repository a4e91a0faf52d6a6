"""Curation recipes end to end: validation with key paths, the seeded raw example data, the CLI,
determinism, and nothing written on failure."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_cli
from workbench.curate.recipe import DEFAULT_RECIPE, CurationError, RecipeError, curate, load_recipe
from workbench.data.ingest import ingest

RAW = REPO / "datasets" / "example_raw.jsonl"
CLEAN = REPO / "datasets" / "example_clean.jsonl"
NOISE = REPO / "datasets" / "example_raw.noise.jsonl"


def _err(data) -> str:
    with pytest.raises(RecipeError) as e:
        load_recipe(data)
    return str(e.value)


def test_recipe_errors_name_the_key_path(tmp_path):
    assert _err({"steps": [{"step": "structure"}, {"step": "length"}, {"step": "length", "params": {"max_chars": 0}}]}) \
        .startswith("steps[2].params.max_chars: must be > 0")
    assert _err({"steps": [{"step": "lenght"}]}).startswith("steps[0].step: unknown step 'lenght'")
    assert _err({"steps": [{"step": "length", "params": {"max_char": 5}}]}).startswith("steps[0].params.max_char: unknown key")
    assert _err({"steps": [{"step": "minhash_dedup", "params": {"keep": "oldest"}}]}).startswith("steps[0].params.keep:")
    assert _err({"steps": [{"step": "gopher_repetition", "params": {"dup_line_frac": 1.5}}]}).startswith(
        "steps[0].params.dup_line_frac: must be <= 1")
    assert _err({"stepz": []}).startswith("stepz: unknown key")
    assert _err({"steps": []}).startswith("steps:")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - step: structure\n   params: [\n")
    assert "bad.yaml:" in _err(bad)
    r = load_recipe(DEFAULT_RECIPE)
    assert [s for s, _ in r.steps][:2] == ["structure", "length"]
    assert load_recipe(r.to_dict()).hash == r.hash  # the lineage copy is itself a valid recipe


@pytest.fixture(scope="module")
def raw_ws(tmp_path_factory):
    """One workspace with the raw example ingested and curated once (ingest profiles tokens: slow)."""
    import os

    from workbench.core.workspace import Workspace

    home = tmp_path_factory.mktemp("curate") / "home"
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    ws = Workspace(home)
    raw = ingest(ws, str(RAW), "raw").version
    result = curate(ws, "raw", DEFAULT_RECIPE, "curated")
    yield ws, raw, result
    if old is None:
        os.environ.pop("WORKBENCH_HOME", None)
    else:
        os.environ["WORKBENCH_HOME"] = old


def test_default_recipe_removes_seeded_noise_for_the_right_reason(raw_ws):
    ws, raw, result = raw_ws
    cat = ws.catalog()
    removals = {r["record_id"]: r for r in cat.removals(result.version.id)}
    noise = [json.loads(line) for line in NOISE.read_text().splitlines()]
    assert len(noise) >= 25 and {n["kind"] for n in noise} >= {
        "exact_duplicate", "near_duplicate", "degenerate_repetition", "empty_answer", "broken_think_block", "eval_copy"}
    for n in noise:
        got = removals.get(n["id"])
        assert got is not None, f"seeded {n['kind']} at line {n['line']} survived"
        assert got["step"] == n["step"] and got["reason"].startswith(n["reason"]), (n, got)
        assert got["parent"] == raw.id and got["detail"]
    # specific reasons with their measured details
    by_kind = {}
    for n in noise:
        by_kind.setdefault(n["kind"], []).append(removals[n["id"]])
    assert all("cluster" in r["detail"] and "duplicate of" in r["detail"] for r in by_kind["near_duplicate"])
    assert all("est. Jaccard" in r["detail"] for r in by_kind["near_duplicate"])
    assert any(r["reason"] == "think_block_unclosed" for r in by_kind["broken_think_block"])
    assert any(r["reason"] == "trace_in_no_think" for r in by_kind["broken_think_block"])
    assert all('"' in r["detail"] for r in by_kind["eval_copy"])  # the matching n-gram is quoted
    # nothing else was removed: every clean record survives
    assert len(removals) == len(noise)
    assert result.version.n_rows == len(CLEAN.read_text().splitlines())
    # lineage carries the recipe; the summary is stored
    edge = cat.parents(result.version.id)[0]
    assert edge["parent"] == raw.id and edge["params"]["recipe"]["name"] == "default"
    steps = cat.curation_steps(result.version.id)
    assert [s["step"] for s in steps] == [s["step"] for s in result.summary]
    assert sum(s["dropped"] for s in steps) == len(noise)
    assert steps[0]["n_in"] == raw.n_rows and steps[-1]["kept"] == result.version.n_rows
    assert cat.dedup_clusters(result.version.id, limit=3)[0]["members"][0]["kept"] is True

    # determinism: same recipe, same input -> same version id, no duplicate rows
    again = curate(ws, raw.id, load_recipe(DEFAULT_RECIPE), "curated-again")
    assert again.version.id == result.version.id and not again.version.created
    assert len(cat.removals(result.version.id)) == len(noise)
    assert len(cat.curation_steps(result.version.id)) == len(steps)


def test_everything_dropped_stops_and_writes_nothing(raw_ws):
    ws, raw, _ = raw_ws
    cat = ws.catalog()
    before = len(cat.list_versions())
    harsh = {"steps": [{"step": "reasoning_format"}, {"step": "length", "params": {"min_chars": 100000}}]}
    with pytest.raises(CurationError) as e:
        curate(ws, "raw", harsh, "nothing-left")
    n = raw.n_rows
    assert f"reasoning_format: in {n}, kept {n - 5}, dropped 5" in str(e.value)
    assert f"length: in {n - 5}, kept 0, dropped {n - 5}" in str(e.value)
    assert len(cat.list_versions()) == before
    result = curate(ws, "raw", harsh, "nothing-left", allow_empty=True)
    assert result.version is None and result.summary[-1]["kept"] == 0
    assert len(cat.list_versions()) == before


def test_cli_curate_report_clusters(raw_ws, tmp_path):
    ws, _, result = raw_ws
    out = run_cli("curate", "raw", "--recipe", str(DEFAULT_RECIPE), "--name", "curated-cli").stdout
    assert "minhash_dedup" in out and "near_duplicate" in out and result.version.id in out
    rep = run_cli("curate", "report", "curated", "--removals", "5").stdout
    for word in ("structure", "reasoning_format", "exact_duplicate_conversation", "gsm_style", "removals by reason"):
        assert word in rep, word
    cl = run_cli("curate", "clusters", "curated", "-n", "2").stdout
    assert "cluster" in cl and "kept" in cl and "dropped" in cl
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - step: length\n    params: {max_chars: -1}\n")
    proc = run_cli("curate", "raw", "--recipe", str(bad), "--name", "x", check=False)
    assert proc.returncode == 2 and "steps[0].params.max_chars: must be > 0" in proc.stderr
    assert "x" not in [v["name"] for v in ws.catalog().list_versions()]
