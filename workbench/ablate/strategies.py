"""Ablation strategies: the curator's structured questions, expanded into ordinary variants.

`expand_strategies(spec)` runs when a spec is loaded (workbench.ablate.spec.parse_spec) and
appends, for each entry of `strategies:` (see workbench.ablate.strategy_spec):

- per_step: the source as is; each recipe step alone; the recipe with each step left out; the
  whole recipe;
- leave_one_out: the source with each named record source dropped (`select`); or, with `mix`, a
  mixture of record sources (a written variant whose recipe ends with `mix_sources`, or an inline
  `{weights: ...}`) without each of its sources, the others filling the same token budget
  (workbench.curate.mix_sources): compared with the whole mixture, so no random control;
- sweep: the source with the step at each parameter value, or with the lowest-scoring share
  removed (`score_cut`);
- inject: the source with the defect planted at each rate (`inject`), and with the `catch` step
  run on that (a removal from the defective data).

Every variant that removes rows gets one size-matched random control per control seed: the
same prefix, then `random_remove` matched to the removal (rows, or tokens with `match: tokens`),
drawn with that seed and trained with it; with `draw_check`, one more drawn with another seed and
trained with the first (the draw A/A). All are plain `VariantSpec`s (sources + an inline
recipe, built, trained and evaluated like any other), tagged with a `StrategyTag`. Variants with
the same data are generated once (the tag's `also` names the other roles). A spec whose variants
exceed `max_variants` is refused before anything runs.

`describe_strategies(spec)` lists the generated variants and the rows each removes (for
`ablate --dry-run`); `count=True` also reads the source files and counts them (a re-balanced
mixture: its rows and tokens, and the whole mixture's tokens).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.ablate.schema import (AblationSpec, SpecError, VariantSpec, _looks_like_path, canonical_steps, load_variant_recipe,
                                     read_source_records, slug)
from workbench.ablate.credit import MAX_EXACT, masks, members
from workbench.ablate.mixgen import mixture_variants
from workbench.ablate.strategy_spec import (Inject, LeaveOneOut, MixtureSearch, PerStep, Shapley, StrategySpec,
                                            StrategyTag, Sweep)
from workbench.curate.recipe import load_recipe, run_steps
from workbench.data.profile import DEFAULT_TOKENIZER, token_counts
from workbench.data.records import unique_ids
from workbench.core.hashing import text_hash

ALSO = ("strategy", "group", "role", "step", "param", "value", "source", "compare_to", "subset", "players")
SHORT = {"per_step": "step", "leave_one_out": "loo", "sweep": "sweep", "inject": "inject", "shapley": "shapley",
         "mixture_search": "mix"}


def _fit(name: str) -> str:
    """A variant name of at most 64 characters (a long one keeps its start and a short hash)."""
    if len(name) <= 64:
        return name
    return name[:55].rstrip("._-") + "-" + text_hash(name, 8)


@dataclass
class _Generator:
    spec: AblationSpec
    where: str
    variants: list[VariantSpec] = field(default_factory=list)
    by_data: dict[str, int] = field(default_factory=dict)  # data key -> index in variants
    taken: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.taken = {v.name for v in self.spec.variants}

    # --- helpers ---------------------------------------------------------------------
    def source(self, body, where: str) -> str:
        src = body.source
        if _looks_like_path(src):
            path = self.spec.path(src)
            if not os.path.exists(path):
                raise SpecError(f"{where}.source: file not found: {path}")
            return path
        return src

    def recipe_steps(self, recipe, where: str) -> list[dict]:
        if recipe is None:
            return []
        if isinstance(recipe, str) and not os.path.exists(self.spec.path(recipe)):
            raise SpecError(f"{where}: file not found: {self.spec.path(recipe)}")
        try:
            return load_recipe(self.spec.path(recipe) if isinstance(recipe, str) else recipe).to_dict()["steps"]
        except Exception as e:
            raise SpecError(f"{where}: {e}") from None

    def add(self, name: str, source: str | list[str], steps: list[dict], tag: StrategyTag,
            seeds: list[int] | None = None) -> str:
        """A variant with this data, or the one that already has it (its tag learns the role)."""
        key = json.dumps([source, steps, seeds], sort_keys=True)
        if key in self.by_data:
            v = self.variants[self.by_data[key]]
            desc = tag.role + (f":{tag.step}" if tag.step else "") + (f"={tag.value}" if tag.value is not None else "")
            v.tag.also.append(f"{tag.group}.{desc}")
            v.tag.also_as.append(tag.model_dump(include=set(ALSO), exclude_none=True))
            return v.name
        name = _fit(name)
        if name in self.taken:
            raise SpecError(f"{self.where}: strategies generate variant {name!r}, which is already a variant name; "
                            "give the strategy another `name`")
        self.taken.add(name)
        recipe = {"name": name, "steps": steps} if steps else None
        sources = [source] if isinstance(source, str) else list(source)
        self.variants.append(VariantSpec(name=name, sources=sources, recipe=recipe, tag=tag, seeds=seeds))
        self.by_data[key] = len(self.variants) - 1
        return name

    def removal(self, name: str, source: str, prefix: list[dict], removes: list[dict], tag: StrategyTag,
                body, compare_to: str, where: str) -> str:
        """A variant that removes rows (prefix + removes) and its random controls (prefix + random_remove)."""
        removes = canonical_steps(removes, where)
        if not removes:  # nothing removed: the data is the source's
            return compare_to
        tag = tag.model_copy(update={"compare_to": compare_to, "removes": removes, "match": body.match})
        vname = self.add(name, source, prefix + removes, tag)
        v = self.variants[self.by_data[json.dumps([source, prefix + removes, None], sort_keys=True)]]
        if body.controls and not v.tag.controls:
            seeds = body.control_seeds or (list(self.spec.seeds) if len(self.spec.seeds) >= 2
                                           else [self.spec.seeds[0], self.spec.seeds[0] + 1])
            for s in seeds:
                ctrl = canonical_steps([{"step": "random_remove",
                                    "params": {"like": {"steps": removes}, "seed": s, "match": body.match}}], where)
                ctag = StrategyTag(strategy=tag.strategy, group=tag.group, role="control", step=tag.step,
                                   param=tag.param, value=tag.value, source=tag.source, control_of=vname, seed=s,
                                   compare_to=compare_to, match=body.match)
                v.tag.controls.append(self.add(f"{vname}.c{s}", source, prefix + ctrl, ctag, seeds=[s]))
            if body.draw_check:  # another draw at the first seed: two controls apart only in their rows
                s, draw = seeds[0], max(seeds) + 1
                ctrl = canonical_steps([{"step": "random_remove",
                                    "params": {"like": {"steps": removes}, "seed": draw, "match": body.match}}], where)
                ctag = StrategyTag(strategy=tag.strategy, group=tag.group, role="draw_check", step=tag.step,
                                   param="draw seed", value=draw, source=tag.source, control_of=vname, seed=s,
                                   controls=[v.tag.controls[0]], compare_to=compare_to, match=body.match)
                self.add(f"{vname}.aa{s}", source, prefix + ctrl, ctag, seeds=[s])
        return vname

    # --- the strategies --------------------------------------------------------------
    def strategy(self, i: int, entry: StrategySpec, group: str) -> None:
        where = f"{self.where}: strategies[{i}].{entry.kind}"
        body = entry.body
        if isinstance(body, LeaveOneOut) and body.mix is not None:
            return self.leave_one_out_mix(body, group, where)
        if isinstance(body, Shapley):
            return self.shapley(body, group, where)
        if isinstance(body, MixtureSearch):

            return mixture_variants(self, body, group, where)
        source = self.source(body, where)
        kind = entry.kind
        if isinstance(body, PerStep):
            prefix = self.recipe_steps(body.prefix, f"{where}.prefix") if body.prefix is not None else []
        else:
            prefix = self.recipe_steps(body.recipe, f"{where}.recipe")
        tag = StrategyTag(strategy=kind, group=group, role="source")
        src = self.add(f"{group}.source", source, prefix, tag)
        if isinstance(body, PerStep):
            steps = self.recipe_steps(body.recipe, f"{where}.recipe")
            names = [s["step"] for s in steps]
            labels = [n if names.count(n) == 1 else f"{n}{j}" for j, n in enumerate(names)]
            for j, label in enumerate(labels):
                t = StrategyTag(strategy=kind, group=group, role="alone", step=label)
                self.removal(f"{group}.only-{label}", source, prefix, [steps[j]], t, body, src, where)
            for j, label in enumerate(labels):
                t = StrategyTag(strategy=kind, group=group, role="left_out", step=label)
                self.removal(f"{group}.without-{label}", source, prefix, steps[:j] + steps[j + 1:], t, body, src,
                             where)
            self.removal(f"{group}.full", source, prefix, steps, StrategyTag(strategy=kind, group=group, role="full"),
                         body, src, where)
        elif isinstance(body, LeaveOneOut):
            for name in body.sources or []:
                t = StrategyTag(strategy=kind, group=group, role="value", source=name, param="source", value=name)
                self.removal(f"{group}.no-{slug(name)}", source, prefix,
                             [{"step": "select", "params": {"drop_sources": [name]}}], t, body, src, where)
        elif isinstance(body, Sweep):
            if body.score is not None:
                for share in body.remove_lowest:
                    t = StrategyTag(strategy=kind, group=group, role="value", step="score_cut", param=body.score,
                                    value=share)
                    self.removal(f"{group}.{slug(body.score)}-low{slug(share)}", source, prefix,
                                 [{"step": "score_cut", "params": {"score": body.score, "remove_lowest": share}}],
                                 t, body, src, where)
            else:
                for value in body.values:
                    t = StrategyTag(strategy=kind, group=group, role="value", step=body.step, param=body.param,
                                    value=value)
                    step = {"step": body.step, "params": {**body.params, body.param: value}}
                    self.removal(f"{group}.{slug(body.param)}-{slug(value)}", source, prefix, [step], t, body,
                                 src, where)
        elif isinstance(body, Inject):
            catch = {"step": body.catch} if isinstance(body.catch, str) else body.catch
            for rate in body.rates:
                planted = prefix + canonical_steps([{"step": "inject", "params": {"defect": body.defect, "rate": rate,
                                                                              "seed": body.seed}}], where)
                t = StrategyTag(strategy=kind, group=group, role="defect", step="inject", param=body.defect,
                                value=rate, compare_to=src)
                vname = self.add(f"{group}.{body.defect}-{slug(rate)}", source, planted, t)
                if catch is not None:
                    ct = StrategyTag(strategy=kind, group=group, role="caught", step=catch.get("step"),
                                     param=body.defect, value=rate)
                    self.removal(f"{vname}.{slug(catch.get('step'))}", source, planted, [catch], ct, body, vname,
                                 f"{where}.catch")

    def shapley(self, body: Shapley, group: str, where: str) -> None:
        """Every subset of the recipe's steps, applied in recipe order (the same data as per_step's source,
        steps alone and whole recipe: generated once)."""
        source = self.source(body, where)
        steps = self.recipe_steps(body.recipe, f"{where}.recipe")
        n = len(steps)
        if n > MAX_EXACT or n < 2:
            raise SpecError(f"{where}.recipe: {n} step(s); exact Shapley values train every subset of the steps "
                            f"(2^n), so shapley takes 2 to {MAX_EXACT} steps ({1 << MAX_EXACT} subsets)" +
                            (": merge or drop steps, or use per_step" if n > MAX_EXACT else ""))
        names = [s["step"] for s in steps]
        labels = [x if names.count(x) == 1 else f"{x}{j}" for j, x in enumerate(names)]
        for mask in masks(n):
            sub = [labels[j] for j in members(mask, n)]
            label = "none" if not sub else "all" if len(sub) == n else "-".join(sub)
            t = StrategyTag(strategy="shapley", group=group, role="subset", step="+".join(sub) or None, subset=sub,
                            players=labels)
            self.add(f"{group}.{label}", source, [steps[j] for j in members(mask, n)], t)

    def leave_one_out_mix(self, body: LeaveOneOut, group: str, where: str) -> None:
        """The mixture, and it without each source, re-balanced to the same budget (by construction the
        same size: compared with the whole mixture, no random control)."""
        if isinstance(body.mix, str):
            full, (sources, prefix, params) = body.mix, self.mixture_of(body.mix, f"{where}.mix")
        else:
            sources, prefix = [self.source(body, where)], self.recipe_steps(body.recipe, f"{where}.recipe")
            params = {"weights": body.mix.weights, "balance": body.mix.balance, "seed": body.mix.seed,
                      "budget": body.mix.budget or "leave_one_out"}
            mix = canonical_steps([{"step": "mix_sources", "params": params}], f"{where}.mix")
            full = self.add(f"{group}.mix", sources, prefix + mix,
                            StrategyTag(strategy="leave_one_out", group=group, role="source", mix=mix[0]["params"]))
        for name, w in params["weights"].items():
            if w <= 0:
                continue
            mix = canonical_steps([{"step": "mix_sources", "params": {**params, "leave_out": [name]}}], f"{where}.mix")
            t = StrategyTag(strategy="leave_one_out", group=group, role="value", source=name, param="source",
                            value=name, compare_to=full, mix=mix[0]["params"])
            self.add(f"{group}.no-{slug(name)}", sources, prefix + mix, t)

    def mixture_of(self, variant: str, where: str) -> tuple[list[str], list[dict], dict]:
        """A written variant's sources, its recipe before its final `mix_sources` step, and that step's params."""
        try:
            v = self.spec.variant(variant)
        except SpecError:
            raise SpecError(f"{where}: {variant!r} is not a variant (known: "
                            f"{', '.join(x.name for x in self.spec.variants) or 'none'})") from None
        steps = self.recipe_steps(v.recipe, f"{where} ({variant}.recipe)") if v.sources else []
        if not steps or steps[-1]["step"] != "mix_sources" or steps[-1]["params"].get("leave_out"):
            raise SpecError(f"{where}: variant {variant!r} is not a mixture of record sources: its recipe must end "
                            "with a `mix_sources` step (weights per record source, no leave_out), or give an inline "
                            "`mix: {weights: {...}}` with `source`")
        if v.synth is not None:
            raise SpecError(f"{where}: variant {variant!r} synthesizes data after its mixture; leave_one_out "
                            "re-balances a mixture of record sources only")
        sources = [self.spec.path(s) if _looks_like_path(s) else s for s in v.sources]
        return sources, steps[:-1], {k: x for k, x in steps[-1]["params"].items() if k != "leave_out"}


def expand_strategies(spec: AblationSpec, where: str = "spec") -> AblationSpec:
    """The spec with its strategies' variants appended (a spec expanded before is returned as is)."""
    if not spec.strategies or any(v.tag is not None for v in spec.variants):
        return spec
    gen = _Generator(spec, where)
    counts: dict[str, int] = {}
    for i, entry in enumerate(spec.strategies):
        body = entry.body
        group = body.name or SHORT[entry.kind] + ("" if counts.get(entry.kind, 0) == 0 else str(counts[entry.kind] + 1))
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
        gen.strategy(i, entry, group)
    total = len(spec.variants) + len(gen.variants)
    if total > spec.max_variants:
        per = {}
        for v in gen.variants:
            per[v.tag.group] = per.get(v.tag.group, 0) + 1
        detail = ", ".join(f"{g}: {n}" for g, n in per.items())
        raise SpecError(f"{where}: max_variants: the strategies generate {len(gen.variants)} variants ({detail}), "
                        f"{total} with the {len(spec.variants)} written by hand, over max_variants {spec.max_variants}. "
                        "Each trains once per seed: drop steps, values or rates, set `controls: false`, or raise "
                        "max_variants if you mean it")
    data = spec.model_dump(mode="json")
    data["variants"] = data["variants"] + [v.model_dump(mode="json", exclude_none=True) for v in gen.variants]
    try:
        return AblationSpec.model_validate({**data, "root": spec.root})
    except ValueError as e:  # a baseline or control naming a variant that was not generated
        msg = e.errors()[0]["msg"] if hasattr(e, "errors") else str(e)
        raise SpecError(f"{where}: {msg.removeprefix('Value error, ')}") from None


def tags(spec: AblationSpec | dict) -> dict[str, StrategyTag]:
    """variant name -> its StrategyTag, for a spec or its stored JSON."""
    variants = spec.variants if isinstance(spec, AblationSpec) else [VariantSpec.model_validate(v)
                                                                    for v in spec.get("variants", [])]
    return {v.name: v.tag for v in variants if v.tag is not None}


SHOWN = ("threshold", "remove_lowest", "score", "drop_sources", "key")


def _what(steps: list[dict]) -> str:
    def one(s: dict) -> str:
        shown = [f"{k}={v}" for k, v in sorted(s["params"].items()) if k in SHOWN]
        return s["step"] + (f"({', '.join(shown)})" if shown else "")

    return " + ".join(one(s) for s in steps)


def describe_strategies(spec: AblationSpec, count: bool | str = False) -> list[str]:
    """One line per generated variant: its role and the rows it removes (counted with count=True,
    by running the recipes in memory on the source files; nothing is written). count="mix" counts
    only the re-balanced mixtures (leave_one_out mix): their rows and tokens, and the whole's."""
    counted: dict[str, str] = {}
    if count:
        counted = _count_removed(spec, only_mix=count == "mix")
    out = []
    for v in spec.variants:
        t = v.tag
        if t is None:
            continue
        seeds = spec.seeds_for(v.name)
        head = f"{v.name} [{t.strategy} {t.role}" + (f" {t.step}" if t.step else "") + \
            (f" {t.param}={t.value}" if t.param is not None and t.value is not None else "") + f"] seeds {seeds}"
        if t.role == "control":
            what = f"as many random {t.match} as {t.control_of} removes (draw seed {t.seed})"
        elif t.role == "draw_check":
            what = (f"as many random {t.match} as {t.control_of} removes (draw seed {t.value}, trained with seed "
                    f"{t.seed} like {t.controls[0]}: the draw A/A)")
        elif t.strategy == "shapley":
            what = ("nothing: the source as is" if not t.subset else f"the rows {' + '.join(t.subset)} drop")
        elif t.strategy == "mixture_search":
            what = _search_what(t)
        elif t.mix is not None:
            what = _mix_what(t)
        elif t.removes:
            what = f"the rows {_what(t.removes)} drops from {t.compare_to}"
        elif t.role == "defect":
            what = f"no rows: {t.param} planted into {t.value:.0%} of {t.compare_to}'s rows"
        else:
            what = "nothing (the data the others are compared with)"
        extra = f"; also {', '.join(t.also)}" if t.also else ""
        ctrl = f"; controls {', '.join(t.controls)}" if t.controls and t.role != "draw_check" else ""
        out.append(f"{head}: removes {what}{counted.get(v.name, '')}{ctrl}{extra}")
    return out


def _mix_what(t: StrategyTag) -> str:
    unit = "tokens" if t.mix.get("balance") != "examples" else "records"
    budget = t.mix.get("budget")
    size = f"{budget} {unit}" if isinstance(budget, int) else \
        f"the largest {unit[:-1]} budget {'every one-left-out mixture' if budget == 'leave_one_out' else 'it'} fills"
    weights = ", ".join(f"{k}: {w:g}" for k, w in t.mix["weights"].items())
    if t.role == "source":
        return f"nothing: the whole mixture ({weights}) at {size}"
    return (f"source {t.source} from the mixture {t.compare_to} ({weights}), its share re-balanced over the others "
            f"to the same budget: {size}")


def _search_what(t: StrategyTag) -> str:
    weights = ", ".join(f"{k}: {w:.3f}" for k, w in t.mix["weights"].items())
    return f"nothing: a {t.value or t.role} mixture ({weights}) at {t.mix.get('budget')} tokens"


def _count_removed(spec: AblationSpec, only_mix: bool = False) -> dict[str, str]:
    cache: dict[str, list] = {}
    kept_of: dict[str, tuple[list, int]] = {}

    def readable(v: VariantSpec) -> bool:  # files (a version ref is not read here)
        return bool(v.sources) and all(os.path.exists(spec.path(p)) for p in v.sources)

    def kept(v: VariantSpec) -> tuple[list, int]:
        if v.name not in kept_of:
            paths = [spec.path(p) for p in v.sources or []]
            records = list(unique_ids(r for p in paths for r in cache.setdefault(p, read_source_records(p))))
            recipe = load_variant_recipe(spec, v) if v.recipe else None
            kept_of[v.name] = (run_steps(records, recipe).kept_records if recipe else records, len(records))  # type: ignore
        return kept_of[v.name]

    out = {}
    for v in spec.variants:
        if v.tag is None or (only_mix and v.tag.mix is None) or not readable(v):
            continue
        records, n = kept(v)
        out[v.name] = f" ({n - len(records)} of {n} rows)"
        if v.tag.mix is not None:
            tok = v.tag.mix.get("tokenizer") or DEFAULT_TOKENIZER
            out[v.name] = f" ({len(records)} of {n} rows kept, {sum(token_counts(records, tok) or [])} tokens"
            if v.tag.compare_to and readable(spec.variant(v.tag.compare_to)):
                whole = kept(spec.variant(v.tag.compare_to))[0]
                out[v.name] += f"; the whole mixture: {sum(token_counts(whole, tok) or [])} tokens"
            out[v.name] += ")"
    return out
