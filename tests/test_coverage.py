"""Budgets that cover the data: steps per epoch, rows and tokens seen, token budgets, and how many
removed rows a budget reaches; checked by hand and against what the Trainer really trains on."""

from __future__ import annotations

import pytest

from workbench.train import TrainConfig, TrainError
from workbench.train.coverage import (budget_steps, coverage, removal_coverage, rows_per_epoch, steps_for_tokens,
                                      steps_per_epoch)
from workbench.train.order import ordered_ids

IDS = [f"r{i:03d}" for i in range(100)]


def test_steps_and_rows_per_epoch_follow_the_trainer_schedule():
    assert steps_per_epoch(100, 6) == 17  # 17 batches, the last of 4 rows
    assert steps_per_epoch(100, 3, 2) == 17  # 34 batches, 2 per step
    assert steps_per_epoch(11, 3, 2) == 2  # 4 batches: 2 + the last step's 2
    assert steps_per_epoch(5, 3, 4) == 1  # 2 batches: one short step
    assert rows_per_epoch(100, 12, 6) == [72]  # the quickstart's 12 x 6
    assert rows_per_epoch(100, 17, 6) == [100]
    assert rows_per_epoch(100, 20, 6) == [100, 18]  # 17 steps, then 3 steps of the next epoch
    assert rows_per_epoch(11, 5, 3, 2) == [11, 11, 6]
    assert rows_per_epoch(0, 5, 3) == []


def test_coverage_counts_rows_and_tokens_of_the_seen_window():
    tokens = {r: 10 + i for i, r in enumerate(IDS)}
    cov = coverage(IDS, tokens, seed=2, steps=12, batch_size=6)
    first = ordered_ids(IDS, 2)[:72]
    assert cov.seen == frozenset(first) and cov.row_share == 0.72 and cov.passes == [72]
    assert cov.seen_tokens == sum(tokens[r] for r in first) == cov.trained_tokens
    assert cov.token_share == pytest.approx(cov.seen_tokens / sum(tokens.values()))
    assert cov.epochs == pytest.approx(0.72)
    two = coverage(IDS, tokens, seed=2, steps=20, batch_size=6)  # a full pass and 18 rows of the next
    assert two.row_share == 1.0 and two.token_share == 1.0 and two.epochs == pytest.approx(1.18)
    assert two.trained_tokens == sum(tokens.values()) + sum(tokens[r] for r in ordered_ids(IDS, 2, 1)[:18])
    unweighted = coverage(IDS, None, seed=2, steps=12, batch_size=6)
    assert unweighted.tokens == 100 and unweighted.seen_tokens == 72
    d = cov.as_dict()
    assert d["rows_seen"] == 72 and d["row_share"] == 0.72 and d["steps"] == 12


def test_token_budget_is_the_fewest_steps_that_reach_it():
    tokens = dict.fromkeys(IDS, 10)
    assert steps_for_tokens(IDS, tokens, 0, 60, batch_size=2, grad_accum=3) == 1  # 6 rows x 10 tokens
    assert steps_for_tokens(IDS, tokens, 0, 61, batch_size=2, grad_accum=3) == 2
    assert steps_for_tokens(IDS, tokens, 0, 1000, batch_size=6) == 17  # one epoch: 100 rows in 17 steps
    assert steps_for_tokens(IDS, tokens, 0, 1001, batch_size=6) == 18  # into the next epoch
    uneven = {r: (100 if r in set(ordered_ids(IDS, 5)[:3]) else 1) for r in IDS}  # the first 3 rows carry the tokens
    assert steps_for_tokens(IDS, uneven, 5, 300, batch_size=1) == 3
    with pytest.raises(ValueError, match="no tokens"):
        steps_for_tokens(IDS, dict.fromkeys(IDS, 0), 0, 10, batch_size=1)


def test_budget_steps_takes_steps_then_tokens_then_epochs():
    tokens = dict.fromkeys(IDS, 10)
    assert budget_steps(IDS, tokens, 0, 6, max_steps=8, epochs=3) == 8
    assert budget_steps(IDS, tokens, 0, 6, max_tokens=1000) == 17
    assert budget_steps(IDS, tokens, 0, 6, epochs=2) == 34
    assert budget_steps(IDS, tokens, 0, 6, epochs=0.5) == 9  # ceil(0.5 x 17), as the Trainer rounds


def test_removed_rows_inside_the_parents_window():
    parent = coverage(IDS, None, seed=1, steps=4, batch_size=6)  # sees 24 of 100
    order = ordered_ids(IDS, 1)
    removed = order[:2] + order[30:41]  # 13 removed: 2 inside the window, 11 after it
    r = removal_coverage(parent, removed)
    assert (r.removed, r.in_window, r.verdict) == (13, 2, "partial")
    assert removal_coverage(parent, order[50:60]).verdict == "none"
    assert removal_coverage(coverage(IDS, None, 1, 17, 6), removed).verdict == "covered"  # one epoch sees all
    assert removal_coverage(parent, []).verdict == "covered"


def test_config_takes_a_token_budget():
    cfg = TrainConfig.load({"max_tokens": 5000})
    assert cfg.resolved()["max_tokens"] == 5000 and TrainConfig.load(cfg.resolved()) == cfg
    plain = TrainConfig.load({"max_steps": 3})
    assert "max_tokens" not in plain.resolved() and plain.resolved()["data_order"] == "keyed"
    with pytest.raises(TrainError, match="give one budget"):
        TrainConfig.load({"max_steps": 3, "max_tokens": 100})
    with pytest.raises(TrainError, match="max_tokens: Input should be greater than 0"):
        TrainConfig.load({"max_tokens": 0})
    with pytest.raises(TrainError, match="token budget is counted on sft rows"):
        TrainConfig.load({"max_tokens": 100, "method": "dpo"})
    with pytest.raises(TrainError, match="data_order"):
        TrainConfig.load({"data_order": "random"})


def test_predicted_coverage_is_what_the_trainer_trains_on(tiny_model_dir, tmp_path):
    """11 rows, micro-batches of 3, 2 per step, 5 steps: the Trainer's own schedule (a short last
    step per epoch) walks 2.5 epochs; the rows it trains on are the predicted windows."""
    from tests.test_crn import _batch_ids, _trainer, records

    recs = records(11)
    ids = [r.id for r in recs]
    trainer, plan, by_ids = _trainer(tiny_model_dir, tmp_path, recs, 3, batch_size=3, grad_accum=2, max_steps=5)
    seen = []
    compute_loss = trainer.compute_loss

    def recording(model, inputs, *a, **kw):
        seen.extend(_batch_ids(inputs, by_ids))
        return compute_loss(model, inputs, *a, **kw)

    trainer.compute_loss = recording
    trainer.train()
    cov = coverage(ids, None, 3, 5, 3, 2)
    assert plan["coverage"]["passes"] == cov.passes == [11, 11, 6]
    assert seen == ordered_ids(ids, 3, 0) + ordered_ids(ids, 3, 1) + ordered_ids(ids, 3, 2)[:6]
    assert trainer.state.global_step == 5


def test_token_budget_trains_the_steps_that_reach_it(tiny_model_dir, tmp_path):
    from tests.test_crn import _trainer, records

    recs = records(11)
    trainer, plan, by_ids = _trainer(tiny_model_dir, tmp_path, recs, 3, batch_size=2, max_tokens=300)
    tokens = {rid: min(len(ids), 128) for ids, rid in by_ids.items()}
    assert plan["steps_from_tokens"] and trainer.args.max_steps == plan["steps"]
    reached = coverage(plan["ids"], tokens, 3, plan["steps"], 2)
    assert reached.trained_tokens >= 300 > coverage(plan["ids"], tokens, 3, plan["steps"] - 1, 2).trained_tokens
    assert plan["coverage"]["trained_tokens"] == reached.trained_tokens
    trainer.train()
    assert trainer.state.global_step == plan["steps"]
    assert int(trainer.state.num_input_tokens_seen) == reached.trained_tokens  # the Trainer counts the same tokens


def test_dry_run_shows_coverage_and_the_removed_rows_in_the_window(ws, tiny_model_dir, tmp_path):
    """Built variants (their build tasks run and recorded, nothing trained): the dry run says what
    share each variant's runs see and how many of the rows `math` lacks the baseline's runs see."""
    import yaml

    from tests.ablate_helpers import tiny_spec
    from tests.conftest import run_cli_here
    from workbench.ablate import load_spec
    from workbench.ablate.budget import coverage_lines
    from workbench.ablate.executors import execute
    from workbench.ablate.tasks import build_task
    from workbench.data.store import load_records

    path = tiny_spec(tmp_path, tiny_model_dir, max_steps=1)
    data = yaml.safe_load(path.read_text())
    data.update(baseline="all", seeds=[0, 1])
    path.write_text(yaml.safe_dump(data))
    spec = load_spec(path)
    cat = ws.catalog()
    before = coverage_lines(ws, spec)  # nothing built: estimated from the source files
    assert "coverage all: ~14 source rows (before curation); 1 step sees ~29% of them (exact once built)" in before
    versions = {}
    for v in spec.variants:
        task = build_task(spec, v)
        out = execute(ws.home, task.to_dict(), ws)
        cat.task_started(spec.name, task.id, "build", v.name, None, task.label, task.inputs.to_dict())
        cat.task_done(spec.name, task.id, out, 0.1)
        versions[v.name] = [r.id for r in load_records(ws, out["version"])]
    lines = coverage_lines(ws, spec)
    n_all = len(versions["all"])
    assert f"coverage all: {n_all} training rows; 1 step ({4 / n_all:.2g} epochs) sees {4 / n_all:.0%} of the rows" in lines[0]
    removed = set(versions["all"]) - set(versions["math"])
    seen = sorted({len(removed & set(ordered_ids(versions["all"], s)[:4])) for s in (0, 1)})
    counts = str(seen[0]) if len(seen) == 1 else f"{seen[0]}-{seen[-1]}"
    [line] = [ln for ln in lines if ln.startswith("math removed")]
    assert line.startswith(f"math removed {len(removed)} rows of all; at this budget {counts} of them would have been seen")
    assert "1 epoch of all takes ~" in line
    proc = run_cli_here("ablate", str(path), "--dry-run", env={"WORKBENCH_HOME": str(ws.home)})
    assert line in proc.stdout and lines[0] in proc.stdout
