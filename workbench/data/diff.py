"""Compare two dataset versions: which record ids were added or removed, and stat deltas."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.data.store import load_table
from workbench.core.workspace import Workspace


@dataclass(frozen=True)
class VersionDiff:
    a: str
    b: str
    added: list[str]
    removed: list[str]
    common: int
    stat_deltas: dict[str, tuple]  # stat -> (a, b, b - a)


def diff_versions(ws: Workspace, ref_a: str, ref_b: str) -> VersionDiff:
    cat = ws.catalog()
    va, vb = cat.resolve_version(ref_a), cat.resolve_version(ref_b)
    ids_a = load_table(ws, va["id"]).column("id").to_pylist()
    ids_b = load_table(ws, vb["id"]).column("id").to_pylist()
    set_a, set_b = set(ids_a), set(ids_b)
    deltas = {}
    for key in ("rows", "turns", "chars", "tokens", "mean_turns", "mean_tokens"):
        x, y = va["stats"].get(key), vb["stats"].get(key)
        if x is not None and y is not None:
            deltas[key] = (x, y, round(y - x, 3))
    return VersionDiff(
        a=va["id"],
        b=vb["id"],
        added=[i for i in ids_b if i not in set_a],
        removed=[i for i in ids_a if i not in set_b],
        common=len(set_a & set_b),
        stat_deltas=deltas,
    )
