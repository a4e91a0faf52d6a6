"""The ablation spec's schema: the pydantic models of a spec (`AblationSpec` and its sections),
and the variant's curation recipe, read and validated once (`variant_recipe`).

workbench.ablate.spec loads a spec file into these (and expands its strategies); this module
sits below the strategies, which build variants of these types.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.ablate.strategy_spec import Seeds, StrategySpec, StrategyTag
from workbench.core.config import ConfigSource, read_config
from workbench.curate.recipe import Recipe, RecipeError, load_recipe
from workbench.data.readers import BadRow, read_rows
from workbench.data.records import convert_row, detect_format
from workbench.core.errors import ConfigError
from workbench.core.hashing import canonical_json
from workbench.core.names import NAME_RE
from workbench.train.methods import METHODS


class SpecError(ConfigError):
    """An ablation spec that cannot be run; the message names the file and key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalSpec(_Strict):
    suites: list[str] = Field(min_length=1)
    layer: Literal["smoke", "core"] = "smoke"
    limit: int | None = Field(default=None, ge=1, description="at most this many items per suite (for quick runs)")
    max_gen_toks: int | None = Field(default=None, ge=1, description="new tokens per answer in every generation "
                                     "suite, instead of each suite's own (for quick runs; in each eval's id when set)")


class SynthSpec(_Strict):
    mode: Literal["think", "no_think", "both"] = "think"
    teacher: str | None = None  # default: the ablation's base model
    limit: int | None = Field(default=None, ge=1, description="generate for at most this many prompts")
    check_answers: bool = False  # drop generations whose final answer disagrees with a `#### N` reference
    settings: dict[str, Any] = Field(default_factory=dict)


class MixSpec(_Strict):
    # keys: "data" (the curated sources) and "synth" (the generated responses)
    weights: dict[Literal["data", "synth"], float] = Field(default_factory=lambda: {"data": 1.0, "synth": 1.0})
    balance: Literal["tokens", "examples"] = "tokens"
    budget: dict[Literal["tokens", "records"], int] | None = None  # one of {tokens: N} / {records: N}
    seed: int = 0
    allow_upsample: bool = False  # repeat records when a source has less than its share

    @field_validator("budget")
    @classmethod
    def _budget(cls, v):
        if v is not None and (len(v) != 1 or next(iter(v.values())) < 1):
            raise ValueError("give exactly one of {tokens: N} or {records: N}, N >= 1")
        return v

    @field_validator("weights")
    @classmethod
    def _weights(cls, v):
        if any(w < 0 for w in v.values()):
            raise ValueError("weights must not be negative")
        if not v or sum(v.values()) <= 0:
            raise ValueError("weights must sum to more than zero")
        return v


class TaskResources(_Strict):
    """What one task asks of its machine: CPU cores (also its torch/OMP/MKL thread count) and GPUs."""

    num_cpus: float | None = Field(default=None, gt=0)
    num_gpus: float | None = Field(default=None, ge=0)


class ResourcesSpec(_Strict):
    """Per kind of task. Where and how a task runs, never what it computes: no id depends on it."""

    build: TaskResources = Field(default_factory=TaskResources)
    train: TaskResources = Field(default_factory=TaskResources)
    eval: TaskResources = Field(default_factory=TaskResources)

    def override(self, num_cpus: float | None = None, num_gpus: float | None = None) -> ResourcesSpec:
        """These resources with train and eval tasks given `num_cpus` / `num_gpus` (the CLI's options)."""
        new = {k: v for k, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus)) if v is not None}
        return self.model_copy(update={k: getattr(self, k).model_copy(update=new) for k in ("train", "eval")})


class VariantSpec(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    version: str | None = None  # an existing dataset version, used as is
    sources: list[str] | None = None  # files or version refs; several are concatenated
    recipe: str | dict | None = None  # curation recipe (path or inline)
    synth: SynthSpec | None = None
    mix: MixSpec | None = None
    # training method (sft | dpo | grpo; default: the train section's) and the variant whose run
    # (same seed) this one starts from, e.g. a DPO variant on top of an SFT variant
    method: str | None = None
    from_: str | None = Field(None, alias="from")

    @field_validator("method")
    @classmethod
    def _method(cls, v):
        if v is not None and v not in METHODS:
            raise ValueError(f"unknown training method {v!r}; known: {', '.join(METHODS)}")
        return v
    seeds: Seeds | None = Field(None, min_length=1)  # this variant's own seeds (a random control: one draw)
    tag: StrategyTag | None = None  # set on variants a strategy generated (workbench.ablate.strategies)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-', '.' (at most 64 characters)")
        if v == "base":
            raise ValueError("'base' is reserved for the untrained base model")
        return v

    @model_validator(mode="after")
    def _one_data_source(self):
        if (self.version is None) == (not self.sources):
            raise ValueError("give exactly one of `version` (an existing dataset version) or `sources` (files or versions)")
        if self.version is not None and (self.recipe or self.synth or self.mix):
            raise ValueError("a `version` variant is used as is; use `sources` to curate, synthesize or mix")
        if self.mix is not None and self.synth is None:
            raise ValueError("`mix` combines the data with `synth` output; add a `synth` section")
        return self


class ControlSpec(_Strict):
    """An A/A control: one variant trained with several seeds on the same data. Its seed pairs are
    compared like real variants; what they show is the noise floor a real effect must clear."""

    variant: str
    seeds: Seeds = Field(min_length=2)



class AblationSpec(_Strict):
    name: str
    base: str = "smollm2-135m-instruct"
    seeds: Seeds = Field(default_factory=lambda: [0], min_length=1)
    train: str | dict[str, Any] = Field(default_factory=dict)
    eval: EvalSpec
    variants: list[VariantSpec] = Field(default_factory=list)
    # generated variants (workbench.ablate.strategies), added to `variants` when the spec is loaded
    strategies: list[StrategySpec] = Field(default_factory=list)
    max_variants: int = Field(60, ge=1, description="refuse a spec whose variants (strategies included) exceed this")
    # what each variant is compared with in the verdict: "base" (the untrained model) or a variant
    baseline: str = "base"
    control: ControlSpec | None = None
    # resources per task kind (a Ray executor's request; the thread count of a child process)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    # set by load_spec: where relative paths in the spec point to (not part of the YAML)
    root: str = Field(default=".", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not NAME_RE.match(v):
            raise ValueError("use letters, digits, '_', '-', '.' (at most 64 characters)")
        return v


    @field_validator("variants")
    @classmethod
    def _unique(cls, v):
        names = [x.name for x in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"variant names repeat: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _known_variants(self):
        if not self.variants and not self.strategies:
            raise ValueError("give at least one of `variants` or `strategies`")
        names = {v.name for v in self.variants}
        if self.strategies and not any(v.tag for v in self.variants):
            return self  # names generated by the strategies are checked once they exist
        if self.baseline != "base" and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a variant (known: base, {', '.join(sorted(names))})")
        if self.control is not None and self.control.variant not in names:
            raise ValueError(f"control.variant {self.control.variant!r} is not a variant (known: {', '.join(sorted(names))})")
        self.train_order()  # `from` names a variant, with all its seeds, and never loops
        return self

    def train_order(self) -> list["VariantSpec"]:
        """The variants, each after the one it starts `from` (so that run exists first)."""
        by_name, done, order = {v.name: v for v in self.variants}, set(), []

        def visit(v: VariantSpec, path: tuple[str, ...]) -> None:
            if v.name in done:
                return
            if v.from_ is not None:
                if v.from_ not in by_name:
                    raise ValueError(f"variant {v.name!r}: from {v.from_!r} is not a variant (known: {', '.join(sorted(by_name))})")
                if v.from_ in (*path, v.name):
                    raise ValueError(f"variant {v.name!r}: `from` loops ({' -> '.join((*path, v.name, v.from_))})")
                missing = sorted(set(self.seeds_for(v.name)) - set(self.seeds_for(v.from_)))
                if missing:
                    raise ValueError(f"variant {v.name!r}: from {v.from_!r}, which is not trained with seeds {missing}")
                visit(by_name[v.from_], (*path, v.name))
            done.add(v.name)
            order.append(v)

        for v in self.variants:
            visit(v, ())
        return order

    def seeds_for(self, variant: str) -> list[int]:
        """The seeds a variant is trained with: the spec's seeds, plus the control's for its variant."""
        own = next((v.seeds for v in self.variants if v.name == variant and v.seeds), None)
        seeds = list(own or self.seeds)
        extra = self.control.seeds if self.control is not None and self.control.variant == variant else []
        return seeds + [s for s in extra if s not in seeds]

    # --- helpers -----------------------------------------------------------------------
    def path(self, value: str) -> str:
        """A path from the spec, resolved against the spec's folder (absolute paths kept)."""
        p = Path(os.path.expanduser(value))
        return str(p if p.is_absolute() else (Path(self.root) / p).resolve())

    def variant(self, name: str) -> VariantSpec:
        for v in self.variants:
            if v.name == name:
                return v
        raise SpecError(f"ablation {self.name!r} has no variant {name!r}")


@dataclass(frozen=True)
class VariantRecipe:
    """A variant's curation recipe, read once: validated, and the mapping as written (what a build
    task's id is made of; `file` locates it and is left out of the id)."""

    recipe: Recipe
    source: dict
    file: str | None = None


_READ: OrderedDict[tuple, VariantRecipe] = OrderedDict()  # recipes read in this process (a file by its stat)


def variant_recipe(spec: AblationSpec, variant: VariantSpec) -> VariantRecipe:
    """The variant's curation recipe: read and validated once (a file again only once it changes)."""
    if isinstance(variant.recipe, str):
        path = spec.path(variant.recipe)
        st = os.stat(path) if os.path.exists(path) else None
        key: tuple = ("file", path, st and st.st_mtime_ns, st and st.st_size)
    else:
        key = ("inline", canonical_json(variant.recipe))
    if key in _READ:
        return _READ[key]
    try:
        if key[0] == "file":
            src = read_config(key[1], RecipeError, not_found="recipe file not found: {path}", parens=True)
        else:
            src = ConfigSource(variant.recipe)
        found = VariantRecipe(load_recipe(src), src.data, src.file)
    except Exception as e:  # RecipeError and friends: keep their key path
        raise SpecError(str(e)) from None
    _READ[key] = found
    while len(_READ) > 256:
        _READ.popitem(last=False)
    return found


def load_variant_recipe(spec: AblationSpec, variant: VariantSpec) -> Recipe:
    """The variant's curation recipe, validated by the curation module (read once)."""
    return variant_recipe(spec, variant).recipe


def _sub_path(msg: str) -> str:
    # a recipe error that starts with a key path ("steps[0].x: ...") continues ours
    return msg if msg.startswith(("[", ".")) else ("." + msg if re.match(r"^[\w\[\]\.]+: ", msg) else ": " + msg)


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or Path(value).suffix.lower() in (".jsonl", ".json", ".parquet", ".csv")


def read_source_records(path: str) -> list:
    """A source file's records as ingest would make them (bad rows left out): what a strategy
    counts and mixes before anything is built."""
    rows = [row for _, row in read_rows(path) if not isinstance(row, BadRow)]
    source = Path(path).stem  # what ingest names the source
    return [convert_row(row, detect_format(row), default_source=source) for row in rows]


def slug(value: Any) -> str:
    """A piece of a generated variant name: letters, digits, '_', '.', '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("_.-") or "x"


def canonical_steps(steps: list[dict], where: str) -> list[dict]:
    """Curation steps validated by the curation module, with every default filled in."""
    if not steps:
        return []
    try:
        return load_recipe({"steps": steps}).to_dict()["steps"]
    except Exception as e:  # RecipeError: keep its key path under ours
        raise SpecError(f"{where}: {e}") from None


def stored_spec(data: dict, name: str = "") -> AblationSpec:
    """An ablation's spec as the catalog stored it (its `model_dump`), through these classes again."""
    try:
        return AblationSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(f"ablation {name!r}: its stored spec does not validate with this version of workbench "
                        f"({e.error_count()} problem(s), first: {e.errors()[0]['msg']}); run the ablation again") from None

