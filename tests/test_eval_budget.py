"""Likelihood batches within the memory budget (workbench.evals.decode): the batch drops to what
fits beside what the process holds, says so once, and every score is what batch 16 gives."""

from __future__ import annotations

import pytest

from workbench.core.memory import BUDGET_ENV, HEADROOM, rss_mb
from workbench.evals import runner
from workbench.evals.batching import LOGIT_COPIES, likelihood_batch
from workbench.evals.likelihood import reference_bpb


def test_the_batch_is_what_fits_and_never_above_the_configured_one():
    per_row = 400 * 49152 * 4 * LOGIT_COPIES / 2**20  # MiB of logits for one 400-token row
    assert likelihood_batch(16, 400, 49152, 16 * per_row + 1) == 16
    assert likelihood_batch(16, 400, 49152, 1000 * per_row) == 16  # never above the configured batch
    assert likelihood_batch(16, 400, 49152, 5.5 * per_row) == 5
    assert likelihood_batch(16, 400, 49152, 0.5 * per_row) == 1  # one row always runs
    assert likelihood_batch(16, 400, 49152, -100) == 1


def _scores(tiny_model_dir, ws, contexts, refs):
    runner._prepare_offline()
    lm = runner._load_lm(runner.resolve_target(ws, str(tiny_model_dir)), 16, "hf")
    return lm, reference_bpb(lm, contexts, refs)


def test_a_small_budget_lowers_the_batch_and_keeps_every_score(ws, tiny_model_dir, monkeypatch, capsys):
    contexts = [f"Question {i}: what is {i} + {i}?" for i in range(12)]
    refs = [f" The answer is {2 * i}" + ", because doubling adds a number to itself" * (i % 4) for i in range(12)]
    monkeypatch.setenv(BUDGET_ENV, "1TiB")
    lm, wide = _scores(tiny_model_dir, ws, contexts, refs)
    assert not getattr(lm, "budget_notes", [])
    # a budget just above what this process holds: room for about one row's logits
    monkeypatch.setenv(BUDGET_ENV, f"{(rss_mb() + 1) / HEADROOM:.0f}MiB")
    lm, narrow = _scores(tiny_model_dir, ws, contexts, refs)
    assert lm.budget_notes and lm.budget_notes[0].startswith("likelihood batch 16 -> ")
    assert "likelihood batch 16 -> " in capsys.readouterr().err
    assert lm.batch_size == 16  # restored after the requests
    assert narrow == pytest.approx(wide, abs=1e-5)


def test_generation_batch_rises_to_what_fits_never_below_the_configured_one():
    from workbench.evals.batching import GEN_BATCH, generation_batch

    assert generation_batch(16, 30, 10.0, 1e6) == 30  # every request in one batch
    assert generation_batch(16, 200, 10.0, 1e6) == GEN_BATCH
    assert generation_batch(16, 200, 10.0, 200.0) == 20  # what fits the room
    assert generation_batch(16, 200, 10.0, 50.0) == 16  # never below the runner's batch
    assert generation_batch(16, 8, 10.0, 1e6) == 16  # fewer requests: nothing to change


def test_one_generation_batch_gives_the_responses_of_batches_of_16(ws, tiny_model_dir, monkeypatch):
    """20 think_follow prompts in one batch (room for it) and in batches of 16 (a budget with no room
    for more): the same greedy responses and scores, item by item."""
    from workbench.evals.decode import EarlyStopHFLM
    from workbench.evals.suites import select

    (suite,) = select("think_follow", "smoke")
    rows_seen = []
    original = EarlyStopHFLM._model_generate

    def spy(self, context, *a, **kw):
        rows_seen.append(context.shape[0])
        return original(self, context, *a, **kw)

    monkeypatch.setattr(EarlyStopHFLM, "_model_generate", spy)
    runner._prepare_offline()
    out = {}
    for budget in ("1TiB", f"{rss_mb() / HEADROOM / 2:.0f}MiB"):  # then: no room beside what the process holds
        monkeypatch.setenv(BUDGET_ENV, budget)
        lm = runner._load_lm(runner.resolve_target(ws, str(tiny_model_dir)), 16, "hf")
        rows_seen.clear()
        run = runner._run_suite(lm, suite, "smoke", 20, 8)
        out[budget] = (list(rows_seen), [(s["item_id"], s["response"], s["scores"]) for s in run.samples])
        assert lm.batch_size == 16  # restored after the requests
    (one, wide), (sixteen, narrow) = out.values()
    assert one == [20] and sixteen == [16, 4]
    assert [(i, r) for i, r, _ in wide] == [(i, r) for i, r, _ in narrow]
    for (_, _, a), (_, _, b) in zip(wide, narrow):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=1e-5) for k in a)
