"""The variants a `mixture_search` strategy generates (called from workbench.ablate.strategies).

It reads the source files (and runs the prefix recipe in memory) to count each record source's
tokens, turns min/max weights and the repetition cap into bounds per source
(workbench.ablate.mixsearch.bounds), lays out the K mixtures (`mixsearch.design`: natural, the
corners, a space-filling sample) and adds one variant per mixture: the sources, the prefix, then a
`mix_sources` step with those weights at the spec's token budget (same seed, so each source's sample
is a prefix of one seeded shuffle and the mixtures are nested). `validate: {weights}` adds the
proposal to train (role `proposal`).
"""

from __future__ import annotations

import json
import os

from workbench.ablate.mixsearch import SearchError, bounds, design
from workbench.ablate.schema import SpecError, _looks_like_path, canonical_steps, read_source_records, slug
from workbench.ablate.strategy_spec import MixtureSearch, StrategyTag
from workbench.curate.recipe import load_recipe, run_steps
from workbench.data.profile import DEFAULT_TOKENIZER, token_counts
from workbench.data.records import unique_ids

_TOKENS: dict[str, dict[str, float]] = {}  # (files, mtimes, prefix, tokenizer) -> tokens per record source


def source_tokens(paths: list[str], prefix: list[dict], tokenizer: str) -> dict[str, float]:
    """Tokens per record source of the files, after the prefix recipe (what mix_sources will count)."""
    key = json.dumps([[(p, os.path.getmtime(p)) for p in paths], prefix, tokenizer], sort_keys=True)
    if key not in _TOKENS:
        records = list(unique_ids(r for p in paths for r in read_source_records(p)))
        if prefix:
            records = run_steps(records, load_recipe({"steps": prefix})).kept_records
        out: dict[str, float] = {}
        for r, n in zip(records, token_counts(records, tokenizer) or []):
            out[r.source or "(none)"] = out.get(r.source or "(none)", 0.0) + n
        _TOKENS[key] = out
    return _TOKENS[key]


def mixture_variants(gen, body: MixtureSearch, group: str, where: str) -> None:
    files = [body.source] if isinstance(body.source, str) else list(body.source)
    paths = []
    for i, f in enumerate(files):
        key = f"{where}.source" + (f"[{i}]" if not isinstance(body.source, str) else "")
        if not _looks_like_path(f):
            raise SpecError(f"{key}: mixture_search reads the source files to count each source's tokens; give a "
                            f"file, not the version {f!r}")
        if not os.path.exists(gen.spec.path(f)):
            raise SpecError(f"{key}: file not found: {gen.spec.path(f)}")
        paths.append(gen.spec.path(f))
    prefix = gen.recipe_steps(body.recipe, f"{where}.recipe")
    tokenizer = body.tokenizer or DEFAULT_TOKENIZER
    available = source_tokens(paths, prefix, tokenizer)
    names = list(body.sources or sorted(available))
    missing = [n for n in names if not available.get(n)]
    if missing:
        raise SpecError(f"{where}.sources: no records of source {', '.join(map(repr, missing))} "
                        f"(found: {', '.join(sorted(available)) or 'none'})")
    if len(names) < 2:
        raise SpecError(f"{where}.sources: a mixture needs at least two record sources (found {names})")
    try:
        # a hair under each source's tokens: the rounded weights must not ask mix_sources for a repeat
        lo, hi = bounds(names, {n: available[n] * 0.999 for n in names}, body.budget, body.min_weight,
                        body.max_weight, body.repeat_cap)
    except SearchError as e:
        raise SpecError(f"{where}: {e}") from None
    points = design(names, available, lo, hi, body.k, corners=body.corners, kind=body.design, alpha=body.alpha,
                    seed=body.seed)
    search = {"lower": dict(zip(names, lo.round(4).tolist())), "upper": dict(zip(names, hi.round(4).tolist())),
              "budget": body.budget, "available": {n: available[n] for n in names}, "k": body.k,
              "design": body.design, "natural": dict(zip(names, points[0][1].tolist())), "seed": body.seed}

    def add(label: str, weights: dict[str, float], role: str) -> None:
        params = {"weights": weights, "balance": "tokens", "budget": body.budget, "seed": body.seed,
                  "tokenizer": tokenizer}
        mix = canonical_steps([{"step": "mix_sources", "params": params}], f"{where}")
        t = StrategyTag(strategy="mixture_search", group=group, role=role, value=label, players=names,
                        mix=mix[0]["params"], search=search)
        gen.add(f"{group}.{slug(label)}", paths, prefix + mix, t)

    for label, w in points:
        add(label, dict(zip(names, w.tolist())), "mixture")
    if body.validate_ is not None:
        unknown = set(body.validate_) - set(names)
        if unknown:
            raise SpecError(f"{where}.validate: unknown source(s) {', '.join(sorted(unknown))} "
                            f"(sources: {', '.join(names)})")
        total = sum(body.validate_.values())
        w = {n: round(body.validate_.get(n, 0.0) / total, 4) for n in names}
        over = [n for n, (a, b) in zip(names, zip(lo, hi)) if not a - 1e-3 <= w[n] <= b + 1e-3]
        if over:
            raise SpecError(f"{where}.validate: weight of {', '.join(over)} is outside its bounds "
                            f"({', '.join(n + ': ' + str([search['lower'][n], search['upper'][n]]) for n in over)})")
        add("proposal", w, "proposal")
