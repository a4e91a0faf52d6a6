"""`workbench train ...`: train a LoRA/QLoRA run on a dataset version; list, show and merge runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, table, workspace

app = typer.Typer(cls=DefaultGroup, help="Train an adapter per data variant; list, show and merge runs.",
                  no_args_is_help=False)


@app.command("run")
def run(
    data: str = typer.Option(..., "--data", "-d", help="Dataset version id, id prefix or name."),
    base: Optional[str] = typer.Option(None, "--base", "-b", help="Base model: bundled name, local directory or hub id (default: smollm2-135m-instruct)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Train config YAML (see examples/train.yaml)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (part of the run id)."),
    quant: str = typer.Option("auto", "--quant", help="auto (nf4 on CUDA, none on CPU), nf4 or none."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every library's output (default: in a log file)."),
):
    """Train (or find, or resume) the run for DATA on BASE with CONFIG and SEED."""
    from workbench.train import train
    from workbench.progress import command_output

    with command_output(workspace(), "train", verbose):
        r = train(workspace(), data, base, config, seed=seed, quant=quant)
    cat = workspace().catalog()
    row = cat.get_run(r.id)
    state = "reused (already finished)" if r.reused else ("resumed from " + r.resumed_from if r.resumed_from else "trained")
    console.print(f"[bold]run {r.id}[/] {state}; mode {row['mode']} ({row['mode_reason']})")
    console.print(f"adapter: {r.adapter_dir}")
    _figures(row)


def _figures(row: dict) -> None:
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    console.print(
        f"wall {fmt(row['wall_s'], '.1f')} s  tokens/s {fmt(row['tokens_per_s'], '.0f')}  peak mem {fmt(row['peak_mem_mb'], '.0f')} MB"
        f"  final loss {fmt(row['final_loss'], '.4f')}"
    )


@app.command("list")
def list_runs(data: Optional[str] = typer.Option(None, "--data", "-d", help="Only runs of this dataset version.")):
    """All training runs, oldest first."""
    cat = workspace().catalog()
    vid = cat.resolve_version(data)["id"] if data else None
    rows = cat.list_runs(vid)
    console.print(table("training runs", ["id", "version", "base", "mode", "seed", "status", "steps", "final loss", "tokens/s", "created"], [
        [r["id"], r["version_id"], r["base_model"], r["mode"], r["seed"], r["status"], (r["meta"] or {}).get("global_steps"),
         None if r["final_loss"] is None else f"{r['final_loss']:.4f}",
         None if r["tokens_per_s"] is None else f"{r['tokens_per_s']:.0f}", f"{r['created']:%Y-%m-%d %H:%M}"]
        for r in rows]))


@app.command("show")
def show(run_id: str = typer.Argument(..., help="Run id or unique prefix."),
         as_json: bool = typer.Option(False, "--json", help="Print the whole row as JSON.")):
    """One run: data, base model, mode, config, loss curve and sanity generations."""
    cat = workspace().catalog()
    r = cat.get_run(run_id)
    steps = cat.run_steps(r["id"])
    if as_json:
        print_json({**r, "steps": steps})
        return
    console.print(f"[bold]run {r['id']}[/] {r['status']}  data {r['version_id']}  base {r['base_model']}  seed {r['seed']}")
    console.print(f"mode {r['mode']}: {r['mode_reason']}")
    console.print(f"adapter {r['adapter_dir']}")
    if r["error"]:
        console.print(f"[red]error:[/] {r['error']}")
    _figures(r)
    console.print("config: " + ", ".join(f"{k}={v}" for k, v in sorted(r["config"].items())))
    if steps:
        shown = steps if len(steps) <= 12 else steps[:: max(1, len(steps) // 12)] + [steps[-1]]
        console.print(table("steps", ["step", "loss", "eval loss", "lr"], [
            [s["step"], None if s["loss"] is None else f"{s['loss']:.4f}",
             None if s["eval_loss"] is None else f"{s['eval_loss']:.4f}", None if s["lr"] is None else f"{s['lr']:.2e}"]
            for s in shown]))
    if r["sanity"]:
        console.print(table("sanity generations", ["mode", "prompt", "output", "stopped", "format ok"], [
            [g["mode"], g["prompt"][:60], g["output"][:200], g["stopped"], g["format_ok"]] for g in r["sanity"]]))


@app.command("merge")
def merge(run_id: str = typer.Argument(..., help="Run id or unique prefix."),
          out: Path = typer.Option(..., "--out", "-o", help="New directory for the merged model.")):
    """Merge a run's adapter into its base model: safetensors loadable by plain transformers."""
    from workbench.train import merge_run

    path = merge_run(workspace(), run_id, out)
    console.print(f"merged model written to {path}")
