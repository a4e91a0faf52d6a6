"""A removal against its size-matched random controls (workbench.ablate.strategies): the controls are
drawn anew per seed, the removal's rows are one fixed draw, so under "these rows are a random subset"
its mean varies like one control draw, not like 1/k of one.

Two sources for the training noise: the controls' own spread over seeds (`pooled_seed_variance` over
every control of the strategy), or, when each control was trained with a seed its removal also
trained with, the spread of the paired differences (`paired_control_variance`): the seed's own effect
cancels there. benchmarks/strategies.py calibrates both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from workbench.evals.decide import Scores, SeedAwareDiff, SeedVariance, pooled_seed_variance, seed_aware_diff

PAIRED_CONTROL_METHOD = ("removal vs per-seed random controls, paired by seed: item component + the spread of the "
                         "paired differences removal_s - control_s over seeds (pooled over the strategy's removals), "
                         "times 1/k + 1 (the removal's rows are one fixed draw)")


def paired_control_variance(pairs: Iterable[tuple[Scores, Scores]]) -> SeedVariance:
    """The training noise of removals against their random controls when each control was drawn and
    trained with one seed s that its removal also trained with: the spread over seeds of the paired
    differences removal_s - control_s, pooled over the pairs ((k - 1) df each). The seed's own effect,
    shared by both runs of a seed (the keyed data order, the LoRA initialisation), cancels in each
    difference; what is left is the draw (which random rows went) and the removal x seed interaction,
    which is what `removal_vs_control`'s weight 1/k + 1 scales. `pairs`: (removal {seed: items},
    controls {seed: items}); a pair with fewer than 2 shared seeds adds nothing."""
    diffs = []
    for removal, control in pairs:
        seeds = [s for s in removal if s in control]
        diffs.append({s: {i: removal[s][i] - control[s][i] for i in removal[s].keys() & control[s].keys()}
                      for s in seeds})
    return pooled_seed_variance(diffs)  # a difference on fewer than 2 seeds adds nothing there


def removal_vs_control(removal: Scores, control: Scores, *, higher_is_better: bool = True,
                       seed_var: SeedVariance | None = None, alpha: float = 0.05, power: float = 0.8,
                       family_size: int = 1, paired: bool = False) -> SeedAwareDiff:
    """A removal variant (B) against its size-matched random control (A), drawn anew per seed.

    The control's per-seed spread holds training noise and the noise of which random rows went.
    The removal's rows are one fixed draw, so under "these rows are a random subset" its mean
    varies like one control draw, not like 1/k of one: the seed weight is 1/k_control + 1 (an
    upper bound, so the call is conservative). `seed_var` defaults to the control's own spread
    (k - 1 seed df: 1 with 2 seeds); pass `pooled_seed_variance` over every control of the
    strategy instead, as the calibration tests do (4 controls x 2 seeds: <= 5.2% false positives).
    `paired=True`: `seed_var` is `paired_control_variance` (control s trained with seed s, as the
    removal's seed s): the difference is then marked paired."""
    if seed_var is None:
        seed_var = pooled_seed_variance([control])
    d = seed_aware_diff(control, removal, higher_is_better=higher_is_better, seed_var=seed_var, alpha=alpha,
                        power=power, seed_weight=1 / len(control) + 1.0, family_size=family_size)
    return replace(d, paired_seeds=True, method=PAIRED_CONTROL_METHOD) if paired else d
