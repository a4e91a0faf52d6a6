"""Small read-only views for the Streamlit app (app.py): item-by-item comparison of two runs,
lineage, removals, near-duplicate clusters and mixture composition per variant, and the
strategies' verdict tables with their dose-response figures. The decisions they show are the
engine's (`workbench.evals.engine.Decision`), formatted, never re-decided."""

from __future__ import annotations

from workbench.ablate.outputs import BuildStep
from workbench.evals.engine import Directions
from workbench.report.gather import ReportData, eval_items, result_id
from workbench.report.verdicts import fmt_row
from workbench.core.workspace import Workspace


def target_label(t: dict) -> str:
    return t["variant"] + ("" if t["seed"] is None else f" · seed {t['seed']}")


def item_diff(ws: Workspace, name: str, target_a: str, target_b: str, suite: str, metric: str | None = None) -> list[dict]:
    """Per-item comparison of two evaluated targets on one suite: prompt, both responses, scores.
    `outcome` follows each metric's direction as stored with the results (a lower bits per byte
    wins), the engine's `Directions`."""
    cat = ws.catalog(reader=True)
    ra, rb = result_id(ws, name, target_a, suite), result_id(ws, name, target_b, suite)
    if ra is None or rb is None:
        return []
    a, b = eval_items(cat, ra), eval_items(cat, rb)
    found = cat.get_eval_results([ra, rb])
    better = Directions([r for r in (found.get(ra), found.get(rb)) if r is not None])
    rows = []
    for k in sorted(set(a) & set(b)):
        metrics = [metric] if metric else sorted(set(a[k]["scores"]) | set(b[k]["scores"]))
        for m in metrics:
            sa, sb = a[k]["scores"].get(m), b[k]["scores"].get(m)
            if sa is None or sb is None:
                continue
            gain = (sb - sa) if better(suite, m) else (sa - sb)
            rows.append({"item_id": k, "metric": m, "score_a": sa, "score_b": sb, "diff": sb - sa,
                         "outcome": "B wins" if gain > 0 else ("A wins" if gain < 0 else "tie"),
                         "prompt": a[k]["prompt"], "response_a": a[k]["response"], "response_b": b[k]["response"]})
    return rows


def decision_view(data: ReportData, kind: str = "variant") -> list[dict]:
    """The Leaderboard's decision rows (headline metrics; kind "variant" or "control"): B - A, its
    interval, adjusted p, the verdict and its colour (green better in the metric's direction, red
    worse, "" noise), all as the engine decided them."""
    return [{"A": c.a, "B": c.b, "suite": c.suite, "metric": c.metric, "direction": c.direction,
             "B - A": f"{c.delta:+.3f}", "95% CI": fmt_row(c), "p adj": c.p_adjusted, "verdict": c.verdict,
             "colour": c.colour} for c in data.comparisons if c.headline and c.kind == kind]


def variant_versions(data: ReportData) -> dict[str, list[BuildStep]]:
    """variant -> its build steps (each with a version id)."""
    return {v["name"]: list(v["steps"]) for v in data.variants}


def lineage_dot(ws: Workspace, data: ReportData) -> str:
    """A Graphviz DOT graph of every version the variants were built from (sources to variant)."""
    cat = ws.catalog(reader=True)
    names = {r["id"]: r for r in cat.list_versions()}
    edges, nodes = set(), set()
    finals = {v["version"]: v["name"] for v in data.variants if v["version"]}
    for version in finals:
        for e in cat.lineage(version):
            if e["parent"] is None:
                continue
            edges.add((e["parent"], e["child"], e["operation"]))
            nodes.update((e["parent"], e["child"]))
        nodes.add(version)
    lines = ["digraph lineage {", "rankdir=LR;", 'node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontsize=10];']
    for n in sorted(nodes):
        row = names.get(n, {})
        label = f"{row.get('name', '?')}\\n{n[:10]} · {row.get('n_rows', '?')} rows"
        extra = f', fillcolor="#d8e9f7", penwidth=2, xlabel="{finals[n]}"' if n in finals else ""
        lines.append(f'"{n}" [label="{label}"{extra}];')
    for p, c, op in sorted(edges):
        lines.append(f'"{p}" -> "{c}" [label="{op}", fontsize=9];')
    lines.append("}")
    return "\n".join(lines)


def removals_by_reason(ws: Workspace, data: ReportData) -> list[dict]:
    """variant, step, reason, records removed, over every version on the variant's path."""
    cat = ws.catalog(reader=True)
    out = []
    for v in data.variants:
        if not v["version"]:
            continue
        chain = {e["child"] for e in cat.lineage(v["version"])} | {v["version"]}
        for version in sorted(chain):
            for r in cat.removal_summary(version):
                out.append({"variant": v["name"], "version": version, "step": r["step"], "reason": r["reason"], "n": r["n"]})
    return out


def cluster_examples(ws: Workspace, data: ReportData, limit: int = 5) -> list[dict]:
    """The largest near-duplicate clusters found while curating each variant: kept text vs dropped."""
    cat = ws.catalog(reader=True)
    out = []
    for v in data.variants:
        for s in v["steps"]:
            if s.step != "curate":
                continue
            for c in cat.dedup_clusters(s.version, limit=limit):
                members = c["members"]  # the kept one first
                kept = next((m for m in members if m["kept"]), members[0])
                dropped = [m for m in members if m is not kept]
                out.append({"variant": v["name"], "step": c["step"], "cluster": c["cluster_id"],
                            "size": c["size"], "kept": (kept["text"] or "")[:300],
                            "dropped": " | ".join((m["text"] or "")[:200] for m in dropped[:3]),
                            "similarity": max((m["similarity"] or 0.0 for m in dropped), default=None)})
    return out


def compositions(data: ReportData) -> list[dict]:
    """Mixture composition rows per variant (from the build step's typed output)."""
    out = []
    for v in data.variants:
        comps = [c for s in v["steps"] for c in (s.composition or [])]
        out += [{"variant": v["name"], **c.to_dict()} for c in comps]
        if v["version"] and not comps:
            out.append({"variant": v["name"], "source": "(single source)", "examples": v["n_rows"]})
    return out


def smoothed(values: list[float], alpha: float = 0.3) -> list[float]:
    """Exponential moving average (alpha: weight of the newest value), as TensorBoard draws a noisy loss."""
    out: list[float] = []
    for v in values:
        out.append(v if not out else alpha * v + (1 - alpha) * out[-1])
    return out


def validation_curves(data: ReportData, alpha: float = 0.3) -> list[dict]:
    """Rows (run, step, series, loss) for each run and seed: its smoothed training loss and its
    held-out eval loss at eval_steps. Runs without a held-out split give training rows only."""
    rows = []
    for r in data.runs:
        label = f"{r['variant']} seed {r['seed']}"
        train = r.get("loss") or []
        for p, v in zip(train, smoothed([p["loss"] for p in train], alpha)):
            rows.append({"run": label, "step": p["step"], "series": "train (smoothed)", "loss": v})
        rows += [{"run": label, "step": p["step"], "series": "eval (held out)", "loss": p["eval_loss"]}
                 for p in r.get("eval_loss") or []]
    return rows


def strategy_views(data: ReportData) -> list[dict]:
    """Per strategy of the ablation (report.strategies): {title, note, rows (the verdict table as
    column -> value dicts), figure (its dose-response figure, for sweeps and injections, or None)}."""
    from workbench.report.strategies import dose_figures, sections

    figures = {title.removeprefix("Dose-response: "): fig for title, fig in dose_figures(data)}
    out = []
    for (title, note, columns, rows), group in zip(sections(data), dict.fromkeys(r.group for r in data.strategies)):
        out.append({"title": title, "note": note, "rows": [{c: str(x) for c, x in zip(columns, r)} for r in rows],
                    "figure": figures.get(group)})
    return out
