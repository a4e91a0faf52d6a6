"""`workbench mix --spec mix.yaml`: token- or example-balanced mixtures of versions."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.common import DefaultGroup, console, table, workspace

app = typer.Typer(cls=DefaultGroup, help="Build mixtures of dataset versions, balanced by tokens or examples.")


def print_composition(title: str, rows: list[dict]) -> None:
    console.print(table(
        title,
        ["source", "mode", "# examples", "% examples", "# tokens", "% tokens", "avg tokens", "avg turns"],
        [[r["source"], r["reasoning_mode"], r["examples"], r["pct_examples"], r["tokens"], r["pct_tokens"],
          r["avg_tokens"], r["avg_turns"]] for r in rows],
    ))


@app.command("run")
def run(spec: Path = typer.Option(..., "--spec", "-s", help="Mixture YAML (one mixture or `variants: [...]`).")):
    """Build every mixture in SPEC and print its composition."""
    from workbench.synth.mix import build_mixture, load_mix_spec

    ws = workspace()
    for variant in load_mix_spec(spec):
        r = build_mixture(ws, variant)
        state = "new" if r.version.created else "existing (same content)"
        console.print(f"[bold]{r.version.name}[/] {r.version.id}: {r.version.n_rows} records, {state}")
        print_composition(f"composition of {r.version.name}", r.composition)
        for s in r.sampling:
            console.print(f"  {s['source']}: selected {s['selected_records']} of {s['available_records']} records "
                          f"({s['repeated_records']} repeats, {s['dropped_records']} not sampled)")
