"""leave_one_out over a mixture (issue 13): a mixture of record sources without each source,
re-balanced to the whole mixture's token budget (the `mix_sources` step), from a written variant
or an inline mix; built on a real catalog, with lineage, the budgets matched within one record."""

from __future__ import annotations

import json

import pytest
import yaml

from workbench.ablate.spec import SpecError, load_spec
from workbench.ablate.strategies import describe_strategies

WEIGHTS = {"math": 1, "chat": 1, "code": 2}


def _records(n=36):
    from workbench.data.records import make_record

    return [make_record([{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": "word " * (1 + i % 5)}],
                        source=("math", "chat", "code")[i % 3]) for i in range(n)]


def _run(recs, **params):
    from workbench.curate.recipe import load_recipe, run_steps

    return run_steps(recs, load_recipe({"steps": [{"step": "mix_sources", "params": params}]}))


def _share(kept, source):
    return sum(1 for r in kept if r.source == source)


def test_mix_sources_fills_the_same_budget_without_a_source():
    recs = _records()  # 12 records per source
    whole = _run(recs, weights=WEIGHTS, balance="examples")
    # the largest budget every one-left-out mixture fills: without math or chat, code gets 2/3 of it (<= 12)
    assert whole.n_kept == 18
    # filled in turn (chat, code, math), each making up the rounding before it: 4.5 -> 5, 9, 4.5 -> 4
    assert [_share(whole.kept_records, s) for s in ("math", "chat", "code")] == [4, 5, 9]
    for left in WEIGHTS:
        out = _run(recs, weights=WEIGHTS, balance="examples", leave_out=[left])
        assert out.n_kept == 18 and _share(out.kept_records, left) == 0
        reasons = {r["reason"] for r in out.removals}
        assert {"mix:left_out", "mix:not_sampled"} <= reasons
    # a source's sample in the whole mixture is inside its larger sample when another is left out
    no_code = _run(recs, weights=WEIGHTS, balance="examples", leave_out=["code"])
    ids = {r.id for r in no_code.kept_records}
    assert {r.id for r in whole.kept_records if r.source == "math"} <= ids
    # `full`: the largest whole mixture (code's 12 records are its half: 24)
    assert _run(recs, weights=WEIGHTS, balance="examples", budget="full").n_kept == 24


def test_mix_sources_refuses_a_budget_that_needs_repeats_and_bad_params():
    from workbench.curate.recipe import load_recipe
    from workbench.curate.steps import CurationError, RecipeError

    recs = _records()
    with pytest.raises(CurationError, match=r"source 'code' has 12 records but its share .* is 20"):
        _run(recs, weights=WEIGHTS, balance="examples", budget=30, leave_out=["math"])
    with pytest.raises(CurationError, match=r"source 'poetry' has a weight but no records"):
        _run(recs, weights={"poetry": 1, "math": 1}, balance="examples")
    with pytest.raises(RecipeError, match=r"leave_out: art not in weights"):
        load_recipe({"steps": [{"step": "mix_sources", "params": {"weights": WEIGHTS, "leave_out": ["art"]}}]})


def _data(folder):
    path = folder / "blend.jsonl"
    rows = [{"instruction": f"Question {i}: " + "why " * (i % 4), "output": "Because " + "so " * (1 + i % 6),
             "source": ("math", "chat", "code")[i % 3]} for i in range(45)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _spec(folder, strategies, variants=()):
    spec = {"name": "mixloo", "seeds": [0], "train": {"max_steps": 1},
            "eval": {"suites": ["arith_choice"], "limit": 2}, "variants": list(variants), "strategies": strategies}
    path = folder / "mixloo.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


BLEND = {"name": "blend", "sources": ["blend.jsonl"],
         "recipe": {"steps": ["exact_dedup", {"step": "mix_sources", "params": {"weights": WEIGHTS}}]}}


def test_leave_one_out_mix_expands_a_written_mixture_and_an_inline_one(tmp_path):
    data = _data(tmp_path)
    spec = load_spec(_spec(tmp_path, [
        {"leave_one_out": {"mix": "blend"}},
        {"leave_one_out": {"source": str(data), "mix": {"weights": {"math": 1, "chat": 3}, "budget": 200}}}],
        [BLEND]))
    names = [v.name for v in spec.variants]
    assert names == ["blend", "loo.no-math", "loo.no-chat", "loo.no-code", "loo2.mix", "loo2.no-math",
                     "loo2.no-chat"]
    no_chat = spec.variant("loo.no-chat")
    assert no_chat.sources == [str(data)] and no_chat.tag.compare_to == "blend" and not no_chat.tag.controls
    steps = no_chat.recipe["steps"]
    assert [s["step"] for s in steps] == ["exact_dedup", "mix_sources"]  # the written variant's prefix kept
    assert steps[-1]["params"]["leave_out"] == ["chat"] and steps[-1]["params"]["weights"] == WEIGHTS
    assert spec.variant("loo2.no-math").tag.compare_to == "loo2.mix"
    assert spec.variant("loo2.mix").tag.role == "source"
    lines = describe_strategies(spec)
    line = next(x for x in lines if x.startswith("loo.no-code "))
    assert "source code from the mixture blend (math: 1, chat: 1, code: 2)" in line
    assert "the largest token budget every one-left-out mixture fills" in line
    assert "the same budget: 200 tokens" in next(x for x in lines if x.startswith("loo2.no-chat "))


@pytest.mark.parametrize("entry, variants, match", [
    ({"leave_one_out": {"mix": "nope"}}, [BLEND], r"strategies\[0\]\.leave_one_out\.mix: 'nope' is not a variant"),
    ({"leave_one_out": {"mix": "plain"}}, [{"name": "plain", "sources": ["blend.jsonl"]}],
     r"variant 'plain' is not a mixture of record sources: its recipe must end with a `mix_sources` step"),
    ({"leave_one_out": {"mix": "blend", "source": "blend.jsonl"}}, [BLEND], r"drop `source` and `recipe`"),
    ({"leave_one_out": {"mix": {"weights": {"math": 1}}, "source": "blend.jsonl"}}, [],
     r"at least two sources with a weight"),
    ({"leave_one_out": {"source": "blend.jsonl"}}, [], r"either `sources` .* or `mix`"),
])
def test_bad_leave_one_out_mix_names_its_key_path(tmp_path, entry, variants, match):
    _data(tmp_path)
    with pytest.raises(SpecError, match=match):
        load_spec(_spec(tmp_path, [entry], variants))


def test_leave_one_out_mix_builds_versions_with_lineage_at_the_same_token_budget(ws, tmp_path):
    from workbench.ablate import LocalExecutor, build_task
    from workbench.data.profile import token_counts
    from workbench.data.store import load_records

    _data(tmp_path)
    spec = load_spec(_spec(tmp_path, [{"leave_one_out": {"mix": "blend"}}], [BLEND]))
    ex = LocalExecutor(isolate=False)
    built = {v.name: ex.run(ws, build_task(spec, v)) for v in spec.variants}
    cat = ws.catalog(reader=True)
    tokens = {}
    for name, out in built.items():
        records = load_records(ws, out.version)
        sizes = token_counts(records)
        tokens[name] = (sum(sizes), max(sizes), {r.source for r in records})
        ingested = out.steps[0]
        assert ingested.step == "ingest" and ingested.version == built["blend"].steps[0].version
        edges = {(e["parent"], e["operation"]) for e in cat.lineage(out.version)}
        assert (ingested.version, "curate") in edges, (name, edges)  # the variant's lineage: the ingested file
    whole, biggest, sources = tokens["blend"]
    assert sources == set(WEIGHTS)
    for left in WEIGHTS:
        total, big, srcs = tokens[f"loo.no-{left}"]
        assert srcs == set(WEIGHTS) - {left}
        assert abs(total - whole) <= max(big, biggest), (left, total, whole)  # the same budget, within a record
        reasons = {r["reason"] for r in cat.removal_summary(built[f"loo.no-{left}"].version)}
        assert "mix:left_out" in reasons
    # the dry run says it, with the tokens before and after
    from typer.testing import CliRunner

    from workbench.cli import app

    out = CliRunner().invoke(app, ["ablate", str(tmp_path / "mixloo.yaml"), "--dry-run"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("loo.no-math "))
    assert f"{tokens['loo.no-math'][0]} tokens; the whole mixture: {whole} tokens" in line
