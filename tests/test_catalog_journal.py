"""A task run detached from the catalog (how a Ray worker runs one): the step writes a private copy,
the workspace's catalog is untouched until the driver applies the returned delta, and applying it
twice (two workers that made the same rows) changes nothing more."""

from __future__ import annotations

from tests.ablate_helpers import tiny_spec
from workbench.ablate import build_task, execute, execute_detached, load_spec
from workbench.core.catalog.journal import apply, snapshot
from workbench.core.workspace import Workspace

TABLES = ("versions", "lineage", "removals", "curation_steps", "dedup_clusters")


def _rows(ws: Workspace) -> dict:
    """Every row of the build's tables, without their timestamps and timings (a step's wall_s is
    how long it took this time: 0.0 in one run, 0.001 in the next)."""
    cat = ws.catalog(reader=True)
    return {t: sorted(str({k: v for k, v in r.items() if k not in ("created", "updated", "wall_s")})
                      for r in cat.query(f"SELECT * FROM {t}")) for t in TABLES}


def test_a_detached_build_writes_nothing_until_its_delta_is_applied(tmp_path, tiny_model_dir):
    spec = load_spec(tiny_spec(tmp_path, tiny_model_dir))
    task = build_task(spec, spec.variants[0]).to_dict()  # ingest + exact_dedup
    ws = Workspace(tmp_path / "home")
    cat = ws.catalog()
    empty = _rows(ws)
    out, delta = execute_detached(ws.home, task, snapshot(cat))
    assert _rows(ws) == empty and all(not rows for rows in empty.values())  # the worker never wrote it
    assert {"versions", "lineage", "removals"} <= set(delta.tables) and delta.n_rows > 0
    apply(cat, delta)
    applied = _rows(ws)
    apply(cat, delta)  # the same rows again (another worker that ingested the same file): no change
    assert _rows(ws) == applied

    # the same task run in place, in another workspace, gives the same output and rows
    here = Workspace(tmp_path / "here")
    assert {k: v for k, v in execute(here.home, task).items() if k != "where"} == \
        {k: v for k, v in out.items() if k != "where"}
    assert _rows(here) == applied
