"""Run an ablation: build each variant's data, train each (variant x seed), evaluate every run
and the untrained base model.

- schema.py: the spec's pydantic models; spec.py: load a spec file (YAML, validated, strategies expanded);
- tasks.py: `Task` and planning (a task's id is a content hash of its inputs), the spec resolved once;
- inputs.py: the typed inputs of a task (`BuildInputs`, `TrainInputs`, `EvalInputs`), plain data on the wire;
- outputs.py: the typed outputs the steps hand on and the report reads;
- steps.py: `step_build`, `step_train`, `step_eval` (the area library calls), chosen by the inputs' type;
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
from workbench.ablate.inputs import BuildInputs, EvalInputs, TaskInputs, TrainInputs, parse_inputs
from workbench.ablate.steps import STEPS, run_step, step_build, step_eval, step_train
from workbench.ablate.tasks import (BASE, AblationError, Task, build_task, content_hash, eval_task, file_hash,
                                    resolved_train_config, train_configs, train_task, variant_train_config)

__all__ = [
    "AblationError", "AblationRun", "AblationSpec", "BASE", "BuildInputs", "BuildOutput", "BuildStep",
    "CurationStep", "EvalInputs", "EvalOutput", "LocalExecutor", "MixComponent", "Outcome", "OutputError",
    "ResourcesSpec", "Runner", "STEPS", "SpecError", "SuiteOutput", "Task", "TaskInputs", "TaskOutput",
    "TrainInputs", "TrainOutput", "build_task", "content_hash", "eval_task", "execute", "execute_detached",
    "file_hash", "load_spec", "make_executor", "parse_inputs", "parse_output", "prepare", "resolved_train_config",
    "run_ablation", "run_step", "set_threads", "status", "step_build", "step_eval", "step_train", "train_configs",
    "train_task", "variant_train_config",
]
