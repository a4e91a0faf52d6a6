"""`workbench eval MODEL|RUN --suites a,b --layer smoke|core`, plus suite listing and making."""

from __future__ import annotations

from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, table, workspace

app = typer.Typer(cls=DefaultGroup, help="Score a model or training run on eval suites (cached).", no_args_is_help=True)


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _metrics(metrics: dict, directions: dict) -> str:
    """name=value per metric, with a down arrow where lower is better (bits_per_byte)."""
    from workbench.evals.scoring import higher_is_better

    return ", ".join(f"{k}{'' if higher_is_better(k, directions) else '↓'}={_fmt(v)}" for k, v in metrics.items())


@app.command("run")
def run(
    model: str = typer.Argument(..., help="Training run id, bundled model name, local model dir or hub id."),
    suites: Optional[str] = typer.Option(None, "--suites", "-s", help="Comma-separated suite names (default: all)."),
    layer: str = typer.Option("smoke", "--layer", "-l", help="smoke (about 30 items per suite) or core (all)."),
    batch_size: int = typer.Option(16, "--batch-size", "-b", help="Prompts generated together."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N items of each suite."),
    max_gen_toks: Optional[int] = typer.Option(None, "--max-gen-toks", help="Cap generated tokens (default: per suite)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="auto (vLLM on CUDA when installed, else HF), hf or vllm; "
                                          "default $WORKBENCH_GEN_BACKEND or auto. Part of the cache key."),
    checkpoints: Optional[int] = typer.Option(None, "--checkpoints", help="Average likelihood metrics over the run's "
                                              "last K adapters (default: all it kept with keep_adapters; 1: the final one)."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every library's output (default: in a log file)."),
):
    """Evaluate MODEL (or a training RUN) on suites; results already in the catalog are reused."""
    from workbench.evals.runner import evaluate
    from workbench.core.progress import command_output

    with command_output(workspace(), "eval", verbose):
        results = evaluate(workspace(), model, suites=suites, layer=layer, batch_size=batch_size, limit=limit,
                           max_gen_toks=max_gen_toks, backend=backend, checkpoints=checkpoints)
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    rows = []
    for r in results:
        metrics = _metrics(r.metrics, r.higher_is_better)
        rows.append([r.suite, r.n_items, metrics, "cached" if r.cached else f"{r.wall_s:.1f}s",
                     f"{r.tokens_per_s:.0f}" if not r.cached else ""])
    console.print(table(f"{model} [{layer}] ({results[0].model_key if results else ''})",
                        ["suite", "items", "metrics", "time", "gen tok/s"], rows))


@app.command("suites")
def list_suites():
    """The suites found under evalsuites/ (and WORKBENCH_SUITES) with their layers and sizes."""
    from workbench.evals.suites import discover

    rows = []
    for name, s in sorted(discover().items()):
        sizes = ", ".join(f"{layer}={len(s.rows(layer))}" for layer in s.tasks)
        rows.append([name, sizes, s.primary_metric, str(s.dir)])
    console.print(table("eval suites", ["suite", "items", "primary metric", "folder"], rows))


@app.command("make-suite")
def make_suite(
    name: str = typer.Argument(..., help="Name of the new suite (folder and lm-eval task name)."),
    template: str = typer.Option(..., "--from", help="Suite to copy the prompt and scoring from, e.g. semsim."),
    data: str = typer.Option(..., "--data", help="JSONL with the template's fields (e.g. prompt + reference)."),
    dest: Optional[str] = typer.Option(None, "--dest", help="Folder to create it in (default: next to the template)."),
    force: bool = typer.Option(False, "--force", help="Allow a name that shadows an lm-eval built-in task."),
    max_gen_toks: Optional[int] = typer.Option(None, "--max-gen-toks",
                                               help="Generation cap of the new suite (official IFEval: 1280)."),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt", help="System prompt for every item."),
    no_chat_template: bool = typer.Option(False, "--no-chat-template", help="Send prompts without the chat template."),
):
    """Make a suite from a JSONL: official IFEval (--from ifeval_style), GSM8K (--from gsm_style), prompt/reference (--from semsim)."""
    from workbench.evals.suites import make_suite as do_make

    s = do_make(name, template, data, dest=dest, force=force, max_gen_toks=max_gen_toks, system_prompt=system_prompt,
                chat_template=False if no_chat_template else None)
    console.print(f"suite [bold]{s.name}[/] in {s.dir}: " + ", ".join(f"{l}={len(s.rows(l))} items" for l in s.tasks))


@app.command("heldout")
def heldout(
    version: str = typer.Argument(..., help="Dataset version (id, prefix or name) to hold rows out of."),
    rows: int = typer.Option(500, "--rows", help="How many single-turn rows to hold out."),
    name: str = typer.Option(..., "--name", help="Name of the held-out suite (a folder in WORKBENCH_HOME/evalsuites)."),
    dest: Optional[str] = typer.Option(None, "--dest", help="Folder to write the suite in instead."),
    train_name: Optional[str] = typer.Option(None, "--train-name", help="Name of the version without the held-out rows."),
):
    """Hold rows of a version out as a likelihood-only suite (bits per byte of each answer), and save the rest as the version to train on."""
    from workbench.evals.heldout import make_heldout

    h = make_heldout(workspace(), version, rows, name, dest=dest, train_name=train_name)
    skipped = f" ({h.skipped_multiturn} multi-turn rows not eligible, kept for training)" if h.skipped_multiturn else ""
    console.print(f"suite [bold]{h.suite.name}[/] in {h.suite.dir}: {h.n_heldout} held-out rows{skipped}\n"
                  f"train on version [bold]{h.train_name}[/] ({h.train_version}, {h.n_train} rows): it leaves them out; "
                  f"a run trained on any of them is refused by this suite")


@app.command("results")
def results(model: Optional[str] = typer.Argument(None, help="Model key, model name or run id (default: all).")):
    """Stored suite results."""
    rows = workspace().catalog().eval_results(model)
    console.print(table("eval results", ["target", "model key", "suite", "layer", "items", "metrics", "created"],
                        [[r["target"], r["model_key"], r["suite"], r["layer"], r["n_items"],
                          _metrics(r["metrics"], r["higher_is_better"]),
                          f"{r['created']:%Y-%m-%d %H:%M}"] for r in rows]))
