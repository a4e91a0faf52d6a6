"""Variant seeds that share another variant's run: content-addressed tasks with the same inputs
are one task row, under the variant that ran it first (the runner's status and the report both
map each variant seed to its run through this)."""

from __future__ import annotations

from pydantic import ValidationError

from workbench.ablate.outputs import done_outputs
from workbench.ablate.spec import AblationSpec


def shared_runs(spec: dict, tasks: list[dict]) -> list[tuple[str, int, str]]:
    """(variant, seed, run id) for each variant seed whose training task another variant's row holds:
    its data (its build's version) is that variant's, so the run is its run too."""
    try:
        parsed = AblationSpec.model_validate(spec)
    except ValidationError:  # a spec stored by an older workbench: each variant reads its own rows only
        return []
    versions = {t["variant"]: o.version for t, o in done_outputs(tasks, "build")}
    trains = done_outputs(tasks, "train")
    own = {(t["variant"], t["seed"]) for t, _ in trains}
    kind = {v.name: (v.method, v.from_) for v in parsed.variants}
    out = []
    for v in parsed.variants:
        for seed in parsed.seeds_for(v.name):
            if (v.name, seed) in own or v.name not in versions:
                continue
            same = [(t, o) for t, o in trains if t["seed"] == seed and t["inputs"].get("version") == versions[v.name]]
            same.sort(key=lambda x: kind.get(x[0]["variant"]) != (v.method, v.from_))  # the same method first
            if same and kind.get(same[0][0]["variant"]) == (v.method, v.from_):
                out.append((v.name, seed, same[0][1].run_id))
    return out
