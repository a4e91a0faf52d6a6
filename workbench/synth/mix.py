"""Mixtures: sample dataset versions into one variant by weight, balanced by tokens or examples.

Hybrid reasoning recipes (SmolLM3) balance think and no_think data by tokens, not by
examples, because reasoning traces are long. A mixture names its sources with weights,
a balance unit, an optional total budget and a seed; sampling is deterministic, so the
same spec gives the same version id. Up-sampling repeats records (each repeat gets its own
id); down-sampling takes a seeded shuffle's prefix. Both are reported in the composition.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.core.config import key_path, problems, read_config
from workbench.data.profile import DEFAULT_TOKENIZER, token_counts
from workbench.data.records import Record, unique_ids
from workbench.data.store import SavedVersion, load_records, save_version
from workbench.core.errors import ConfigError
from workbench.core.workspace import Workspace


class MixError(ConfigError):
    """A mixture spec that cannot be built; raised before anything is written."""


class MixSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    weight: float = Field(..., description="relative share of the budget (tokens or examples)")


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: int | None = Field(None, gt=0)
    records: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def one_unit(self):
        if (self.tokens is None) == (self.records is None):
            raise ValueError("give exactly one of tokens or records")
        return self


class MixSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sources: list[MixSource] = Field(..., min_length=1)
    balance: Literal["tokens", "examples"] = "tokens"
    budget: Budget | None = None  # None: the largest mixture that needs no up-sampling
    seed: int = 0
    allow_upsample: bool = False
    tokenizer: str = DEFAULT_TOKENIZER

    @model_validator(mode="after")
    def weights_make_sense(self):
        for i, s in enumerate(self.sources):
            if s.weight < 0:
                raise ValueError(f"sources[{i}].weight: must be >= 0, got {s.weight}")
        if sum(s.weight for s in self.sources) <= 0:
            raise ValueError("sources: weights sum to zero")
        return self


def load_mix_spec(spec: str | Path | dict) -> list[MixSpec]:
    """One or more mixtures from a YAML file or dict (`variants: [...]` or a single mixture)."""
    src = read_config(spec, MixError, not_found="{path}: no such file", phrase="invalid YAML", parens=True)
    if not isinstance(src.data, dict):
        raise MixError(f"{src.at()}expected a mapping with `variants:` or one mixture")
    items = src.data["variants"] if "variants" in src.data else [src.data]
    prefix = ("variants",) if "variants" in src.data else ()
    out = []
    for i, item in enumerate(items):
        loc = (*prefix, i) if prefix else ()
        try:
            out.append(MixSpec(**item))
        except ValidationError as e:
            raise MixError("; ".join(problems(e, src, prefix=loc, default=""))) from None
        except TypeError:
            raise MixError(f"{src.at(loc)}{key_path(loc) or f'[{i}]'}: expected a mapping") from None
    return out


@dataclass
class MixResult:
    version: SavedVersion
    composition: list[dict]
    sampling: list[dict]  # per source: available, selected, repeats, share


def _take(records: list[Record], sizes: list[int], target: float, by_tokens: bool, rng: random.Random):
    """Indices of a seeded sample whose size (tokens or count) comes closest to `target`."""
    order = list(range(len(records)))
    rng.shuffle(order)
    picked, total, passes = [], 0, 0
    while True:
        for i in order:
            size = sizes[i] if by_tokens else 1
            # stop where adding this record would overshoot more than stopping undershoots
            if total + size - target > target - total:
                return picked, passes
            picked.append(i)
            total += size
        passes += 1


def build_mixture(ws: Workspace, spec: MixSpec | dict, name: str | None = None) -> MixResult:
    if isinstance(spec, dict):
        spec = load_mix_spec(spec)[0]
    catalog = ws.catalog()
    versions = []
    for i, src in enumerate(spec.sources):
        try:
            versions.append(catalog.resolve_version(src.version))
        except LookupError as e:
            raise MixError(f"sources[{i}].version: {e}") from None
    pools = [load_records(ws, v["id"]) for v in versions]
    by_tokens = spec.balance == "tokens"
    sizes = [token_counts(pool, spec.tokenizer) for pool in pools]
    available = [sum(s) if by_tokens else len(s) for s in sizes]

    weights = [s.weight / sum(x.weight for x in spec.sources) for s in spec.sources]
    unit = "tokens" if by_tokens else "records"
    if spec.budget is None:
        total = min(a / w for a, w in zip(available, weights) if w > 0)  # the largest total with no repeats
    else:
        budget_tokens, budget_records = spec.budget.tokens, spec.budget.records
        if budget_tokens is not None and not by_tokens:
            raise MixError("budget.tokens needs balance: tokens (or give budget.records)")
        if budget_records is not None and by_tokens:
            raise MixError("budget.records needs balance: examples (or give budget.tokens)")
        total = budget_tokens if by_tokens else budget_records
    targets = [total * w for w in weights]
    for i, (t, a) in enumerate(zip(targets, available)):
        if t > 0 and a == 0:
            raise MixError(f"sources[{i}] ({versions[i]['name']}) is empty but has weight {spec.sources[i].weight}")
        if t > a and not spec.allow_upsample:
            raise MixError(
                f"sources[{i}] ({versions[i]['name']}) has {a} {unit} but the mixture needs {t:.0f}; "
                "lower budget, change weights, or set allow_upsample: true"
            )

    rng = random.Random(spec.seed)
    mixed, sampling = [], []
    for i, (pool, size, target) in enumerate(zip(pools, sizes, targets)):
        picked, passes = _take(pool, size, target, by_tokens, random.Random(rng.random()))
        for idx in picked:
            r = pool[idx]
            mixed.append(replace(r, meta={**r.meta, "mix_source": versions[i]["name"]}))  # a pair keeps its rejected turn
        distinct = len(set(picked))
        sampling.append({
            "source": versions[i]["name"], "version": versions[i]["id"], "weight": spec.sources[i].weight,
            "available_records": len(pool), "selected_records": len(picked), "distinct_records": distinct,
            "repeated_records": len(picked) - distinct, "dropped_records": len(pool) - distinct,
            "selected_tokens": sum(size[j] for j in picked), "target": round(target, 1), "unit": unit,
        })
    if not mixed:
        raise MixError("the mixture selected no records; raise the budget")
    rng.shuffle(mixed)
    mixed = list(unique_ids(mixed))  # up-sampled repeats get their own ids
    tokens = {r.id: n for r, n in zip(mixed, token_counts(mixed, spec.tokenizer))}
    composition = composition_table(mixed, tokens)
    version = save_version(
        ws,
        mixed,
        name=name or spec.name,
        operation="mix",
        parents=[(s["version"], {"weight": s["weight"], "balance": spec.balance, "seed": spec.seed}) for s in sampling],
        meta={"spec": spec.model_dump(), "composition": composition, "sampling": sampling},
    )
    return MixResult(version, composition, sampling)


def composition_table(records: list[Record], tokens: dict[str, int]) -> list[dict]:
    """Per (source, reasoning mode): examples, tokens, their shares, and averages."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        key = (r.meta.get("mix_source") or r.source or "(none)", r.reasoning_mode or "none")
        groups.setdefault(key, []).append(r)
    n_all = len(records)
    t_all = sum(tokens[r.id] for r in records) or 1
    rows = []
    for (source, mode), rs in sorted(groups.items()):
        t = sum(tokens[r.id] for r in rs)
        rows.append({
            "source": source, "reasoning_mode": mode, "examples": len(rs),
            "pct_examples": round(100 * len(rs) / n_all, 2), "tokens": t, "pct_tokens": round(100 * t / t_all, 2),
            "avg_tokens": round(t / len(rs), 1), "avg_turns": round(sum(r.n_turns for r in rs) / len(rs), 2),
        })
    return rows
