"""`workbench data ...`: ingest, list, show, head, diff, lineage, export."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workbench.cli.common import console, table, workspace
from workbench.core.names import name_option

app = typer.Typer(help="Ingest and inspect versioned datasets.", no_args_is_help=True)


@app.command()
def ingest(
    source: str = typer.Argument(..., help="A JSONL/JSON/Parquet/CSV file, or a Hugging Face dataset id (online only)."),
    name: str = typer.Option(..., "--name", "-n", callback=name_option, help="Name for the dataset version."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Force a format (default: detect per row)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Send bad rows to a rejects file instead of stopping."),
    split: str = typer.Option("train", help="Split, for a hub dataset id."),
):
    """Read SOURCE, convert it to the record schema and register it as a version."""
    from workbench.data.ingest import ingest as do_ingest

    result = do_ingest(workspace(), source, name, fmt=format, skip_invalid=skip_invalid, split=split)
    v = result.version
    state = "registered" if v.created else "already registered (same content), nothing written"
    console.print(f"[bold]{v.name}[/] {v.id}: {v.n_rows} records {state}")
    console.print("formats: " + ", ".join(f"{k}={n}" for k, n in result.formats.items()))
    if result.n_rejected:
        console.print(f"[yellow]{result.n_rejected} rows rejected[/], reasons in {result.rejects_path}")


@app.command("list")
def list_versions():
    """All dataset versions, oldest first."""
    rows = workspace().catalog().list_versions()
    console.print(
        table(
            "dataset versions",
            ["id", "name", "operation", "rows", "tokens", "created"],
            [[r["id"], r["name"], r["operation"], r["n_rows"], r["stats"].get("tokens"), f"{r['created']:%Y-%m-%d %H:%M}"] for r in rows],
        )
    )


@app.command()
def show(
    version: str = typer.Argument(..., help="Version id, id prefix or name."),
    tokenizer: Optional[str] = typer.Option(None, help="Recount tokens with this tokenizer (name, path or hub id)."),
):
    """Statistics of a version: rows, turns, tokens, by source and reasoning mode."""
    from workbench.data.profile import profile
    from workbench.data.store import load_records

    ws = workspace()
    v = ws.catalog().resolve_version(version)
    stats = profile(load_records(ws, v["id"]), tokenizer) if tokenizer else v["stats"]
    kind = stats.get("kind", "sft")
    console.print(f"[bold]{v['name']}[/] {v['id']}  ({v['operation']}, {v['created']:%Y-%m-%d %H:%M})"
                  + ("" if kind == "sft" else f"  [bold]{kind}[/] records"))
    console.print(
        f"rows {stats['rows']}  turns {stats['turns']} (mean {stats['mean_turns']})  chars {stats['chars']}"
        + (f"  tokens {stats['tokens']} (mean {stats['mean_tokens']}, {stats['tokenizer']})" if stats.get("tokens") is not None else "")
    )
    for key, title in (("by_source", "by source"), ("by_mode", "by reasoning mode")):
        rows = [[k, s["rows"], s["turns"], s.get("tokens"), s.get("mean_tokens")] for k, s in stats[key].items()]
        console.print(table(title, [title.split()[-1], "rows", "turns", "tokens", "mean tokens"], rows))
    removed = ws.catalog().removal_summary(v["id"])
    if removed:
        console.print(table("removed on the way here", ["step", "reason", "records"], [[r["step"], r["reason"], r["n"]] for r in removed]))


@app.command()
def head(
    version: str = typer.Argument(..., help="Version id, id prefix or name."),
    n: int = typer.Option(5, "-n", help="How many records."),
    width: int = typer.Option(300, help="Truncate each message to this many characters."),
):
    """The first N records of a version."""
    from workbench.data.store import load_records

    for r in load_records(workspace(), version)[:n]:
        mode = f" [{r.reasoning_mode}]" if r.reasoning_mode else ""
        console.rule(f"{r.id}  source={r.source}{mode}")
        for m in r.messages:
            text = m["content"] if len(m["content"]) <= width else m["content"][:width] + " …"
            console.print(f"[bold cyan]{m['role']}:[/] ", end="")
            console.print(text, highlight=False, markup=False)
        if r.rejected is not None:
            text = r.rejected if len(r.rejected) <= width else r.rejected[:width] + " …"
            console.print("[bold red]rejected:[/] ", end="")
            console.print(text, highlight=False, markup=False)


@app.command()
def diff(a: str = typer.Argument(...), b: str = typer.Argument(...), show_ids: int = typer.Option(10, help="Ids to list per side.")):
    """Records added and removed from version A to version B, and stat deltas."""
    from workbench.data.diff import diff_versions

    d = diff_versions(workspace(), a, b)
    console.print(f"{d.a} → {d.b}: [green]+{len(d.added)}[/] added, [red]-{len(d.removed)}[/] removed, {d.common} in both")
    console.print(table("stats", ["stat", "A", "B", "B - A"], [[k, *v] for k, v in d.stat_deltas.items()]))
    if d.added:
        console.print("added: " + ", ".join(d.added[:show_ids]) + (" …" if len(d.added) > show_ids else ""))
    if d.removed:
        console.print("removed: " + ", ".join(d.removed[:show_ids]) + (" …" if len(d.removed) > show_ids else ""))


@app.command()
def lineage(version: str = typer.Argument(..., help="Version id, id prefix or name.")):
    """How a version was made: every edge from the sources down to it."""
    cat = workspace().catalog()
    v = cat.resolve_version(version)
    names = {r["id"]: r["name"] for r in cat.list_versions()}
    edges = cat.lineage(v["id"])
    if not edges:
        console.print(f"{v['name']} {v['id']} is a root ({v['operation']} of {v['meta'].get('input', '?')})")
        return
    for e in edges:
        params = e["params"] or {}
        summary = ", ".join(f"{k}={params[k]}" for k in list(params)[:4]) if isinstance(params, dict) else str(params)
        console.print(
            f"{names.get(e['parent'], '?')} {e['parent']} ──{e['operation']}──▶ {names.get(e['child'], '?')} {e['child']}  {summary}",
            highlight=False,
        )
    removed = cat.removal_summary(v["id"])
    if removed:
        console.print(table("removed by the last step", ["step", "reason", "records"], [[r["step"], r["reason"], r["n"]] for r in removed]))


@app.command()
def export(
    version: str = typer.Argument(..., help="Version id, id prefix or name."),
    path: Path = typer.Argument(..., help="Output .jsonl or .parquet (messages format)."),
    card: bool = typer.Option(True, "--card/--no-card", help="Also write the dataset card (README.md) beside it."),
):
    """Write a version out in messages format, with a Hugging Face dataset card: the folder loads with
    `datasets.load_dataset(FOLDER)`."""
    from workbench.data.card import card_target, write_card
    from workbench.data.store import export_version
    from workbench.report.verdicts import version_verdicts

    ws = workspace()
    if card:
        card_target(path)  # refuse before writing anything
    out = export_version(ws, version, path)
    console.print(f"wrote {out}")
    if card:
        console.print(f"wrote {write_card(ws, version, out, version_verdicts(ws, version))}")
