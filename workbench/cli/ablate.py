"""`workbench ablate SPEC.yaml` runs (or resumes) an ablation; `workbench ablate status NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, table, workspace

app = typer.Typer(cls=DefaultGroup, help="Run an ablation: build, train and evaluate every data variant.")


@app.command("run")
def run(
    spec: Path = typer.Argument(..., help="The ablation spec (YAML)."),
    report_dir: Optional[Path] = typer.Option(None, "--report-dir", help="Where to write the report (default reports/NAME)."),
    no_report: bool = typer.Option(False, "--no-report", help="Do not write the report."),
    in_process: bool = typer.Option(False, "--in-process", help="Run train and eval tasks in this process "
                                    "(default: in a warm worker process, so one model is in memory at a time)."),
    fresh_processes: bool = typer.Option(False, "--fresh-processes", help="A fresh process per train and eval "
                                         "task (default: warm workers that import torch once and run task "
                                         "after task; WORKBENCH_WORKER_MAX_RSS_MB bounds their memory)."),
    sanity: bool = typer.Option(False, "--sanity", help="Run each training's sanity generations (a few greedy "
                                "answers on held-out prompts; off in ablations, whose evals measure every run; "
                                "not part of the run id)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the task graph, what is cached, and a time estimate; run nothing."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every library's output (default: in a log file per task)."),
    executor: str = typer.Option("local", "--executor", help="local (one task at a time) or ray (tasks in "
                                 "parallel on Ray; needs the ray extra)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --executor ray: the cluster to use "
                                          "(default: start a local Ray instance)."),
    num_cpus: Optional[float] = typer.Option(None, "--num-cpus", min=0.01, help="CPU cores (= threads) per train "
                                             "and eval task (default: the spec's resources)."),
    num_gpus: Optional[float] = typer.Option(None, "--num-gpus", min=0, help="With --executor ray: GPUs per train "
                                             "and eval task (default: the spec's, else 1 on a cluster with GPUs)."),
    until_decided: bool = typer.Option(False, "--until-decided", help="Add seeds to the variants whose headline "
                                       "comparisons with the baseline are undecided, look after look (alpha "
                                       "spending), until each is decided or --budget is spent."),
    budget: Optional[str] = typer.Option(None, "--budget", help="With --until-decided: the time to spend, e.g. 90m "
                                         "(a round that cannot finish within it is not started)."),
    max_looks: int = typer.Option(4, "--max-looks", min=1, help="With --until-decided: the planned looks."),
    spending: str = typer.Option("pocock", "--spending", help="With --until-decided: alpha spending over the "
                                 "looks: pocock, obf (O'Brien-Fleming-type) or bonferroni."),
    memory_budget: Optional[str] = typer.Option(None, "--memory-budget", help="Memory a training may plan to "
                                                "use, e.g. 3GiB (default: what the machine has available). A "
                                                "train task planned over 85% of it trains a smaller micro-batch "
                                                "with more grad_accum (the same effective batch)."),
):
    """Build each variant's data, train each (variant x seed), evaluate every run and the base model."""
    from workbench.ablate import load_spec, make_executor, run_ablation
    from workbench.ablate.estimate import AFTER_TASKS_S, REPORT_S
    from workbench.core.progress import TaskBoard
    from workbench.core.progress import console as progress_console

    ws = workspace()
    if memory_budget is not None:  # read where train tasks are planned (workbench/ablate/memory.py)
        import os

        from workbench.ablate.memory import BUDGET_ENV, parse_size

        try:
            parse_size(memory_budget)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--memory-budget") from None
        os.environ[BUDGET_ENV] = memory_budget
    if dry_run:
        _dry_run(ws, spec)
        return
    loaded, spec_path = load_spec(spec), str(Path(spec).resolve())  # parsed once, for the resources and the run
    resources = loaded.resources.override(num_cpus, num_gpus)
    chosen = make_executor(executor, address=address, resources=resources, isolate=not in_process,
                           warm=not fresh_processes, sanity=sanity)
    tail_s = AFTER_TASKS_S + (0.0 if no_report else REPORT_S)  # the summary and report below, for the ETA
    if until_decided or budget:  # rounds of the runner, seeds added where undecided: one line per task
        result = _until_decided(ws, loaded, until_decided, budget, max_looks, spending, executor=chosen,
                                quiet=not verbose, tail_s=tail_s, spec_path=spec_path)
    elif executor == "local":
        result = run_ablation(ws, loaded, executor=chosen, quiet=not verbose, board=TaskBoard(), tail_s=tail_s,
                              spec_path=spec_path)
    else:  # tasks run concurrently in Ray workers, whose output Ray forwards: one line per finished task here
        result = run_ablation(ws, loaded, executor=chosen, tail_s=tail_s, spec_path=spec_path,
                              log=lambda msg: progress_console.print(msg, highlight=False, markup=False, soft_wrap=True))
    console.print(f"ablation [bold]{result.name}[/]: {result.n_new} steps run now, "
                  f"{len(result.outcomes) - result.n_new - len(result.failures)} cached, {len(result.failures)} failed")
    _summary(ws, result.name)
    if not no_report:
        from workbench.report import write_report

        html_path, md_path = write_report(ws, result.name, report_dir)
        console.print(f"report: {html_path}  {md_path}")
    if result.failures:
        for o in result.failures:
            console.print(f"[red]failed[/] {o.task.label}: {o.error}", highlight=False)
        console.print("fix the cause and run the same command again: finished steps are kept")
        raise typer.Exit(1)


def _until_decided(ws, spec, flag: bool, budget: Optional[str], max_looks: int, spending: str, **run_kw):
    from workbench.ablate.runner import AblationRun
    from workbench.ablate.sequential import SequentialPlan, parse_budget, until_decided
    from workbench.report.verdicts import headline_decisions
    from workbench.core.progress import console as progress_console

    if not (flag and budget):
        raise typer.BadParameter("--until-decided and --budget (e.g. 90m) go together", param_hint="--budget")
    try:
        plan = SequentialPlan(parse_budget(budget), max_looks, spending=spending)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--spending") from None
    seq = until_decided(ws, spec, plan, headline_decisions,
                        log=lambda msg: progress_console.print(msg, highlight=False, markup=False, soft_wrap=True),
                        **run_kw)
    return AblationRun(seq.name, [o for r in seq.runs for o in r.outcomes])


def _dry_run(ws, spec_path: Path) -> None:
    from workbench.ablate import prepare
    from workbench.ablate.estimate import AFTER_TASKS_S, REPORT_S, Estimator, plan
    from workbench.core.progress import fmt_s

    spec, _ = prepare(spec_path)
    from workbench.ablate.budget import train_fits
    from workbench.ablate.memory import describe

    tasks = plan(ws, spec)
    fits = train_fits(ws, spec)
    est = Estimator(tail_s=AFTER_TASKS_S + REPORT_S)
    rows = [[p.label, p.state, p.task_id or "(after its build/train)", fmt_s(est.task_s(p.work)) if p.work.prior_s else "",
             _peak(fits.get(p.key[1])) if p.key[0] == "train" else ""] for p in tasks]
    console.print(table(f"ablation {spec.name}: {len(tasks)} tasks", ["task", "state", "id", "estimate", "planned peak"],
                        rows))
    if fits:
        budget = next(iter(fits.values())).budget_mb
        console.print(f"memory budget {budget:,.0f} MiB (--memory-budget; default what is available); a train task "
                      f"planned over 85% of it trains a smaller micro-batch with more grad_accum", highlight=False)
        for name, f in fits.items():
            if f.changed:
                console.print(describe(f"train {name}", f) + (" (from max_length: the data is not built yet)"
                                                               if f.bound else ""),
                              highlight=False, markup=False, soft_wrap=True)
    todo = [p for p in tasks if p.state in ("to run", "waits")]
    console.print(f"{len(todo)} to run, {len(tasks) - len(todo)} already in the catalog; "
                  f"estimate ~{fmt_s(est.left([p.work for p in todo]))} on a 2-core CPU (refined while it runs)")
    from workbench.ablate.budget import coverage_lines

    for line in coverage_lines(ws, spec):  # what each variant's runs see of its rows, and of what it removed
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    from workbench.ablate.budget import curation_warnings
    from workbench.curate.sources import warning_line

    for w in curation_warnings(ws, spec.name):  # a curation step that hit one record source hard
        console.print(f"warning: variant {w['variant']}: " + warning_line(w), highlight=False, markup=False,
                      soft_wrap=True)
    try:  # the variants a strategy generated, where the strategies module exists
        from workbench.ablate.strategies import describe_strategies
    except ImportError:
        describe_strategies = None
    if describe_strategies is not None:
        for line in describe_strategies(spec, count="mix"):  # re-balanced mixtures: their tokens, counted
            console.print(line, highlight=False, markup=False, soft_wrap=True)


def _peak(f) -> str:
    """A train task's planned peak memory, and the micro-batch split that brings it within the budget."""
    if f is None:
        return ""
    text = f"{'<= ' if f.bound else ''}{f.original_peak_mb:,.0f} MiB"
    if f.changed:
        accum = f.batch_size * f.grad_accum // f.original_batch_size  # the config's own grad_accum
        text += (f" -> {f.peak_mb:,.0f} MiB: batch_size x grad_accum {f.original_batch_size} x {accum} "
                 f"-> {f.batch_size} x {f.grad_accum}")
    if f.bound:
        text += " (max_length; data not built yet)"
    return text


def _summary(ws, name: str) -> None:
    from workbench.report import fmt_delta, fmt_score, headline, report_data, sentences

    data = report_data(ws, name)
    rows = [[r["variant"], r["suite"], r["metric"], r["n"], fmt_score(r), fmt_delta(r)] for r in headline(data)]
    if rows:
        console.print(table(f"{name}: score, and delta vs {data.baseline} (seed-aware 95% CI)",
                            ["variant", "suite", "metric", "items", "score [95% CI]", f"delta vs {data.baseline} [95% CI]"],
                            rows))
        for line in sentences(data):
            console.print(f"- {line}", highlight=False, markup=False, soft_wrap=True)
    else:
        console.print("no eval results yet")


@app.command("new")
def new(
    name: str = typer.Argument(..., help="The ablation's name (also the file name: NAME.yaml)."),
    data: list[Path] = typer.Option(..., "--data", "-d", help="A data file; give one --data per variant."),
    recipe: Optional[Path] = typer.Option(None, "--recipe", "-r", help="Also a curated variant of all files with this recipe."),
    suites: Optional[str] = typer.Option(None, "--suites", "-s", help="Comma-separated eval suites (default: think_follow,semsim)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the spec (default NAME.yaml here)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Write a commented, ready-to-run spec: one variant per file, sizes for this machine (CPU or GPU)."""
    from workbench.ablate.scaffold import write_spec

    path = write_spec(out or Path(f"{name}.yaml"), name, [str(d) for d in data], str(recipe) if recipe else None,
                      [s.strip() for s in suites.split(",") if s.strip()] if suites else None, force=force)
    console.print(f"wrote {path}; next: workbench ablate {path} --dry-run", highlight=False)


@app.command("status")
def status(name: str = typer.Argument(..., help="The ablation's name (from its spec).")):
    """What is done, running, interrupted and failed."""
    from workbench.ablate import status as get_status

    st = get_status(workspace(), name)
    rows = [[t["label"], t["status"], t["task_id"], f"{t['wall_s']:.0f}" if t["wall_s"] is not None else "",
             t["output"].get("where") or "", (t["error"] or "").split("\n")[0][:120]] for t in st["tasks"]]
    console.print(table(f"ablation {name} ({st['spec_path'] or 'spec'})",
                        ["task", "status", "id", "wall s", "ran on", "error"], rows))
    console.print(", ".join(f"{k}: {v}" for k, v in st["counts"].items()))


@app.command("suggest-thresholds")
def suggest_thresholds(
    name: str = typer.Argument(..., help="The ablation's name (it has an `inject` strategy)."),
    tolerance: float = typer.Option(..., "--tolerance", help="The headline-metric drop you accept (metric units)."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Only this suite."),
):
    """Fit metric vs defect rate and print the rate at which the headline metric drops by the tolerance."""
    from workbench.ablate.thresholds import suggest_thresholds as suggest
    from workbench.report.gather import report_data

    if tolerance <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--tolerance")
    for t in suggest(report_data(workspace(), name), tolerance, suite):
        points = ", ".join(f"{r:g}: {d:+.4g} (se {s:.2g})" for r, d, s in t.points)
        console.print(f"{t.group} ({t.defect}) {t.text()}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"  measured (rate: improvement vs clean): {points}", highlight=False, markup=False,
                      soft_wrap=True)
