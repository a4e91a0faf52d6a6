"""The ETA's per-kind factor: one slow task moves it half way, two that agree set it, three set it
by their mean, and from five on the highest and lowest are left out; and before the build, a recipe
that opens with `select` is priced by the rows it keeps."""

from __future__ import annotations

import pytest

from workbench.ablate.estimate import Estimator, Work


def test_one_slow_first_task_moves_the_factor_half_way_and_three_set_it_by_their_mean():
    est = Estimator()
    assert est.factor("eval") == 1.0
    est.observe("eval", 50.0, 150.0)  # slowed 3x, e.g. by another process on the machine
    assert est.factor("eval") == pytest.approx(2.0)
    assert est.factor("train") == pytest.approx(2.0)  # not seen yet: the machine's speed from the evals
    est.observe("eval", 50.0, 55.0)
    assert est.factor("eval") == pytest.approx(1.1)  # median of the prior's 1.0, 3.0 and 1.1
    est.observe("eval", 50.0, 60.0)
    assert est.factor("eval") == pytest.approx((3.0 + 1.1 + 1.2) / 3)  # three finished: the prior drops out
    est.observe("eval", 50.0, 50.0)
    est.observe("eval", 50.0, 65.0)
    assert est.factor("eval") == pytest.approx((1.1 + 1.2 + 1.3) / 3)  # five: the slowed one and the fastest left out
    est.observe("train", 100.0, 130.0)
    assert est.factor("train") == pytest.approx(1.15)  # its own kind now, half way to 1.3
    assert est.task_s(Work("train", "t", 100.0)) == pytest.approx(115.0)


def test_the_tail_after_the_last_task_is_part_of_what_is_left():
    est = Estimator(tail_s=10.0)
    assert est.left([]) == 10.0
    assert est.left([Work("eval", "e", 100.0)]) == pytest.approx(110.0)


def test_a_uniformly_slow_machine_is_learned_after_two_tasks():
    est = Estimator()
    for _ in range(2):
        est.observe("train", 100.0, 300.0)
    assert est.factor("train") == pytest.approx(3.0)


def test_a_leading_select_prices_the_rows_it_keeps_before_the_build():
    from pathlib import Path

    from workbench.ablate.estimate import _source_rows, leading_selects
    from workbench.curate.recipe import load_recipe

    raw = str(Path(__file__).resolve().parents[1] / "datasets" / "example_raw.jsonl")
    recipe = load_recipe({"steps": [{"step": "select", "params": {"keep_sources": ["reasoning"]}},
                                    {"step": "exact_dedup"}]})
    select = leading_selects(recipe)
    assert len(select) == 1  # the select that opens the recipe, not the steps after it
    all_rows, _ = _source_rows([raw])
    kept, mean = _source_rows([raw], select)
    assert 0 < kept < all_rows and kept == 61 and mean > 0  # the example's reasoning rows
    assert leading_selects(load_recipe({"steps": [{"step": "exact_dedup"}]})) == []
