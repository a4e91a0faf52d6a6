"""`workbench curate ...`: run a curation recipe, see its per-step report and dedup clusters; calibrate a
recipe's filter thresholds on a sample of known-clean rows."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.common import DefaultGroup, console, table, workspace
from workbench.core.names import name_option

app = typer.Typer(cls=DefaultGroup, help="Curate a dataset version with a recipe; see what each step removed.")


def _summary_rows(summary: list[dict]) -> list[list]:
    return [
        [s["step"], s["in"], s["kept"], s["dropped"], s["flagged"] or "",
         ", ".join(f"{r} ({n})" for r, n in s["top_reasons"])]
        for s in summary
    ]


SUMMARY_COLUMNS = ["step", "in", "kept", "dropped", "flagged", "top reasons"]


def _source_report(ws, parent: str, removals: list[dict], warn_share: float) -> dict:
    from workbench.curate.sources import source_report
    from workbench.data.store import load_records

    return source_report(load_records(ws, parent), removals, warn_share=warn_share)


def _print_sources(report: dict) -> None:
    """Removal rates per record source and step; then each warning with its example rows."""
    from rich.markup import escape

    from workbench.curate.sources import warning_line

    steps, sources = report["steps"], report["sources"]
    if len(sources) > 1 and steps:
        rows = [[src, v["rows"], f"{v['removed']} ({v['removed'] / v['rows']:.1%})"]
                + [f"{v['by_step'].get(s, 0) / v['rows']:.1%}" if v["by_step"].get(s) else "" for s in steps]
                for src, v in sources.items()]
        console.print(table("removal rate per source and step", ["source", "rows", "removed", *steps], rows))
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning_line(w))}", highlight=False)
        for ex in w["examples"]:
            console.print(f"  {ex['record_id']} {escape(ex['reason'])} {escape(ex['detail'] or '')}: "
                          f"{escape(ex['text'][:200])}", highlight=False)


def _print_json(payload: dict) -> None:
    import json

    typer.echo(json.dumps(payload, indent=2, default=str, ensure_ascii=False))


WARN_SHARE = typer.Option(0.05, "--warn-share", min=0, max=1,
                          help="Warn when one step removes more than this share of one source's rows (and <= 2% elsewhere).")
JSON = typer.Option(False, "--json", help="Print the summary, per-source removal rates and warnings as JSON.")


def _print_reports(steps: list[dict]) -> None:
    for s in steps:
        suites = (s.get("report") or {}).get("suites")
        if suites:
            rows = [[name, v["items"], v["records_hit"], v["examples"][0]["ngram"] if v["examples"] else ""]
                    for name, v in sorted(suites.items())]
            console.print(table(f"{s['step']}: eval suites", ["suite", "items", "records hit", "example n-gram"], rows))


@app.command("run")
def run(
    version: str = typer.Argument(..., help="Version id, id prefix or name to curate."),
    recipe: Path = typer.Option(None, "--recipe", "-r", help="Recipe YAML (default: examples/recipes/default.yaml)."),
    name: str = typer.Option(..., "--name", "-n", callback=name_option, help="Name for the curated version."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Do not stop when every record would be dropped."),
    warn_share: float = WARN_SHARE,
    as_json: bool = JSON,
):
    """Run RECIPE on VERSION and register the kept records as a new version."""
    from workbench.curate.recipe import DEFAULT_RECIPE, curate

    ws = workspace()
    result = curate(ws, version, recipe or DEFAULT_RECIPE, name, allow_empty=allow_empty)
    sources = _source_report(ws, result.parent, result.removals, warn_share)
    if as_json:
        v = result.version
        _print_json({"version": v.id if v else None, "name": v.name if v else None, "parent": result.parent,
                     "recipe": result.recipe.name, "kept": v.n_rows if v else 0, "removed": len(result.removals),
                     "summary": result.summary, **sources})
        return
    console.print(table(f"recipe {result.recipe.name} on {result.parent}", SUMMARY_COLUMNS, _summary_rows(result.summary)))
    _print_reports(result.summary)
    _print_sources(sources)
    v = result.version
    if v is None:
        console.print("[yellow]every record was dropped[/]: no version written (--allow-empty)")
        return
    if v.id == result.parent:
        console.print(f"nothing dropped: {v.name} {v.id} is unchanged ({v.n_rows} records)")
        return
    state = "registered" if v.created else "already registered (same content)"
    console.print(f"[bold]{v.name}[/] {v.id}: {v.n_rows} records {state}; {len(result.removals)} removed "
                  f"(see `workbench curate report {v.name}`), {len(result.clusters)} dedup clusters")


@app.command()
def report(
    version: str = typer.Argument(..., help="A curated version (id, prefix or name)."),
    removals: int = typer.Option(0, "--removals", help="Also list this many removal rows."),
    sample: str = typer.Option(None, "--sample", help="Print removed records for this reason (a reason, a prefix "
                                                       "such as `pii`, a step name, or `all`)."),
    n: int = typer.Option(3, "-n", min=1, help="With --sample: records shown per reason."),
    width: int = typer.Option(300, help="With --sample: characters shown of each message."),
    warn_share: float = WARN_SHARE,
    as_json: bool = JSON,
):
    """The per-step summary of the curation that made VERSION, and what it removed."""
    ws = workspace()
    cat = ws.catalog()
    v = cat.resolve_version(version)
    steps = cat.curation_steps(v["id"])
    if not steps:
        console.print(f"{v['name']} {v['id']} was not made by `workbench curate` ({v['operation']})")
        raise typer.Exit(1)
    sources = _source_report(ws, steps[0]["parent"], cat.removals(v["id"]), warn_share)
    if as_json:
        _print_json({"version": v["id"], "name": v["name"], "parent": steps[0]["parent"],
                     "summary": steps, "removals_by_reason": cat.removal_summary(v["id"]), **sources})
        return
    console.print(table(f"curation of {steps[0]['parent']} -> {v['name']} {v['id']}", SUMMARY_COLUMNS,
                        _summary_rows([{**s, "in": s["n_in"]} for s in steps])))
    _print_reports(steps)
    summary = cat.removal_summary(v["id"])
    console.print(table("removals by reason", ["step", "reason", "records"], [[r["step"], r["reason"], r["n"]] for r in summary]))
    _print_sources(sources)
    flags = cat.curation_flags(v["id"])
    if flags:
        console.print(table("flagged (kept)", ["record", "step", "reason", "detail"],
                            [[f["record_id"], f["step"], f["reason"], f["detail"]] for f in flags[:50]]))
    if removals:
        rows = cat.removals(v["id"])[:removals]
        console.print(table("removals", ["record", "step", "reason", "detail"],
                            [[r["record_id"], r["step"], r["reason"], r["detail"]] for r in rows]))
    if sample:
        _print_sample(cat, v, sample, n, width)


def _print_sample(cat, v: dict, reason: str, n: int, width: int) -> None:
    """The removed records themselves (from the parent version), a few per reason."""
    from rich.markup import escape

    from workbench.curate.text import short
    from workbench.data.store import load_records

    rows = cat.removal_sample(v["id"], reason, n)
    if not rows:
        known = sorted({r["reason"] for r in cat.removal_summary(v["id"])})
        console.print(f"[yellow]no removals for {reason!r}[/] in {v['name']} {v['id']} (reasons: {', '.join(known)})")
        raise typer.Exit(1)
    ws = workspace()
    by_id = {}
    for parent in sorted({r["parent"] for r in rows if r["parent"]}):
        wanted = {r["record_id"] for r in rows}
        by_id.update({rec.id: rec for rec in load_records(ws, parent) if rec.id in wanted})
    last = None
    for r in rows:
        if (r["step"], r["reason"]) != last:
            last = (r["step"], r["reason"])
            console.rule(f"{r['step']}: {r['reason']}")
        console.print(f"[bold]{r['record_id']}[/]  {escape(r['detail'] or '')}", highlight=False)
        rec = by_id.get(r["record_id"])
        if rec is None:
            console.print("  (record not found in the parent version)")
            continue
        for m in rec.messages:
            console.print(f"  [dim]{m['role']}:[/] " + escape(short(m["content"], width)), highlight=False)


@app.command()
def clusters(
    version: str = typer.Argument(..., help="A curated version (id, prefix or name)."),
    limit: int = typer.Option(10, "-n", help="How many clusters, largest first."),
    step: str = typer.Option(None, help="Only clusters from this step (exact_dedup, minhash_dedup, embedding_dedup)."),
    width: int = typer.Option(60, help="Characters of each member's text."),
):
    """The largest dedup clusters of VERSION: members side by side with their similarity to the kept one."""
    cat = workspace().catalog()
    v = cat.resolve_version(version)
    found = cat.dedup_clusters(v["id"], limit=limit, step=step)
    if not found:
        console.print(f"no dedup clusters recorded for {v['name']} {v['id']}")
        return
    console.print(f"{cat.dedup_cluster_count(v['id'])} clusters in {v['name']} {v['id']}; the {len(found)} largest:")
    for c in found:
        members = c["members"]
        t = table(f"{c['step']} cluster {c['cluster_id']} ({c['size']} records, {c['measure']})",
                  [("kept " if m["kept"] else "dropped ") + m["record_id"] + f" ({m['similarity']:.2f})" for m in members],
                  [[m["text"][:width] for m in members]])
        console.print(t)


@app.command()
def calibrate(
    version: str = typer.Argument(..., help="The version the fitted recipe is for: its rows dropped by the recipe "
                                            "and by the fitted one are shown side by side."),
    clean: Path = typer.Option(..., "--clean", help="Known-clean rows (any format `workbench ingest` reads)."),
    max_drop: float = typer.Option(0.01, "--max-drop", min=0, max=0.99,
                                   help="Share of the clean rows the fitted recipe may drop."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the fitted recipe (YAML)."),
    recipe: Path = typer.Option(None, "--recipe", "-r", help="Recipe to fit (default: examples/recipes/default.yaml)."),
    tighten: bool = typer.Option(False, "--tighten", help="Also tighten rules that drop fewer clean rows than their "
                                                          "share (default: those keep the recipe's value)."),
    as_json: bool = typer.Option(False, "--json", help="Print the fitted values and the preview as JSON."),
):
    """Fit each filter threshold of a recipe so that at most --max-drop of the --clean rows are dropped.

    The budget is split evenly between the rules that drop clean rows (see workbench/curate/calibrate.py);
    the recipe written to --out gives each value's source in a comment."""
    from workbench.curate.calibrate import calibrate as fit, to_yaml
    from workbench.curate.recipe import DEFAULT_RECIPE, run_steps
    from workbench.data.store import load_records

    ws = workspace()
    parent = ws.catalog().resolve_version(version)["id"]
    cal = fit(recipe or DEFAULT_RECIPE, clean, max_drop, tighten=tighten)
    records = load_records(ws, parent)
    before, after = (run_steps(records, r, parent).summary for r in (cal.recipe, cal.fitted_recipe))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(to_yaml(cal), encoding="utf-8")
    tmp.replace(out)
    preview = [{"step": b["step"], "dropped": b["dropped"], "dropped_fitted": a["dropped"]} for b, a in zip(before, after)]
    if as_json:
        _print_json({"recipe": cal.recipe.name, "sample": str(clean), "rows": cal.n, "max_drop": max_drop,
                     "budget": cal.budget, "other_steps": cal.other_drops, "values": [f.to_dict() for f in cal.values],
                     "version": parent, "preview": preview, "out": str(out)})
        return
    changed = [f for f in cal.values if f.new != f.old]
    rows = [[f"{f.step_name}.{f.param}", f.old, f.new, f.judged, f"{f.drops_old} -> {f.drops_new}"] for f in changed]
    console.print(table(f"{len(changed)} of {len(cal.values)} thresholds fitted on {clean} ({cal.n} clean rows, "
                        f"budget {cal.budget})", ["rule", "recipe", "fitted", "judged", "clean rows dropped"], rows))
    console.print(table(f"on {version} {parent} ({len(records)} rows)", ["step", "dropped (recipe)", "dropped (fitted)"],
                        [[p["step"], p["dropped"], p["dropped_fitted"]] for p in preview]))
    console.print(f"wrote {out}: `workbench curate run {version} --recipe {out} --name NAME` curates with it")
