"""End to end on the real bundled SmolLM2-135M-Instruct: every suite's smoke layer (run with -m e2e)."""

from __future__ import annotations

import pytest

from workbench.evals import runner
from workbench.evals.runner import evaluate
from workbench.evals.stats import compare_runs
from workbench.evals.suites import discover


@pytest.mark.e2e
def test_bundled_model_on_every_smoke_suite_then_cached(ws, monkeypatch):
    results = evaluate(ws, "smollm2-135m-instruct", layer="smoke", progress=False)
    suites = discover()
    assert {r.suite for r in results} == set(suites)
    cat = ws.catalog()
    for r in results:
        assert not r.cached and r.n_items == len(suites[r.suite].rows("smoke"))
        items = cat.eval_samples("smollm2-135m-instruct", r.suite, "smoke")
        assert len(items) == r.n_items
        assert sum(bool(it["response"].strip()) for it in items) >= r.n_items * 0.8  # a real model answers
        assert r.primary_metric in r.metrics
    by = {r.suite: r for r in results}
    # a real instruct model answers short questions close to the reference
    assert by["semsim"].metrics["similarity"] > 0.3

    monkeypatch.setattr(runner, "_load_lm", lambda *a, **k: pytest.fail("model loaded for cached results"))
    again = evaluate(ws, "smollm2-135m-instruct", layer="smoke", progress=False)  # no model load (patched above)
    assert all(r.cached for r in again)
    assert [r.metrics for r in again] == [r.metrics for r in results]
    comps = compare_runs(ws, "smollm2-135m-instruct", "smollm2-135m-instruct")
    assert comps and not any(c.significant for c in comps)
