"""Curation recipes: load and validate a YAML recipe, then run it on a dataset version.

A recipe is an ordered list of steps, each a registered step name and its parameters:

    name: default
    steps:
      - step: structure
      - step: length
        params: {max_turn_chars: 20000}
      - step: minhash_dedup
        params: {threshold: 0.7, keep: first}

Unknown steps, misspelled keys and out-of-range values are rejected with the key path
(`steps[2].params.max_chars: must be > 0`) before any work. `curate` runs the steps in
order, each on what the previous kept, and registers the result as a new version with one
removals row per dropped record (step, reason, detail) and a lineage edge carrying the
recipe; the per-step summary, flags and dedup clusters go to the catalog too.
"""

from __future__ import annotations


import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.core.config import ConfigSource, problems, read_config
from workbench.curate.steps import STEPS, CurationError, Params, RecipeError, Step, StepResult
from workbench.data.records import Record
from workbench.data.store import SavedVersion, load_records, save_version
from workbench.core.hashing import recipe_id
from workbench.core.workspace import Workspace

__all__ = ["DEFAULT_RECIPE", "CurationError", "CurationResult", "Recipe", "RecipeError", "curate", "load_recipe"]

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "examples" / "recipes" / "default.yaml"
RECIPE_KEYS = ("name", "description", "steps")
STEP_KEYS = ("step", "params")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    steps: tuple[tuple[str, Params], ...]

    def to_dict(self) -> dict[str, Any]:
        """The recipe with every default filled in: what the lineage edge records."""
        return {
            "name": self.name,
            "description": self.description,
            "steps": [{"step": s, "params": p.model_dump(mode="json")} for s, p in self.steps],
        }

    @property
    def hash(self) -> str:
        return recipe_id(self.to_dict())

    def build(self) -> list[Step]:
        return [STEPS[name](params) for name, params in self.steps]


_MESSAGES = [
    ("Input should be greater than or equal to", "must be >="),
    ("Input should be greater than", "must be >"),
    ("Input should be less than or equal to", "must be <="),
    ("Input should be less than", "must be <"),
    ("Extra inputs are not permitted", "unknown key"),
    ("Value error, ", ""),
]


def _message(err: dict, model: type[Params]) -> str:
    msg = err["msg"]
    for old, new in _MESSAGES:
        msg = msg.replace(old, new)
    if err["type"] == "extra_forbidden":
        msg += f" (known: {', '.join(model.model_fields)})"
    return msg


def _parse_step(i: int, spec: Any, src: ConfigSource) -> tuple[str, Params]:
    loc = ("steps", i)
    where = f"{src.at(loc)}steps[{i}]"
    if isinstance(spec, str):  # `- structure` is short for `- step: structure`
        spec = {"step": spec}
    if not isinstance(spec, dict):
        raise RecipeError(f"{where}: expected a mapping with `step` and `params`, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(STEP_KEYS))
    if unknown:
        raise RecipeError(f"{src.at((*loc, unknown[0]))}steps[{i}].{unknown[0]}: unknown key (known: {', '.join(STEP_KEYS)})")
    name = spec.get("step")
    if name not in STEPS:
        raise RecipeError(f"{src.at((*loc, 'step'))}steps[{i}].step: unknown step {name!r} (known: {', '.join(sorted(STEPS))})")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise RecipeError(f"{src.at((*loc, 'params'))}steps[{i}].params: expected a mapping, got {type(params).__name__}")
    model = STEPS[name].Params
    try:
        return name, model.model_validate(params)
    except ValidationError as e:
        found = problems(e, src, prefix=(*loc, "params"), default="", message=lambda err: _message(err, model))
        raise RecipeError("; ".join(found)) from None


def load_recipe(source: str | Path | dict | Recipe | ConfigSource) -> Recipe:
    """A validated Recipe from a YAML file path, an already-read file (`ConfigSource`: its errors
    keep their lines) or an already-parsed mapping."""
    if isinstance(source, Recipe):
        return source
    src = source if isinstance(source, ConfigSource) else \
        read_config(source, RecipeError, not_found="recipe file not found: {path}", parens=True)
    origin = Path(src.file).stem if src.file else "recipe"
    data = src.data
    if not isinstance(data, dict):
        raise RecipeError(f"{src.at()}recipe: expected a mapping with `steps`, got {type(data).__name__}")
    unknown = sorted(set(data) - set(RECIPE_KEYS))
    if unknown:
        raise RecipeError(f"{src.at((unknown[0],))}{unknown[0]}: unknown key (known: {', '.join(RECIPE_KEYS)})")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise RecipeError(f"{src.at(('steps',))}steps: expected a non-empty list of steps")
    parsed = tuple(_parse_step(i, s, src) for i, s in enumerate(steps))
    return Recipe(str(data.get("name") or origin), str(data.get("description") or ""), parsed)


# ----------------------------------------------------------------------------------------


@dataclass
class CurationResult:
    version: SavedVersion | None  # None only when everything was dropped under allow_empty
    parent: str
    recipe: Recipe
    summary: list[dict[str, Any]]
    removals: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, Any] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        return self.summary[-1]["kept"] if self.summary else 0


def run_steps(records: list[Record], recipe: Recipe, parent: str = "") -> CurationResult:
    """Apply the recipe in memory (no catalog writes): the summary, removals, flags and clusters."""
    current = records
    out = CurationResult(None, parent, recipe, [])
    for pos, step in enumerate(recipe.build()):
        t0 = time.perf_counter()
        res = step.apply(current) if current else StepResult()
        wall = time.perf_counter() - t0
        out.summary.append({
            "position": pos, "step": step.name, "in": len(current), "kept": len(current) - len(res.drops),
            "dropped": len(res.drops), "flagged": len(res.flags), "edited": len(res.edits), "top_reasons": res.top_reasons(),
            "wall_s": round(wall, 3), "report": res.report,
        })
        edited = {i: v for i, (v, _) in res.edits.items()}  # a rewritten record is removed, its copy kept
        for rec in current:  # input order: deterministic rows
            for table, verdicts in ((out.removals, res.drops), (out.removals, edited), (out.flags, res.flags)):
                v = verdicts.get(rec.id)
                if v is not None:
                    table.append({"parent": parent or None, "record_id": rec.id, "step": step.name,
                                  "reason": v.reason, "detail": v.detail})
        out.clusters.extend(res.clusters)
        if res.report:
            out.reports[f"{pos}:{step.name}"] = res.report
        current = [res.edits[r.id][1] if r.id in res.edits else r for r in current if r.id not in res.drops]
        if res.edits:  # a redacted copy can equal another record: ids stay unique within a version
            from workbench.data.records import unique_ids

            current = list(unique_ids(current))
    out.kept_records = current  # type: ignore[attr-defined]
    return out


def counts_table(summary: list[dict[str, Any]]) -> str:
    return "; ".join(f"{s['step']}: in {s['in']}, kept {s['kept']}, dropped {s['dropped']}" for s in summary)


def curate(
    ws: Workspace, version_ref: str, recipe: Recipe | dict | str | Path, name: str, allow_empty: bool = False
) -> CurationResult:
    """Run `recipe` on a version and register the kept records as version `name`.

    Nothing is written when the recipe is invalid, a step fails, or every record would be
    dropped (CurationError with the per-step counts; with allow_empty the summary is
    returned and no version is registered, since a version cannot be empty).
    """
    recipe = load_recipe(recipe)
    catalog = ws.catalog()
    parent = catalog.resolve_version(version_ref)["id"]
    records = load_records(ws, parent)
    result = run_steps(records, recipe, parent)
    kept: list[Record] = result.kept_records  # type: ignore[attr-defined]
    if not kept:
        if allow_empty:
            return result
        raise CurationError(
            f"recipe {recipe.name!r} would drop all {len(records)} records of {version_ref}; nothing written. "
            f"Per step: {counts_table(result.summary)}. Loosen the recipe, or pass --allow-empty."
        )
    if len(kept) == len(records) and not result.removals:
        # nothing dropped: the "new" version is the input itself (same content, same id)
        row = catalog.resolve_version(parent)
        result.version = SavedVersion(parent, row["name"], row["n_rows"], created=False)
        return result
    edge = {"recipe": recipe.to_dict(), "recipe_hash": recipe.hash}
    result.version = save_version(
        ws, kept, name, operation="curate", parents=[(parent, edge)], removals=result.removals,
        meta={"recipe": recipe.name, "recipe_hash": recipe.hash, "parent": parent},
    )
    # the summary, flags and clusters are keyed by the version and replaced on a rerun,
    # so a process killed between the two writes is repaired by running the same command
    catalog.save_curation(result.version.id, parent, recipe.hash, result.summary, result.flags, result.clusters)
    return result
