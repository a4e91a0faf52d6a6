"""Likelihood batches within the memory budget (workbench.evals.decode): the batch drops to what
fits beside what the process holds, says so once, and every score is what batch 16 gives."""

from __future__ import annotations

import pytest

from workbench.core.memory import BUDGET_ENV, HEADROOM, rss_mb
from workbench.evals import runner
from workbench.evals.decode import LOGIT_COPIES, likelihood_batch
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
