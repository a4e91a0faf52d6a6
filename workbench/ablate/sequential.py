"""Seeds until decided (issue 28 §4): add seeds only where a headline comparison is undecided.

`until_decided` is a loop over `runner.run_ablation`. Look j runs the ablation (tasks done before
are cached, not redone), reads the headline comparisons (each variant vs the baseline on each
suite's headline metrics, as the report's engine decides them) and calls one decided when its
Holm-adjusted p-value is below this look's level. Then every variant with an undecided comparison,
the baseline when it is trained (both sides) and the A/A control get the next seeds: the smallest
seed numbers they lack, so variants share seed numbers (paired seeds: the same keyed data order).

False positives across looks: alpha spending over a planned maximum of K looks. A spending
function f (f(0) = 0, f(1) = alpha) gives look j the level f(j/K) - f((j-1)/K); these sum to alpha,
and since a comparison is called at most once, P(any false call) <= sum of the levels <= alpha by
the union bound, whatever the correlation between looks (no normal-increments assumption, which
few-seed Behrens-Fisher tests do not meet). Spending functions: Pocock-type (Lan-DeMets,
alpha ln(1 + (e - 1) t)), O'Brien-Fleming-type (2 - 2 Phi(z_{alpha/2} / sqrt t)) and Bonferroni
(alpha t: alpha / K a look).

Before each round, its cost is estimated from the priors of the tasks it would run, scaled by the
finished tasks' times (`estimate.Estimator`); a round that cannot finish within what is left of the
budget is not started. The looks are written to WORKBENCH_HOME/reports/NAME/until_decided.json.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.ablate import estimate
from workbench.ablate.runner import prepare, run_ablation
from workbench.ablate.spec import AblationSpec, SpecError
from workbench.ablate.tasks import BASE, content_hash
from workbench.evals import dist
from workbench.evals.verdict import verdict_word
from workbench.core.progress import fmt_s

SPENDING = {"pocock": "Pocock-type", "obf": "O'Brien-Fleming-type", "bonferroni": "Bonferroni"}
RECORD = "until_decided.json"


def spent(t, alpha: float = 0.05, spending: str = "pocock") -> np.ndarray:
    """The alpha spent by information fraction t in [0, 1] (the spending function f(t))."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "pocock":
        return alpha * np.log1p((math.e - 1) * t)
    if spending == "obf":
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2 - 2 * dist.norm_cdf(dist.norm_ppf(1 - alpha / 2) / np.sqrt(t)), 0.0)
    if spending == "bonferroni":
        return alpha * t
    raise ValueError(f"unknown alpha spending {spending!r}: use one of {', '.join(SPENDING)}")


def look_levels(max_looks: int, alpha: float = 0.05, spending: str = "pocock") -> np.ndarray:
    """The level of each of `max_looks` equally spaced looks: increments of the spending function."""
    if max_looks < 1:
        raise ValueError("max_looks must be at least 1")
    return np.diff(spent(np.arange(max_looks + 1) / max_looks, alpha, spending))


def first_decided(p, levels) -> np.ndarray:
    """Index of the first look whose p-value is below its level, -1 if none (p: (..., looks), NaN-safe)."""
    below = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0) < np.asarray(levels, dtype=float)
    return np.where(below.any(axis=-1), below.argmax(axis=-1), -1)


def method_text(plan: "SequentialPlan") -> str:
    levels = ", ".join(f"{x:.3g}" for x in look_levels(plan.max_looks, plan.alpha, plan.spending))
    return (f"alpha spending ({SPENDING[plan.spending]}) over at most {plan.max_looks} looks: look j calls a "
            f"comparison when its Holm-adjusted p is below {levels} (j = 1..{plan.max_looks}); the levels sum to "
            f"{plan.alpha}, so the chance of any false call over all looks stays <= {plan.alpha} (union bound)")


def parse_budget(text: str) -> float:
    """Seconds from "90m", "1h30m", "45s", "2h" or a bare number of seconds."""
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s)?", s)
    if not s or not m or not any(m.groups()):
        raise SpecError(f"--budget {text!r}: give a duration such as 90m, 1h30m or 600s")
    h, mi, se = (float(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + se


@dataclass(frozen=True)
class SequentialPlan:
    budget_s: float
    max_looks: int = 4
    alpha: float = 0.05
    spending: str = "pocock"
    seeds_per_look: int = 1

    def __post_init__(self):
        look_levels(self.max_looks, self.alpha, self.spending)  # validates both
        if self.seeds_per_look < 1 or self.budget_s <= 0:
            raise ValueError("seeds_per_look must be >= 1 and the budget > 0")


@dataclass(frozen=True)
class Comparison:
    """One headline comparison (variant vs baseline, suite, metric) and where it stands."""

    variant: str
    baseline: str
    suite: str
    metric: str
    state: str  # decided | undecided
    verdict: str = ""  # better | worse at the look that decided it; "" while undecided
    look: int | None = None  # 1-based look that decided it
    delta: float | None = None  # at that look (undecided: at the last look)
    lo: float | None = None
    hi: float | None = None
    p_adjusted: float | None = None
    level: float | None = None  # the level it was tested at
    seeds: int = 0  # the variant's seeds at that look
    stopped: str = ""  # undecided: why there is no further look (budget | max looks | failed)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.variant, self.suite, self.metric


@dataclass(frozen=True)
class Look:
    look: int
    level: float
    seeds: dict[str, list[int]]  # variant -> seeds trained at this look
    decided: int  # headline comparisons decided so far
    total: int
    round_estimate_s: float
    elapsed_s: float


@dataclass
class SequentialResult:
    name: str
    plan: SequentialPlan
    method: str
    looks: list[Look] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    stopped: str = ""  # decided | budget | max looks | failed
    next_round_s: float | None = None  # the round that was not started (budget)
    spent_s: float = 0.0
    runs: list = field(default_factory=list, repr=False)  # each round's runner.AblationRun (not saved)

    def to_dict(self) -> dict:
        return {"name": self.name, "plan": asdict(self.plan), "method": self.method, "stopped": self.stopped,
                "next_round_s": self.next_round_s, "spent_s": self.spent_s,
                "levels": [float(x) for x in look_levels(self.plan.max_looks, self.plan.alpha, self.plan.spending)],
                "looks": [asdict(x) for x in self.looks], "comparisons": [asdict(c) for c in self.comparisons]}

    @classmethod
    def from_dict(cls, d: dict) -> SequentialResult:
        return cls(d["name"], SequentialPlan(**d["plan"]), d["method"], [Look(**x) for x in d["looks"]],
                   [Comparison(**c) for c in d["comparisons"]], d["stopped"], d.get("next_round_s"), d["spent_s"])

    def summary(self) -> str:
        done = sum(c.state == "decided" for c in self.comparisons)
        why = {"decided": "every headline comparison is decided",
               "budget": f"the budget is spent: the next round needs ~{fmt_s(self.next_round_s or 0)}, "
                         f"{fmt_s(max(0.0, self.plan.budget_s - self.spent_s))} of {fmt_s(self.plan.budget_s)} is left",
               "max looks": f"all {self.plan.max_looks} planned looks are used",
               "failed": "a task failed"}[self.stopped]
        return (f"until decided: stopped after {len(self.looks)} look(s) because {why}; {done} of "
                f"{len(self.comparisons)} headline comparisons decided ({fmt_s(self.spent_s)} spent)")


def record_path(ws, name: str):
    return ws.subdir("reports", name) / RECORD


def load_record(ws, name: str) -> SequentialResult | None:
    path = ws.home / "reports" / name / RECORD
    return SequentialResult.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def more_seeds(spec: AblationSpec, undecided: set[str], n: int) -> AblationSpec:
    """The spec with `n` more seeds for each undecided variant, the variants they start `from`,
    the trained baseline and the A/A control: each takes the smallest seed numbers it lacks."""
    names = {v.name for v in spec.variants}
    grow = set(undecided) & names
    if grow and spec.baseline != BASE:
        grow.add(spec.baseline)
    if grow and spec.control is not None:
        grow.add(spec.control.variant)
    frontier = list(grow)
    while frontier:  # a variant trained `from` another needs that one's seeds
        v = spec.variant(frontier.pop())
        if v.from_ and v.from_ not in grow:
            grow.add(v.from_)
            frontier.append(v.from_)
    seeds = {v.name: list(spec.seeds_for(v.name)) for v in spec.variants}
    used = sorted({s for ss in seeds.values() for s in ss})
    for name in grow:
        pool = [s for s in used if s not in seeds[name]] + list(range(max(used) + 1, max(used) + 1 + n))
        seeds[name] = seeds[name] + pool[:n]
    variants = [v.model_copy(update={"seeds": seeds[v.name]}) if v.name in grow else v for v in spec.variants]
    update: dict = {"variants": variants}
    if spec.control is not None and spec.control.variant in grow:
        update["control"] = spec.control.model_copy(update={"seeds": seeds[spec.control.variant]})
    return spec.model_copy(update=update)


def round_cost(ws, spec: AblationSpec) -> float:
    """Seconds the tasks of `spec` not yet done would take: their priors, scaled by the finished
    tasks' times (0 when every task is done or reusable)."""
    todo = [p.work for p in estimate.plan(ws, spec) if p.state in ("to run", "waits")]
    if not todo:
        return 0.0
    est = estimate.Estimator()
    for work, wall in estimate.recorded(ws, spec.name):  # none yet: the priors alone
        est.observe(work.kind, work.prior_s, wall)
    return est.left(todo)


def until_decided(ws, spec_or_path, plan: SequentialPlan, decisions: Callable[[object, str], list],
                  log: Callable[[str], None] | None = None, **run_kwargs) -> SequentialResult:
    """Run the ablation, then add seeds where a headline comparison is undecided, until each is
    decided, the planned looks are used or the budget cannot pay for the next round.

    `decisions(ws, name)`: the headline decisions of each variant against the baseline after a
    round (workbench.report.verdicts.headline_decisions: the report sits above the runner)."""
    say = log or (lambda msg: None)
    spec, path = prepare(spec_or_path, run_kwargs.get("spec_path"))
    levels = look_levels(plan.max_looks, plan.alpha, plan.spending)
    out = SequentialResult(spec.name, plan, method_text(plan))
    say(f"until decided: {out.method}; budget {fmt_s(plan.budget_s)}")
    t0 = time.monotonic()
    state: dict[tuple, Comparison] = {}
    current, j = spec, 0
    while True:
        cost = round_cost(ws, current)
        left = plan.budget_s - (time.monotonic() - t0)
        if cost > 0 and cost > left:
            out.stopped, out.next_round_s = "budget", cost
            break
        say(f"look {j + 1} of {plan.max_looks}: running the round (estimated {fmt_s(cost)}, {fmt_s(left)} left)")
        result = run_ablation(ws, current, log=log, **run_kwargs)
        out.runs.append(result)
        if path:  # the runner stored the spec object; keep where it came from
            ws.catalog().save_ablation(current.name, current.model_dump(mode="json"),
                                       content_hash(current.model_dump(mode="json")), path)
        if result.failures:
            out.stopped = "failed"
            break
        for c in decisions(ws, spec.name):
            key = (c.b, c.suite, c.metric)
            if key in state and state[key].state == "decided":
                continue
            word = verdict_word(c.delta, c.p_adjusted, higher_is_better=c.higher_is_better, alpha=float(levels[j]))
            num = (lambda x: None if x is None or not math.isfinite(x) else float(x))
            state[key] = Comparison(c.b, c.a, c.suite, c.metric, "decided" if word in ("better", "worse") else "undecided",
                                    word if word in ("better", "worse") else "", j + 1 if word in ("better", "worse")
                                    else None, num(c.delta), num(c.lo), num(c.hi), num(c.p_adjusted),
                                    float(levels[j]), c.n_seeds_b)
        undecided = {k[0] for k, c in state.items() if c.state == "undecided"}
        n_done = sum(c.state == "decided" for c in state.values())
        out.looks.append(Look(j + 1, float(levels[j]), {v.name: current.seeds_for(v.name) for v in current.variants},
                              n_done, len(state), cost, time.monotonic() - t0))
        say(f"look {j + 1}: {n_done} of {len(state)} headline comparisons decided at level {levels[j]:.3g}"
            + (f"; undecided: {', '.join(sorted(undecided))}" if undecided else ""))
        j += 1
        if not undecided:
            out.stopped = "decided"
            break
        if j >= plan.max_looks:
            out.stopped = "max looks"
            break
        current = more_seeds(current, undecided, plan.seeds_per_look)
    out.spent_s = time.monotonic() - t0
    why = {"budget": "budget", "max looks": "max looks", "failed": "failed"}.get(out.stopped, "")
    out.comparisons = [c if c.state == "decided" else Comparison(**{**asdict(c), "stopped": why})
                       for c in state.values()]
    record_path(ws, spec.name).write_text(json.dumps(out.to_dict(), indent=1), encoding="utf-8")
    say(out.summary())
    return out
