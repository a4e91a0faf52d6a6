"""The steps of an ablation: each turns a task's inputs into catalog rows through the area's
library call and returns its typed output (workbench.ablate.outputs).

Steps write their rows idempotently, so a step cut off by Ctrl-C or kill -9 is simply run again
(training resumes from its checkpoint).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from workbench.ablate.inputs import BuildInputs, EvalInputs, TaskInputs, TrainInputs
from workbench.ablate.outputs import (BuildOutput, BuildStep, CurationStep, EvalOutput, MixComponent, SuiteOutput,
                                      TaskOutput, TrainOutput)
from workbench.curate.recipe import curate
from workbench.data.ingest import ingest
from workbench.data.records import unique_ids
from workbench.data.store import load_records, save_version
from workbench.evals.runner import evaluate
from workbench.synth.mix import build_mixture
from workbench.synth.think import synthesize
from workbench.core.workspace import Workspace


def step_build(ws: Workspace, inp: BuildInputs) -> BuildOutput:
    """Sources -> (concatenate) -> curate -> (synth -> mix): the variant's dataset version."""
    cat = ws.catalog()
    name = inp.name
    if inp.version:
        v = cat.resolve_version(inp.version)
        return BuildOutput(v["id"], v["n_rows"], [BuildStep("version", v["id"])])

    steps: list[BuildStep] = []
    sources = []
    for src in inp.sources:
        if os.path.exists(src):
            v = ingest(ws, src, Path(src).stem).version
            sources.append(v.id)
            steps.append(BuildStep("ingest", v.id, n_rows=v.n_rows, input=src))
        else:
            sources.append(cat.resolve_version(src)["id"])
    current = sources[0]
    if len(sources) > 1:
        records = list(unique_ids(r for s in sources for r in load_records(ws, s)))
        v = save_version(ws, records, f"{name}-sources", "concat", parents=[(s, {"ablation_variant": name}) for s in sources])
        current = v.id
        steps.append(BuildStep("concat", v.id, n_rows=v.n_rows))

    if inp.recipe is not None:
        result = curate(ws, current, inp.recipe, f"{name}-curated", allow_empty=False)
        current = result.version.id
        steps.append(BuildStep("curate", current, curation=[CurationStep.from_summary(s) for s in result.summary]))

    if inp.synth is not None:
        s, m = inp.synth, inp.mix
        synth_version = synthesize(ws, current, s.mode, s.teacher or inp.base, f"{name}-synth", s.settings,
                                   check_answers=s.check_answers, limit=s.limit).version.id
        steps.append(BuildStep("synth", synth_version, mode=s.mode))
        mix_spec = {
            "name": f"{name}-mix",
            "sources": [{"version": current, "weight": m.weights.get("data", 0.0)},
                        {"version": synth_version, "weight": m.weights.get("synth", 0.0)}],
            "balance": m.balance,
            "budget": m.budget,
            "seed": m.seed,
            "allow_upsample": m.allow_upsample,
        }
        mixed = build_mixture(ws, mix_spec, f"{name}-mix")
        current = mixed.version.id
        steps.append(BuildStep("mix", current, composition=[MixComponent(**row) for row in mixed.composition]))

    return BuildOutput(current, cat.resolve_version(current)["n_rows"], steps)


def step_train(ws: Workspace, inp: TrainInputs) -> TrainOutput:
    from workbench.train.sft import train  # loads torch, transformers and peft: only where a run trains

    result = train(ws, inp.version, inp.base, inp.config, seed=inp.seed, quant="auto", init_run=inp.init_run)
    run = ws.catalog().get_run(result.id)
    return TrainOutput(result.id, str(result.adapter_dir), run.get("mode"), run.get("wall_s"), run.get("tokens_per_s"))


def step_eval(ws: Workspace, inp: EvalInputs) -> EvalOutput:
    results = evaluate(ws, inp.target, list(inp.suites), inp.layer, limit=inp.limit, max_gen_toks=inp.max_gen_toks)
    return EvalOutput(inp.target, [SuiteOutput.from_result(r) for r in results])


STEPS: dict[type, Callable[[Workspace, TaskInputs], TaskOutput]] = {
    BuildInputs: step_build, TrainInputs: step_train, EvalInputs: step_eval}


def run_step(ws: Workspace, inputs: TaskInputs) -> TaskOutput:
    """The step for these inputs, by their type."""
    return STEPS[type(inputs)](ws, inputs)
