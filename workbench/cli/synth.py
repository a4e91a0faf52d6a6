"""`workbench synth VERSION --mode think|no_think|both`: generate reasoning / direct responses."""

from __future__ import annotations

from typing import Optional

import typer

from workbench.cli.common import DefaultGroup, console, table, workspace
from workbench.core.names import name_option

app = typer.Typer(cls=DefaultGroup, help="Generate /think and /no_think responses with distilabel and a local teacher.")


@app.command("run")
def run(
    version: str = typer.Argument(..., help="Version whose user turns are answered."),
    mode: str = typer.Option("both", help="think, no_think or both."),
    teacher: Optional[str] = typer.Option(None, help="Teacher model: bundled name, local dir or hub id (default: bundled SmolLM2)."),
    name: Optional[str] = typer.Option(None, "--name", "-n", callback=name_option, help="Name of the new version (default VERSION-MODE)."),
    temperature: float = typer.Option(0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0),
    max_new_tokens: int = typer.Option(512, help="Reasoning needs far more than 128."),
    num_generations: int = typer.Option(1),
    batch_size: int = typer.Option(8),
    empty_think_block: bool = typer.Option(True, "--empty-think-block/--no-empty-think-block",
                                           help="no_think answers carry an empty <think></think> block."),
    repair_think: bool = typer.Option(True, "--repair-think/--no-repair-think",
                                      help="Split think outputs without a closed think block into trace + "
                                           "last-paragraph answer (else drop them)."),
    check_answers: bool = typer.Option(False, help="Drop answers that disagree with a `#### N` reference."),
    limit: Optional[int] = typer.Option(None, help="Only the first N prompts."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every library's output (default: in a log file)."),
):
    """Answer the prompts of VERSION and save the responses as a new version."""
    from workbench.synth.think import synthesize

    settings = dict(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, num_generations=num_generations,
                    batch_size=batch_size, empty_think_block=empty_think_block,
                    repair_think=repair_think)
    from workbench.core.progress import command_output

    with command_output(workspace(), "synth", verbose):
        r = synthesize(workspace(), version, mode=mode, teacher=teacher, name=name, settings=settings,
                       check_answers=check_answers, limit=limit)
    console.print(f"[bold]{r.version.name}[/] {r.version.id}: kept {r.kept} "
                  f"(generated {r.generated} now, {r.cached} from cache)")
    if r.removed:
        console.print(table("dropped generations", ["reason", "count"], [[k, v] for k, v in r.removed.items()]))
