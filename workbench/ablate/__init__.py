"""Run an ablation: build each variant's data, train each (variant x seed), evaluate every run
and the untrained base model.

- spec.py: the ablation spec (YAML, validated);
- tasks.py: `Task` and planning (a task's id is a content hash of its inputs);
- outputs.py: the typed outputs the steps hand on and the report reads;
- steps.py: `step_build`, `step_train`, `step_eval` (the area library calls);
- executors.py: `execute(home, task)` from plain data, `LocalExecutor`, `make_executor`;
- ray_executor.py: `RayExecutor` (the `ray` extra): tasks on Ray, the driver the catalog's only writer;
- runner.py: `Runner`, `run_ablation`, `status`;
- lease.py: `TaskLease` (one process at a time runs a task; a dead holder is taken over).
"""

from workbench.ablate.executors import LocalExecutor, execute, execute_detached, make_executor, set_threads
from workbench.ablate.outputs import (BuildOutput, BuildStep, CurationStep, EvalOutput, MixComponent, OutputError,
                                      SuiteOutput, TaskOutput, TrainOutput, parse_output)
from workbench.ablate.runner import AblationRun, Outcome, Runner, prepare, run_ablation, status
from workbench.ablate.spec import AblationSpec, ResourcesSpec, SpecError, load_spec
from workbench.ablate.steps import STEPS, step_build, step_eval, step_train
from workbench.ablate.tasks import (BASE, AblationError, Task, build_task, content_hash, eval_task, file_hash,
                                    resolved_train_config, train_config, train_task)

__all__ = [
    "BASE", "AblationError", "AblationRun", "AblationSpec", "BuildOutput", "BuildStep", "CurationStep", "EvalOutput",
    "LocalExecutor", "MixComponent", "ResourcesSpec", "Outcome", "OutputError", "Runner", "STEPS", "SpecError", "SuiteOutput", "Task",
    "TaskOutput", "TrainOutput", "build_task", "content_hash", "eval_task", "execute", "execute_detached", "file_hash", "load_spec",
    "make_executor", "parse_output", "prepare", "resolved_train_config", "run_ablation", "set_threads", "status", "step_build", "step_eval",
    "step_train", "train_config", "train_task",
]
