"""The ablation spec: one YAML file that states the data variants to compare.

```yaml
name: quickstart
base: smollm2-135m-instruct          # bundled name, local dir or hub id
seeds: [0]
train: {max_steps: 20}               # TrainConfig fields, or a path to a train YAML
eval: {suites: [gsm-style], layer: smoke, limit: 10}
resources: {train: {num_cpus: 2}}    # optional, per task kind: cores (= threads) and GPUs
variants:
  - name: raw
    sources: [../datasets/raw.jsonl] # files (ingested) or existing version refs
  - name: curated
    sources: [../datasets/raw.jsonl]
    recipe: recipes/default.yaml     # a curation recipe: a path or an inline {steps: [...]}
  - name: curated-think
    sources: [../datasets/raw.jsonl]
    recipe: recipes/default.yaml
    synth: {mode: think, limit: 16}  # responses from a teacher for the curated prompts
    mix: {weights: {data: 1, synth: 1}, balance: tokens}
  - name: prebuilt
    version: my-dataset-v3           # an existing dataset version, used as is
  - name: dpo
    sources: [../datasets/example_preferences.jsonl]
    method: dpo                      # sft (default) | dpo (preference pairs) | grpo (prompt-only rows)
    from: curated                    # start from that variant's run (same seed): SFT -> DPO
```

Relative paths are resolved against the spec file's folder. Errors name the key path
(`variants[1].recipe.steps[0]`) and, for YAML syntax errors, the line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.ablate.strategy_spec import Seeds, StrategySpec, StrategyTag
from workbench.config import ConfigSource, problems, read_config
from workbench.errors import ConfigError
from workbench.names import NAME_RE



class SpecError(ConfigError):
    """An ablation spec that cannot be run; the message names the file and key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalSpec(_Strict):
    suites: list[str] = Field(min_length=1)
    layer: Literal["smoke", "core"] = "smoke"
    limit: int | None = Field(default=None, ge=1, description="at most this many items per suite (for quick runs)")


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
        from workbench.train.methods import METHODS

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


def _branch(part) -> bool:
    # pydantic's union/literal branch names are not YAML keys: the path is the YAML's own
    return isinstance(part, str) and ("[" in part or part in ("str", "dict", "int"))


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (misspelled?)"
    if err["type"] == "missing":
        return "required key is missing"
    return err["msg"].removeprefix("Value error, ")


def _format_errors(where: str | ConfigSource, e: ValidationError) -> str:
    src = where if isinstance(where, ConfigSource) else ConfigSource(None)
    default = where if isinstance(where, str) else "spec"
    return "\n".join(problems(e, src, default=default, message=_message, drop=_branch))


def parse_spec(data: Any, where: str = "spec", root: str | os.PathLike = ".", source: ConfigSource | None = None) -> AblationSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: an ablation spec is a mapping with name, eval and variants")
    try:
        spec = AblationSpec.model_validate({**data, "root": str(Path(root).resolve())})
    except ValidationError as e:
        raise SpecError(_format_errors(source or where, e)) from None
    _check_references(spec, where)
    if spec.strategies:
        from workbench.ablate.strategies import expand_strategies

        spec = expand_strategies(spec, where)
    return spec


def _check_references(spec: AblationSpec, where: str) -> None:
    """Files named in the spec exist, and inline curation recipes are valid, before any work."""
    problems = []
    if isinstance(spec.train, str) and not os.path.exists(spec.path(spec.train)):
        problems.append(f"{where}: train: file not found: {spec.path(spec.train)}")
    for i, v in enumerate(spec.variants):
        for j, src in enumerate(v.sources or []):
            if _looks_like_path(src) and not os.path.exists(spec.path(src)):
                problems.append(f"{where}: variants[{i}].sources[{j}]: file not found: {spec.path(src)}")
        if isinstance(v.recipe, str) and not os.path.exists(spec.path(v.recipe)):
            problems.append(f"{where}: variants[{i}].recipe: file not found: {spec.path(v.recipe)}")
        elif v.recipe is not None:
            try:
                load_variant_recipe(spec, v)
            except SpecError as e:
                problems.append(f"{where}: variants[{i}].recipe{_sub_path(str(e))}")
    if problems:
        raise SpecError("\n".join(problems))


def _sub_path(msg: str) -> str:
    # a recipe error that starts with a key path ("steps[0].x: ...") continues ours
    return msg if msg.startswith(("[", ".")) else ("." + msg if re.match(r"^[\w\[\]\.]+: ", msg) else ": " + msg)


def load_variant_recipe(spec: AblationSpec, variant: VariantSpec):
    """The variant's curation recipe, validated by the curation module."""
    try:
        from workbench.curate.recipe import load_recipe
    except ImportError as e:  # curation not installed in this tree yet
        raise SpecError(f"curation is not available: {e}") from None
    source = spec.path(variant.recipe) if isinstance(variant.recipe, str) else variant.recipe
    try:
        return load_recipe(source)
    except Exception as e:  # RecipeError and friends: keep their key path
        raise SpecError(str(e)) from None


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or Path(value).suffix.lower() in (".jsonl", ".json", ".parquet", ".csv")


def load_spec(path: str | os.PathLike) -> AblationSpec:
    path = Path(path)
    src = read_config(path, SpecError, not_found="{path}: spec file not found")
    return parse_spec(src.data, where=str(path), root=path.parent, source=src)
