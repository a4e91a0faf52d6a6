"""Where a task runs. `execute(home, task)` runs one task from plain data and returns plain data,
so a distributed engine (a Ray remote function per task, accelerate for one training task) can
take the place of `LocalExecutor` without changing the steps.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.ablate.outputs import TaskOutput, parse_output
from workbench.ablate.steps import STEPS
from workbench.ablate.tasks import Task
from workbench.workspace import Workspace


def execute(home: str | os.PathLike, task: dict) -> dict:
    """Run one task from plain data and return its output (also plain data)."""
    ws = Workspace(Path(home))
    return STEPS[task["kind"]](ws, task["inputs"]).to_dict()


class LocalExecutor:
    """Runs tasks one by one in this process (a Ray/accelerate executor would submit them)."""

    def run(self, ws: Workspace, task: Task) -> TaskOutput:
        return parse_output(task.kind, execute(ws.home, task.to_dict()))
