"""Calibrate a recipe's filter thresholds on a sample of known-clean rows (`workbench curate calibrate`).

Each threshold-bearing filter rule has a statistic per row (the largest repeated-line share of
its assistant turns, its prose's alpha-words share, its longest turn in characters...), computed
exactly as the filter computes it, and a threshold that drops the row when the statistic is
above a maximum (`> max`) or below a minimum (`< min`). From the statistic's distribution over
the clean sample, calibration fits each threshold so that the sample's clean rows it drops stay
within a budget:

- the budget is `max_drop` × rows of the sample, less the rows the recipe's other steps
  (structure, dedup, decontamination...) drop on the sample, which calibration does not change;
- it is split evenly between the rules that use it: in the default mode a rule that drops no
  clean row at the recipe's value keeps it and uses none, every other rule gets an even share
  (`--tighten`: every rule gets a share). A rule within its share keeps the recipe's value
  (`--tighten`: is set to the strictest value its share allows); a rule over it is loosened to
  the order statistic that drops exactly its share. By the union bound the fitted rules
  together drop at most the budget, whatever rows each of them hits.

The result is a recipe: the input recipe's steps with the fitted values, each with a comment
giving its source (sample file, n rows, the quantile and the clean rows it drops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from workbench.curate.recipe import Recipe, load_recipe, run_steps
from workbench.curate.steps import STEPS, CurationError, Filter, Params
from workbench.data.readers import BadRow, InputError, read_rows
from workbench.data.records import Record, RecordError, convert_row, detect_format, unique_ids

DIGITS = 4  # fitted floats are written with this many decimals, rounded away from the rows they would drop


class CalibrationError(CurationError):
    """A calibration that cannot run: an unreadable sample (file:line), or a budget already spent."""


def read_sample(path: str | Path) -> list[Record]:
    """The clean sample's records, read like `workbench ingest` reads a file (any supported format)."""
    records = []
    try:
        for where, row in read_rows(path):
            if isinstance(row, BadRow):  # pragma: no cover - read_rows raises unless tolerant
                raise CalibrationError(f"{where}: {row.error}")
            try:
                records.append(convert_row(row, detect_format(row), default_source=Path(path).stem))
            except RecordError as e:
                raise CalibrationError(f"{where}: {e}") from None
    except InputError as e:
        raise CalibrationError(str(e)) from None
    if not records:
        raise CalibrationError(f"{path}: no records in the clean sample")
    return list(unique_ids(records))


def _get(params: Params, key: str):
    name, _, sub = key.partition(".")
    value = getattr(params, name)
    return value.get(int(sub)) if sub else value


@dataclass
class Fitted:
    step: int  # position in the recipe
    step_name: str
    param: str  # `max_turn_chars`, `top_ngram_frac.2`
    kind: str  # max | min
    old: float
    new: float
    judged: int  # sample rows the rule applies to
    drops_old: int
    drops_new: int
    allowance: int
    quantile: float | None  # the clean sample's quantile the fitted value is (None: the recipe's value kept)
    note: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("step", "step_name", "param", "kind", "old", "new", "judged",
                                               "drops_old", "drops_new", "allowance", "quantile", "note")}


@dataclass
class Calibration:
    recipe: Recipe
    fitted_recipe: Recipe
    sample: str
    n: int
    max_drop: float
    budget: int  # rows of the sample the fitted rules may drop together
    other_drops: dict[str, int] = field(default_factory=dict)  # rows the steps not fitted drop, by step
    values: list[Fitted] = field(default_factory=list)


def _with(params: Params, key: str, value) -> dict:
    dumped = params.model_dump(mode="json")
    name, _, sub = key.partition(".")
    dumped[name] = {**dumped[name], sub: value} if sub else value
    return dumped


def _valid(params: Params, key: str, value) -> bool:
    try:
        type(params).model_validate(_with(params, key, value))
        return True
    except ValidationError:
        return False


def _drops(values: list[float], kind: str, t: float) -> int:
    return sum(v > t for v in values) if kind == "max" else sum(v < t for v in values)


def _order_stat(values: list[float], kind: str, k: int, integer: bool) -> float:
    """The strictest threshold that drops at most k of `values`."""
    ordered = sorted(values, reverse=(kind == "max"))
    if k >= len(ordered):  # the share allows dropping every judged row: the strictest is past them all
        t = ordered[-1]
        return (math.floor(t) - 1 if integer else t - 10 ** -DIGITS) if kind == "max" else (
            math.floor(t) + 1 if integer else t + 10 ** -DIGITS)
    t = ordered[k]  # max: rows > t are among the k largest; min: rows < t among the k smallest
    if integer:
        return math.ceil(t) if kind == "max" else math.floor(t)
    scale = 10 ** DIGITS
    return math.ceil(t * scale) / scale if kind == "max" else math.floor(t * scale) / scale


def calibrate(recipe: Recipe | str | Path | dict, sample: str | Path, max_drop: float = 0.01,
              tighten: bool = False) -> Calibration:
    """Fit the threshold of every rule of the recipe's filters that have rules (`Filter.rules`:
    length, gopher_repetition, gopher_quality) on the clean sample (see the module doc); the
    fitted recipe is `Calibration.fitted_recipe`, its YAML `to_yaml(calibration)`."""
    if not 0 <= max_drop < 1:
        raise CalibrationError(f"max_drop must be in [0, 1), got {max_drop}")
    recipe = load_recipe(recipe)
    records = read_sample(sample)
    n = len(records)
    built = [STEPS[s](p) for s, p in recipe.steps]
    fitted_steps = {pos for pos, step in enumerate(built) if isinstance(step, Filter) and step.rules()}
    others = [sp for pos, sp in enumerate(recipe.steps) if pos not in fitted_steps]
    other_drops: dict[str, int] = {}
    if others:
        res = run_steps(records, Recipe(recipe.name, recipe.description, tuple(others)))
        for r in res.removals:
            other_drops[r["step"]] = other_drops.get(r["step"], 0) + 1
    budget = math.floor(max_drop * n + 1e-9) - sum(other_drops.values())
    if budget < 0:
        raise CalibrationError(
            f"the steps calibration does not fit already drop {sum(other_drops.values())} of the {n} clean rows "
            f"of {sample} ({', '.join(f'{k} {v}' for k, v in other_drops.items())}), more than max_drop "
            f"{max_drop:.2%} allows ({math.floor(max_drop * n + 1e-9)} rows): look at those rows first "
            f"(ingest the sample and `workbench curate run` it with the recipe)")
    # every rule's statistic over the sample
    cands = []
    for pos in sorted(fitted_steps):
        step, (name, params) = built[pos], recipe.steps[pos]
        stats = [step.rule_values(r) for r in records]
        for rule in step.rules():
            values = [s[rule.param] for s in stats if rule.param in s]
            old = _get(params, rule.param)
            cands.append((pos, name, rule.param, rule.kind, rule.integer, values, old, _drops(values, rule.kind, old)))
    users = [c for c in cands if c[7] > 0 or tighten]
    allowance = budget // len(users) if users else 0
    values: list[Fitted] = []
    for pos, name, key, kind, integer, vals, old, d_old in cands:
        where = f"{Path(sample).name} ({n} rows)"
        if key == "min_stop_words" and not vals and not old:
            values.append(Fitted(pos, name, key, kind, old, old, 0, 0, 0, 0, None, "kept: 0, the rule is off"))
            continue
        if not vals:
            values.append(Fitted(pos, name, key, kind, old, old, 0, 0, 0, 0, None, f"kept: {where}, none judged"))
            continue
        if not tighten and d_old <= allowance:
            q = sum(v <= old for v in vals) / len(vals) if kind == "max" else sum(v < old for v in vals) / len(vals)
            values.append(Fitted(pos, name, key, kind, old, old, len(vals), d_old, d_old,
                                 allowance if d_old else 0, None,
                                 f"kept: {where}, {len(vals)} judged: q{q:.3f}, drops {d_old}"))
            continue
        new = _order_stat(vals, kind, allowance, integer)
        if not integer:
            new = round(new, DIGITS)
        if integer:
            new = int(new)
        if not _valid(recipe.steps[pos][1], key, new):
            if d_old > allowance:
                raise CalibrationError(f"{name}.{key}: the value that drops at most {allowance} of the {len(vals)} "
                                       f"judged clean rows, {new}, is outside the parameter's range")
            values.append(Fitted(pos, name, key, kind, old, old, len(vals), d_old, d_old, allowance, None,
                                 f"kept: {where}, {len(vals)} judged: the fitted {new} is out of range; drops {d_old}"))
            continue
        d_new = _drops(vals, kind, new)
        q = 1 - d_new / len(vals) if kind == "max" else d_new / len(vals)
        values.append(Fitted(pos, name, key, kind, old, new, len(vals), d_old, d_new, allowance, q,
                             f"fitted: {where}, {len(vals)} judged: q{q:.3f}, drops {d_new} of its share "
                             f"{allowance}; was {old}, dropped {d_old}"))
    fitted = _apply(recipe, values)
    return Calibration(recipe, fitted, str(sample), n, max_drop, budget, other_drops, values)


def _apply(recipe: Recipe, values: list[Fitted]) -> Recipe:
    steps = [[name, params] for name, params in recipe.steps]
    for f in values:
        name, params = steps[f.step]
        steps[f.step][1] = type(params).model_validate(_with(params, f.param, f.new))
    return Recipe(f"{recipe.name}-calibrated", recipe.description, tuple((s, p) for s, p in steps))


def _scalar(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def to_yaml(cal: Calibration) -> str:
    """The fitted recipe as YAML: the input recipe's explicit parameters plus every rule's value,
    each with a comment giving its source."""
    lines = [f"# Calibrated by `workbench curate calibrate` from recipe {cal.recipe.name!r} on the clean sample",
             f"# {cal.sample} ({cal.n} rows): at most {cal.max_drop:.2%} of them dropped ({cal.budget} rows for the",
             "# fitted rules, split evenly between the rules that drop any; the other steps drop "
             + (", ".join(f"{k} {v}" for k, v in cal.other_drops.items()) or "none") + ").",
             f"name: {_scalar(cal.fitted_recipe.name)}",
             f"description: {_scalar(cal.fitted_recipe.description)}", "steps:"]
    by_step: dict[int, dict[str, Fitted]] = {}
    for f in cal.values:
        by_step.setdefault(f.step, {})[f.param] = f
    for pos, ((name, orig), (_, params)) in enumerate(zip(cal.recipe.steps, cal.fitted_recipe.steps)):
        fitted = by_step.get(pos, {})
        explicit = set(orig.model_fields_set) | {k.partition(".")[0] for k in fitted}
        lines.append(f"  - step: {name}")
        if not explicit:
            continue
        lines.append("    params:")
        dumped = params.model_dump(mode="json")
        for key in [k for k in dumped if k in explicit]:
            value = dumped[key]
            subs = {k: f for k, f in fitted.items() if k.partition(".")[0] == key and "." in k}
            if subs:
                lines.append(f"      {key}:")
                for sub, v in value.items():
                    f = subs.get(f"{key}.{sub}")
                    lines.append(f"        {sub}: {_scalar(v)}" + (f"  # {f.note}" if f else ""))
            else:
                f = fitted.get(key)
                lines.append(f"      {key}: {_scalar(value)}" + (f"  # {f.note}" if f else ""))
    return "\n".join(lines) + "\n"
