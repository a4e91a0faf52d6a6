"""An ablation whose finished run lost its adapter (or whose build lost its body) does that task again
on the next call, as it would a failed one, and the workspace verifies clean afterwards."""

from __future__ import annotations

import shutil

from tests.ablate_helpers import mini_spec
from workbench.ablate import run_ablation
from workbench.ops.maintenance import verify


def test_a_deleted_adapter_and_body_are_made_again_by_the_next_ablation_call(ws, tmp_path, tiny_model_dir):
    spec = mini_spec(tmp_path / "spec", tiny_model_dir, "heal")
    first = run_ablation(ws, spec, quiet=True)
    assert not first.failures
    [run] = ws.catalog().list_runs()
    shutil.rmtree(run["adapter_dir"])
    [body] = [ws.home / v["path"] for v in ws.catalog().list_versions() if v["path"]]
    body.unlink()
    problems = {p.kind for p in verify(ws).problems}
    assert problems == {"missing_adapter", "missing_body"}

    said: list[str] = []
    again = run_ablation(ws, spec, quiet=True, log=said.append)
    assert not again.failures
    assert any("its adapter" in s and "running it again" in s for s in said), said
    assert any("the body of dataset version" in s for s in said), said
    assert verify(ws).ok
    assert [r["id"] for r in ws.catalog().list_runs()] == [run["id"]]  # the same run, trained again
