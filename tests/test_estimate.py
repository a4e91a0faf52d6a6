"""The ETA's per-kind factor: one slow task moves it half way, two that agree set it, three set it
by their mean, and from five on the highest and lowest are left out."""

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
