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
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.ablate.schema import (AblationSpec, ControlSpec, EvalSpec, MixSpec, ResourcesSpec, SpecError,  # noqa: F401
                                     SynthSpec, TaskResources, VariantRecipe, VariantSpec, _looks_like_path, _sub_path,
                                     load_variant_recipe, variant_recipe)
from workbench.ablate.strategies import expand_strategies
from workbench.core.config import ConfigSource, problems, read_config


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


def load_spec(path: str | os.PathLike) -> AblationSpec:
    path = Path(path)
    src = read_config(path, SpecError, not_found="{path}: spec file not found")
    return parse_spec(src.data, where=str(path), root=path.parent, source=src)
