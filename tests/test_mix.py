"""Mixtures: exact proportions by tokens and by examples, determinism, bad specs."""

import json

import pytest

from workbench.data.ingest import ingest
from workbench.data.profile import token_counts
from workbench.data.store import load_records
from workbench.synth.mix import MixError, build_mixture, load_mix_spec


def _write(path, n, words, tag):
    """n records whose contents are exactly `words` repeated tokens ("x" is one token each)."""
    with open(path, "w") as fh:
        for i in range(n):
            # identical rows: equal token counts; ingest gives the repeats distinct ids
            fh.write(json.dumps({"prompt": f"question {tag}", "completion": " ".join(["x"] * words)}) + "\n")


@pytest.fixture
def two_sources(ws, tmp_path):
    _write(tmp_path / "short.jsonl", 100, 9, "s")  # short answers
    _write(tmp_path / "long.jsonl", 40, 99, "l")   # long answers (reasoning-like)
    ingest(ws, tmp_path / "short.jsonl", name="short")
    ingest(ws, tmp_path / "long.jsonl", name="long")
    return ws


def _tokens_by_source(ws, version_id):
    recs = load_records(ws, version_id)
    counts = token_counts(recs)
    out = {}
    for r, n in zip(recs, counts):
        out.setdefault(r.meta["mix_source"], [0, 0])
        out[r.meta["mix_source"]][0] += 1
        out[r.meta["mix_source"]][1] += n
    return out


def test_balance_by_examples_gives_exact_counts(two_sources):
    ws = two_sources
    spec = {"name": "ex", "balance": "examples", "budget": {"records": 50},
            "sources": [{"version": "short", "weight": 3}, {"version": "long", "weight": 2}]}
    result = build_mixture(ws, spec)
    by = _tokens_by_source(ws, result.version.id)
    assert by["short"][0] == 30 and by["long"][0] == 20
    rows = {r["source"]: r for r in result.composition}
    assert rows["short"]["pct_examples"] == 60.0 and rows["long"]["pct_examples"] == 40.0


def test_balance_by_tokens_gives_exact_token_shares(two_sources):
    ws = two_sources
    per_short = token_counts(load_records(ws, "short"))[0]
    per_long = token_counts(load_records(ws, "long"))[0]
    spec = {"name": "tok", "budget": {"tokens": 2 * 10 * per_long},
            "sources": [{"version": "short", "weight": 1}, {"version": "long", "weight": 1}]}
    result = build_mixture(ws, spec)
    by = _tokens_by_source(ws, result.version.id)
    assert by["long"] == [10, 10 * per_long]
    # the short side is the record count closest to its exact half of the tokens
    assert by["short"][0] == round(10 * per_long / per_short)
    rows = {r["source"]: r for r in result.composition}
    assert rows["long"]["avg_tokens"] == per_long and rows["short"]["avg_tokens"] == per_short
    assert rows["long"]["pct_tokens"] == round(100 * 10 * per_long / (10 * per_long + by["short"][1]), 2)


def test_same_seed_same_version_other_seed_other_sample(two_sources):
    ws = two_sources
    spec = {"name": "m", "balance": "examples", "budget": {"records": 20}, "seed": 7,
            "sources": [{"version": "short", "weight": 1}, {"version": "long", "weight": 1}]}
    a, b = build_mixture(ws, spec), build_mixture(ws, spec)
    assert a.version.id == b.version.id and not b.version.created
    c = build_mixture(ws, {**spec, "seed": 8})
    assert c.version.id != a.version.id


def test_upsampling_repeats_with_unique_ids_and_is_reported(two_sources):
    ws = two_sources
    spec = {"name": "up", "balance": "examples", "budget": {"records": 100}, "allow_upsample": True,
            "sources": [{"version": "short", "weight": 1}, {"version": "long", "weight": 1}]}
    result = build_mixture(ws, spec)
    sampling = {s["source"]: s for s in result.sampling}
    assert sampling["long"]["selected_records"] == 50 and sampling["long"]["repeated_records"] == 10
    assert sampling["short"]["dropped_records"] == 50
    ids = [r.id for r in load_records(ws, result.version.id)]
    assert len(ids) == len(set(ids)) == 100


def test_default_budget_is_the_largest_without_repeats(two_sources):
    result = build_mixture(two_sources, {"name": "d", "balance": "examples",
                                         "sources": [{"version": "short", "weight": 1}, {"version": "long", "weight": 1}]})
    assert {s["source"]: s["selected_records"] for s in result.sampling} == {"short": 40, "long": 40}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "x", "sources": [{"version": "short", "weight": -1}]}, "sources[0].weight: must be >= 0"),
        ({"name": "x", "sources": [{"version": "short", "weight": 0}]}, "weights sum to zero"),
        ({"name": "x", "sources": [{"version": "short", "weight": 1, "wieght": 2}]}, "sources[0].wieght"),
        ({"name": "x", "budget": {"tokens": 10**9}, "sources": [{"version": "short", "weight": 1}]}, "allow_upsample"),
        ({"name": "x", "sources": [{"version": "nope", "weight": 1}]}, "sources[0].version"),
    ],
)
def test_bad_specs_fail_before_writing(two_sources, spec, message):
    before = len(two_sources.catalog().list_versions())
    with pytest.raises(MixError) as e:
        build_mixture(two_sources, load_mix_spec(spec)[0]) if "wieght" not in str(spec) else load_mix_spec(spec)
    assert message in str(e.value)
    assert len(two_sources.catalog().list_versions()) == before


def test_mix_cli_prints_composition(two_sources, tmp_path):
    from tests.conftest import run_cli

    spec = tmp_path / "mix.yaml"
    spec.write_text(
        "variants:\n"
        "  - name: half-half\n    balance: examples\n    budget: {records: 10}\n"
        "    sources: [{version: short, weight: 1}, {version: long, weight: 1}]\n"
    )
    out = run_cli("mix", "--spec", str(spec)).stdout
    assert "half-half" in out and "% tokens" in out and "short" in out and "long" in out
