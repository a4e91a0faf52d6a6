"""The typed inputs of an ablation's tasks: what a build, train or eval step reads.

The spec is resolved once into these (workbench.ablate.tasks); a step dispatches on the type
(workbench.ablate.steps) and reads attributes. Each holds validated objects: a build its
curation `Recipe`, `SynthSpec` and `MixSpec`; a train its `TrainConfig`. On the wire (a child
process, Ray, the journal, the catalog's `inputs` column) they travel as `to_dict()`, the same
plain mapping a task's inputs have always been stored as, and come back with `from_dict`, which
validates them again.

A task's id is `hashing.task_id(kind, identity(), hashed())`: the identity is the wire mapping
without what only locates content (source file paths, the recipe's file), whose content is in
`hashed()` (the source files' hashes) or in the identity itself (the recipe as written). So the
same content gives the same id as before these types existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.ablate.outputs import OutputError
from workbench.ablate.schema import MixSpec, SynthSpec
from workbench.core.config import ConfigSource
from workbench.curate.recipe import Recipe, load_recipe
from workbench.train.config import TrainConfig


def _check(cls: type, d: Any, known: set[str], required: set[str]) -> None:
    if not isinstance(d, dict):
        raise OutputError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
    unknown, missing = sorted(set(d) - known), sorted(required - set(d))
    if unknown or missing:
        raise OutputError(f"{cls.__name__}: " + "; ".join(
            ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing field(s) {', '.join(missing)}"] if missing else []))
            + " (task inputs from another version of workbench: rerun the ablation)")


@dataclass(frozen=True)
class BuildInputs:
    """Build a variant's data: an existing `version` as is, or `sources` (files, ingested; or
    version refs), concatenated, curated by `recipe`, then `synth` and `mix`."""

    kind: ClassVar[str] = "build"
    located: ClassVar[tuple[str, ...]] = ("sources", "recipe_file")  # where content is, not what it is

    name: str
    base: str
    version: str | None = None
    sources: tuple[str, ...] = ()
    source_hashes: tuple[str, ...] = ()  # each source file's hash (a version ref: itself)
    recipe: Recipe | None = None
    recipe_source: dict | None = None  # the recipe as written: part of the id
    recipe_file: str | None = None
    synth: SynthSpec | None = None
    mix: MixSpec | None = None

    def __post_init__(self):
        if (self.recipe is None) != (self.recipe_source is None):
            raise ValueError("BuildInputs: give the recipe with its source mapping")
        if self.synth is not None and self.mix is None:
            object.__setattr__(self, "mix", MixSpec())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "base": self.base}
        if self.version:
            out["version"] = self.version
            return out
        out["sources"] = list(self.sources)
        if self.recipe_source is not None:
            out["recipe"] = self.recipe_source
            if self.recipe_file:
                out["recipe_file"] = self.recipe_file
        if self.synth is not None:
            out["synth"] = self.synth.model_dump()
            out["mix"] = self.mix.model_dump()
        return out

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in self.located}

    def hashed(self) -> dict[str, Any]:
        return {} if self.version else {"sources": list(self.source_hashes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], hashed: dict[str, Any] | None = None) -> BuildInputs:
        _check(cls, d, {"name", "base", "version", "sources", "recipe", "recipe_file", "synth", "mix"}, {"name", "base"})
        recipe = None
        if d.get("recipe") is not None:
            recipe = load_recipe(ConfigSource(d["recipe"], d.get("recipe_file")))
        return cls(d["name"], d["base"], d.get("version"), tuple(d.get("sources") or ()),
                   tuple((hashed or {}).get("sources") or ()), recipe, d.get("recipe"), d.get("recipe_file"),
                   SynthSpec.model_validate(d["synth"]) if d.get("synth") is not None else None,
                   MixSpec.model_validate(d["mix"]) if d.get("mix") is not None else None)


@dataclass(frozen=True)
class TrainInputs:
    """Train one run: a dataset version on the base model with a train config and seed, starting
    from `init_run`'s adapter where the variant trains `from` another."""

    kind: ClassVar[str] = "train"

    version: str
    base: str
    config: TrainConfig
    seed: int
    init_run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"version": self.version, "base": self.base, "config": self.config.resolved(), "seed": self.seed}
        if self.init_run is not None:
            out["init_run"] = self.init_run
        return out

    def identity(self) -> dict[str, Any]:
        return self.to_dict()

    def hashed(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, d: dict[str, Any], hashed: dict[str, Any] | None = None) -> TrainInputs:
        _check(cls, d, {"version", "base", "config", "seed", "init_run"}, {"version", "base", "config", "seed"})
        return cls(d["version"], d["base"], TrainConfig.load(d["config"]), int(d["seed"]), d.get("init_run"))


@dataclass(frozen=True)
class EvalInputs:
    """Evaluate a target (a run id, or the base model) on the suites of one layer."""

    kind: ClassVar[str] = "eval"

    target: str
    suites: tuple[str, ...]
    layer: str
    limit: int | None = None
    max_gen_toks: int | None = None  # a cap on every generation suite; absent from the id when unset

    def to_dict(self) -> dict[str, Any]:
        cap = {"max_gen_toks": self.max_gen_toks} if self.max_gen_toks else {}
        return {"target": self.target, "suites": list(self.suites), "layer": self.layer, "limit": self.limit, **cap}

    def identity(self) -> dict[str, Any]:
        return self.to_dict()

    def hashed(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, d: dict[str, Any], hashed: dict[str, Any] | None = None) -> EvalInputs:
        _check(cls, d, {"target", "suites", "layer", "limit", "max_gen_toks"}, {"target", "suites", "layer"})
        return cls(d["target"], tuple(d["suites"]), d["layer"], d.get("limit"), d.get("max_gen_toks"))


TaskInputs = BuildInputs | TrainInputs | EvalInputs
INPUTS: dict[str, type] = {"build": BuildInputs, "train": TrainInputs, "eval": EvalInputs}


def parse_inputs(kind: str, d: dict[str, Any], hashed: dict[str, Any] | None = None) -> TaskInputs:
    """The typed inputs of a task of this kind from their wire mapping."""
    if kind not in INPUTS:
        raise KeyError(f"unknown task kind {kind!r}; known: {', '.join(INPUTS)}")
    return INPUTS[kind].from_dict(d, hashed)
