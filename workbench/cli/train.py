"""`workbench train ...`: train a LoRA/QLoRA run on a dataset version; list, show and merge runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, print_json, table, workspace

METHOD_HELP = ("Training method: sft (conversations), dpo (preference pairs), grpo (prompt-only data), or one an "
               "installed package adds (`workbench train methods` lists them); default: the config's, else sft.")

app = typer.Typer(cls=DefaultGroup, help="Train an adapter per data variant; list, show and merge runs.",
                  no_args_is_help=False)


@app.command("run")
def run(
    data: str = typer.Option(..., "--data", "-d", help="Dataset version id, id prefix or name."),
    base: Optional[str] = typer.Option(None, "--base", "-b", help="Base model: bundled name, local directory or hub id (default: smollm2-135m-instruct)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Train config YAML (see examples/train.yaml)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (part of the run id)."),
    quant: str = typer.Option("auto", "--quant", help="auto (nf4 on CUDA, none on CPU), nf4 or none."),
    method: Optional[str] = typer.Option(None, "--method", "-m", help=METHOD_HELP),
    from_run: Optional[str] = typer.Option(None, "--from", help="Start from this finished run's adapter (e.g. SFT -> DPO); part of the run id."),
    auto_batch: bool = typer.Option(False, "--auto-batch", help="Use `train plan`'s batch size, grad_accum and "
                                    "checkpointing (same examples per step) to fit the memory available."),
    launcher: Optional[str] = typer.Option(None, "--launcher", help="accelerate: one run data-parallel across "
                                           "this machine's GPUs (or CPU processes, gloo)."),
    processes: Optional[int] = typer.Option(None, "--processes", help="Processes for --launcher (default: the GPUs, or 2)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every library's output (default: in a log file)."),
):
    """Train (or find, or resume) the run for DATA on BASE with CONFIG and SEED."""
    from workbench.train import train
    from workbench.core.progress import command_output
    from workbench.train.launch import default_processes, is_main, launch, launched

    if launcher and not launched():
        args = ["--data", data, "--seed", str(seed), "--quant", quant] + (["--base", base] if base else []) \
            + (["--config", str(config)] if config else []) + (["--auto-batch"] if auto_batch else []) \
            + (["--method", method] if method else []) + (["--from", from_run] if from_run else []) \
            + (["--verbose"] if verbose else [])
        raise typer.Exit(launch(args, processes or default_processes(), launcher))

    cfg = config
    if auto_batch:
        from workbench.train.config import TrainConfig
        from workbench.train.plan import apply_suggestion, plan

        cfg = TrainConfig.load(config).with_method(method)  # plan the method that trains
        mem = plan(workspace(), data, base, cfg, quant)
        cfg = apply_suggestion(cfg, mem)
        s = mem.suggestion
        console.print(f"auto batch: {s.batch_size} x grad_accum {s.grad_accum}"
                      f"{' with gradient checkpointing' if s.gradient_checkpointing else ''}: estimated peak "
                      f"{s.total_mb:,.0f} MiB of {mem.available_mb:,.0f} MiB available")
    with command_output(workspace(), "train", verbose):
        r = train(workspace(), data, base, cfg, seed=seed, quant=quant, method=method, init_run=from_run)
    if not is_main():
        return  # rank 0 reports
    cat = workspace().catalog()
    row = cat.get_run(r.id)
    state = "reused (already finished)" if r.reused else ("resumed from " + r.resumed_from if r.resumed_from else "trained")
    how = (row["meta"] or {}).get("method") or "sft"
    start = (row["meta"] or {}).get("init_run")
    console.print(f"[bold]run {r.id}[/] {how} {state}; mode {row['mode']} ({row['mode_reason']})"
                  + (f"; started from run {start}" if start else ""))
    console.print(f"adapter: {r.adapter_dir}")
    _figures(row)


def _figures(row: dict) -> None:
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    console.print(
        f"wall {fmt(row['wall_s'], '.1f')} s  tokens/s {fmt(row['tokens_per_s'], '.0f')}  peak mem {fmt(row['peak_mem_mb'], '.0f')} MB"
        f"  final loss {fmt(row['final_loss'], '.4f')}"
    )


@app.command("plan")
def plan_cmd(
    data: str = typer.Option(..., "--data", "-d", help="Dataset version id, id prefix or name."),
    base: Optional[str] = typer.Option(None, "--base", "-b", help="Base model (default: smollm2-135m-instruct)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Train config YAML."),
    quant: str = typer.Option("auto", "--quant", help="auto, nf4 or none (as for train)."),
    memory: Optional[float] = typer.Option(None, "--memory", help="MiB to plan for (default: RAM available now, or the GPU's VRAM)."),
    method: Optional[str] = typer.Option(None, "--method", "-m", help=METHOD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
):
    """Estimate peak memory of a run and how it splits; suggest a batch size and grad_accum that fit."""
    from workbench.train.config import TrainConfig
    from workbench.train.plan import plan

    p = plan(workspace(), data, base, TrainConfig.load(config).with_method(method), quant, memory)
    if as_json:
        print_json(p.as_dict())
        return
    ck = p.gradient_checkpointing
    pairs = " pairs (chosen + rejected: 2 sequences each)" if p.sequences_per_example == 2 else ""
    console.print(f"[bold]memory plan[/] {p.method}, {p.mode} on {p.device}: batch {p.batch_size}{pairs} "
                  f"x grad_accum {p.grad_accum}, "
                  f"peak sequence {p.seq_len} tokens, gradient checkpointing {'on' if ck else 'off'}")
    console.print(table(None, ["part", "MiB"], [
        ["runtime (libraries)", f"{p.runtime_mb:,.0f}"], [f"weights ({p.mode})", f"{p.weights_mb:,.0f}"],
        [f"LoRA: {p.lora_params / 1e6:.2f}M params + grads + AdamW", f"{p.lora_mb:,.0f}"],
        ["activations" + (" (used)" if not ck else ""), f"{p.activations_mb:,.0f}"],
        ["activations, gradient checkpointing" + (" (used)" if ck else ""), f"{p.activations_ckpt_mb:,.0f}"],
        ["[bold]estimated peak[/]", f"[bold]{p.total_mb:,.0f}[/]"], ["available", f"{p.available_mb:,.0f}"]]))
    s = p.suggestion
    if s is None:
        console.print("[red]nothing fits[/]: even batch 1 with gradient checkpointing is over the memory available")
    else:
        console.print(f"suggested: batch_size {s.batch_size}, grad_accum {s.grad_accum}, gradient_checkpointing "
                      f"{str(s.gradient_checkpointing).lower()} (~{s.total_mb:,.0f} MiB; --auto-batch on train uses it)")


@app.command("methods")
def methods(as_json: bool = typer.Option(False, "--json", help="Print them as JSON.")):
    """The training methods --method accepts: built in, and those installed packages add (entry points)."""
    from workbench.train.methods import METHODS

    if as_json:
        print_json([{"name": name, "kind": m.kind, "summary": m.summary, "section": m.section,
                     "source": METHODS.source(name)} for name, m in METHODS.items()])
        return
    console.print(table("training methods", ["name", "trains on", "what", "from"], [
        [name, m.kind, m.summary, METHODS.source(name)] for name, m in METHODS.items()]))


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
    meta = r["meta"] or {}
    if meta.get("method", "sft") != "sft" or meta.get("init_run"):
        console.print(f"method {meta.get('method', 'sft')}" + (f", started from run {meta['init_run']}" if meta.get("init_run") else "")
                      + (f", reference: {meta['reference']}" if meta.get("reference") else ""))
    if steps:
        shown = steps if len(steps) <= 12 else steps[:: max(1, len(steps) // 12)] + [steps[-1]]
        extra = sorted({k for s in shown for k in (s.get("metrics") or {}) if k.endswith("/mean") or k in _SHOWN})
        console.print(table("steps", ["step", "loss", "eval loss", "lr", *extra], [
            [s["step"], None if s["loss"] is None else f"{s['loss']:.4f}",
             None if s["eval_loss"] is None else f"{s['eval_loss']:.4f}", None if s["lr"] is None else f"{s['lr']:.2e}",
             *[None if (s.get("metrics") or {}).get(k) is None else f"{s['metrics'][k]:.3f}" for k in extra]]
            for s in shown]))
    if r["sanity"]:
        console.print(table("sanity generations", ["mode", "prompt", "output", "stopped", "format ok"], [
            [g["mode"], g["prompt"][:60], g["output"][:200], g["stopped"], g["format_ok"]] for g in r["sanity"]]))


_SHOWN = ("reward", "rewards/margins", "rewards/accuracies")  # besides every per-reward mean


@app.command("merge")
def merge(run_id: str = typer.Argument(..., help="Run id or unique prefix."),
          out: Path = typer.Option(..., "--out", "-o", help="New directory for the merged model.")):
    """Merge a run's adapter into its base model: safetensors loadable by plain transformers."""
    from workbench.train import merge_run

    path = merge_run(workspace(), run_id, out)
    console.print(f"merged model written to {path}")


@app.command("export")
def export(run_id: str = typer.Argument(..., help="Run id or unique prefix."),
           gguf: Path = typer.Option(..., "--gguf", help="The .gguf file to write (for llama.cpp, Ollama, LM Studio)."),
           quant: str = typer.Option("f16", "--quant", help="f16 or q8_0 (8-bit blocks of 32)."),
           ):
    """Merge a run's adapter into its base model and write it as one GGUF file (llama architecture)."""
    from workbench.train.gguf import export_run

    e = export_run(workspace(), run_id, gguf, quant)
    console.print(f"GGUF written to {e.path}: {e.quant}, {e.n_tensors} tensors, {e.n_params / 1e6:.1f}M parameters, "
                  f"{e.bytes / 2**20:.1f} MiB, tokenizer pre {e.tokenizer_pre}")
