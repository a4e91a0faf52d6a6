"""What an ablation found: report data from the catalog, rendered as HTML and Markdown.

`report_data(ws, name)` gathers everything (scores with CIs, paired deltas vs the base model
and between variants, loss curves, data composition and curation summaries, items where
variants disagree, failures). `render_html` makes one self-contained file (plots as inline
SVG); `render_markdown` the same tables as text. The Streamlit view uses the same functions.
All catalog reads are short queries on a reader catalog, so this works while an ablation runs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from workbench.workspace import Workspace

BASE = "base"


# --------------------------------------------------------------------------------------
# Reading what the evals and training areas stored
# --------------------------------------------------------------------------------------


def _eval_items(cat, result_id: str) -> dict[str, dict]:
    """Per-item samples of one eval result: item_id -> {prompt, response, scores}."""
    out = {}
    for r in cat.result_samples(result_id):
        out[str(r["item_id"])] = {"prompt": r.get("prompt") or "", "response": r.get("response") or "",
                                  "scores": {k: float(v) for k, v in r["scores"].items() if _is_number(v)}}
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))


def _loss_curve(cat, run_id: str) -> list[dict]:
    try:
        return [{"step": r["step"], "loss": r["loss"]} for r in cat.run_steps(run_id) if r.get("loss") is not None]
    except Exception:  # noqa: BLE001 - a run without steps yet
        return []


def _run_row(cat, run_id: str) -> dict:
    try:
        return dict(cat.get_run(run_id))
    except Exception:  # noqa: BLE001
        return {}


# --------------------------------------------------------------------------------------
# Statistics (from workbench.evals.stats)
# --------------------------------------------------------------------------------------


def _binary(values: list[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    from workbench.evals import stats

    r = stats.mean_ci(values)
    return _triple(r)


def paired(a: list[float], b: list[float], seed: int = 0) -> dict:
    """Paired difference b - a on the same items: delta, 95% CI, McNemar p for pass/fail."""
    from workbench.evals import stats

    delta, lo, hi = _triple(stats.paired_bootstrap(a, b, seed=seed))
    p = None
    if _binary(a) and _binary(b):
        p = _p(stats.mcnemar_exact(a, b))
    mdd = None
    try:
        mdd = float(_first(stats.min_detectable_difference(a, b)))
    except Exception:  # noqa: BLE001 - informative only
        pass
    return {"delta": delta, "lo": lo, "hi": hi, "p": p, "mdd": mdd, "n": len(a),
            "significant": bool(lo > 0 or hi < 0)}


def _first(x):
    if isinstance(x, dict):
        return next(iter(x.values()))
    if isinstance(x, (tuple, list)):
        return x[0]
    return getattr(x, "value", x)


def _p(x) -> float | None:
    if isinstance(x, dict):
        x = x.get("p", x.get("p_value"))
    else:
        x = getattr(x, "p", getattr(x, "p_value", x))
    return None if x is None else float(x)


def _triple(r) -> tuple[float, float, float]:
    """(estimate, lo, hi) from a tuple, dict or object."""
    if isinstance(r, (tuple, list)):
        return float(r[0]), float(r[1]), float(r[2])
    get = (lambda k: r.get(k)) if isinstance(r, dict) else (lambda k: getattr(r, k, None))
    est = next(get(k) for k in ("mean", "delta", "diff", "estimate", "value") if get(k) is not None)
    lo = next(get(k) for k in ("lo", "low", "ci_low", "lower") if get(k) is not None)
    hi = next(get(k) for k in ("hi", "high", "ci_high", "upper") if get(k) is not None)
    return float(est), float(lo), float(hi)


# --------------------------------------------------------------------------------------
# Report data
# --------------------------------------------------------------------------------------


@dataclass
class ReportData:
    name: str
    spec: dict
    suites: list[str]
    layer: str
    variants: list[dict]  # name, version, status, steps (composition, curation summary), error
    runs: list[dict]  # variant, seed, run_id, mode, wall_s, tokens_per_s, loss
    metrics: dict[str, list[str]]  # suite -> metric names (first is the headline)
    scores: list[dict]  # variant, suite, metric, n, mean, lo, hi
    deltas: list[dict]  # variant, suite, metric, delta, lo, hi, p, significant (vs base)
    pairwise: list[dict]  # a, b, suite, metric, delta (b - a), lo, hi, p, significant
    disagreements: list[dict]  # suite, metric, item_id, prompt, responses {variant: (score, text)}
    failures: list[dict]  # label, variant, error
    tasks: list[dict] = field(default_factory=list)

    def order(self) -> list[str]:
        return [BASE] + [v["name"] for v in self.variants]


def targets(ws: Workspace, name: str) -> tuple[dict, list[dict]]:
    """The ablation row and its evaluated targets (base first):
    [{variant, seed, target, results: {suite: result_id}, primary: {suite: metric}}]."""
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    out = []
    for t in cat.ablation_tasks(name):
        if t["kind"] == "eval" and t["status"] == "done" and "target" in t["inputs"]:
            results = t["output"].get("results", [])
            out.append({"variant": t["variant"], "seed": t["seed"], "target": t["inputs"]["target"],
                        "results": {r["suite"]: r["result_id"] for r in results},
                        "primary": {r["suite"]: r.get("primary_metric") for r in results}})
    out.sort(key=lambda r: (r["variant"] != BASE, r["variant"], r["seed"] or 0))
    return abl, out


def result_id(ws: Workspace, name: str, target: str, suite: str) -> str | None:
    for t in targets(ws, name)[1]:
        if t["target"] == target:
            return t["results"].get(suite)
    return None


def item_table(ws: Workspace, name: str) -> dict:
    """variant -> suite -> item_id -> {scores (mean over seeds), prompt, responses per seed}."""
    cat = ws.catalog(reader=True)
    abl, evaluated = targets(ws, name)
    table: dict[str, dict[str, dict[str, dict]]] = {}
    for t in evaluated:
        for suite, rid in t["results"].items():
            items = _eval_items(cat, rid)
            dest = table.setdefault(t["variant"], {}).setdefault(suite, {})
            for item_id, it in items.items():
                d = dest.setdefault(item_id, {"prompt": it["prompt"], "responses": [], "per_seed": []})
                d["responses"].append(it["response"])
                d["per_seed"].append(it["scores"])
    for suites in table.values():
        for items in suites.values():
            for d in items.values():
                metrics = {m for s in d["per_seed"] for m in s}
                d["scores"] = {m: sum(s.get(m, 0.0) for s in d["per_seed"]) / len(d["per_seed"]) for m in metrics}
    return table


def primary_metrics(ws: Workspace, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in targets(ws, name)[1]:
        for suite, m in t["primary"].items():
            if m:
                out.setdefault(suite, m)
    return out


def report_data(ws: Workspace, name: str, max_examples: int = 5) -> ReportData:
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    spec = abl["spec"]
    tasks = cat.ablation_tasks(name)
    suites, layer = spec["eval"]["suites"], spec["eval"]["layer"]

    variants = []
    by_variant = {t["variant"]: t for t in tasks if t["kind"] == "build"}
    for v in spec["variants"]:
        t = by_variant.get(v["name"])
        variants.append({
            "name": v["name"],
            "status": t["status"] if t else "not started",
            "version": (t or {}).get("output", {}).get("version"),
            "n_rows": (t or {}).get("output", {}).get("n_rows"),
            "steps": (t or {}).get("output", {}).get("steps", []),
            "error": (t or {}).get("error"),
        })

    runs = []
    for t in tasks:
        if t["kind"] == "train" and t["status"] == "done":
            run_id = t["output"]["run_id"]
            row = _run_row(cat, run_id)
            runs.append({"variant": t["variant"], "seed": t["seed"], "run_id": run_id,
                         "mode": row.get("mode", t["output"].get("mode")),
                         "wall_s": row.get("wall_s", t["output"].get("train_wall_s")),
                         "tokens_per_s": row.get("tokens_per_s", t["output"].get("tokens_per_s")),
                         "loss": _loss_curve(cat, run_id)})

    items = item_table(ws, name)
    primary = primary_metrics(ws, name)
    metrics: dict[str, list[str]] = {}
    for suite in suites:
        names: list[str] = [primary[suite]] if suite in primary else []
        for v in items.values():
            for d in v.get(suite, {}).values():
                for m in d["scores"]:
                    if m not in names:
                        names.append(m)
        metrics[suite] = names

    order = [BASE] + [v["name"] for v in spec["variants"]]
    scores, deltas, pairwise, disagreements = [], [], [], []
    for suite in suites:
        for metric in metrics[suite]:
            for v in order:
                vals = [d["scores"][metric] for d in items.get(v, {}).get(suite, {}).values() if metric in d["scores"]]
                if vals:
                    mean, lo, hi = mean_ci(vals)
                    scores.append({"variant": v, "suite": suite, "metric": metric, "n": len(vals),
                                   "mean": mean, "lo": lo, "hi": hi})
            present = [v for v in order if items.get(v, {}).get(suite)]
            for i, a in enumerate(present):
                for b in present[i + 1:]:
                    common = sorted(set(items[a][suite]) & set(items[b][suite]))
                    common = [k for k in common if metric in items[a][suite][k]["scores"] and metric in items[b][suite][k]["scores"]]
                    if not common:
                        continue
                    r = paired([items[a][suite][k]["scores"][metric] for k in common],
                               [items[b][suite][k]["scores"][metric] for k in common])
                    row = {"a": a, "b": b, "suite": suite, "metric": metric, **r}
                    if a == BASE:
                        deltas.append({"variant": b, **{k: v for k, v in row.items() if k not in ("a", "b")}})
                    else:
                        pairwise.append(row)
        if metrics[suite]:
            disagreements += _disagreements(items, order, suite, metrics[suite][0], max_examples)

    failures = [{"label": t["label"], "variant": t["variant"], "status": t["status"],
                 "error": (t["error"] or "").split("\n\n")[0]} for t in tasks if t["status"] in ("failed", "interrupted")]
    return ReportData(name, spec, suites, layer, variants, runs, metrics, scores, deltas, pairwise,
                      disagreements, failures, tasks)


def _disagreements(items: dict, order: list[str], suite: str, metric: str, limit: int) -> list[dict]:
    """Items where variants' scores differ most (the spread between best and worst)."""
    present = [v for v in order if items.get(v, {}).get(suite)]
    if len(present) < 2:
        return []
    common = set.intersection(*(set(items[v][suite]) for v in present))
    ranked = []
    for k in sorted(common):
        vals = {v: items[v][suite][k]["scores"].get(metric) for v in present}
        if any(x is None for x in vals.values()):
            continue
        spread = max(vals.values()) - min(vals.values())
        if spread > 0:
            ranked.append((-spread, k, vals))
    ranked.sort(key=lambda r: (r[0], r[1]))
    out = []
    for _, k, vals in ranked[:limit]:
        out.append({"suite": suite, "metric": metric, "item_id": k, "prompt": items[present[0]][suite][k]["prompt"],
                    "responses": {v: {"score": vals[v], "text": items[v][suite][k]["responses"][0]} for v in present}})
    return out


# --------------------------------------------------------------------------------------
# Summary table (CLI) and plots
# --------------------------------------------------------------------------------------


def headline(data: ReportData) -> list[dict]:
    """variant x suite on each suite's headline metric: score [CI], delta vs base [CI], mark."""
    rows = []
    for v in data.order():
        for suite in data.suites:
            if not data.metrics.get(suite):
                continue
            metric = data.metrics[suite][0]
            s = next((r for r in data.scores if r["variant"] == v and r["suite"] == suite and r["metric"] == metric), None)
            if s is None:
                continue
            d = next((r for r in data.deltas if r["variant"] == v and r["suite"] == suite and r["metric"] == metric), None)
            rows.append({"variant": v, "suite": suite, "metric": metric, "n": s["n"], "score": s["mean"],
                         "lo": s["lo"], "hi": s["hi"], "delta": d and d["delta"], "d_lo": d and d["lo"],
                         "d_hi": d and d["hi"], "p": d and d["p"], "significant": bool(d and d["significant"])})
    return rows


def fmt_delta(r: dict) -> str:
    if r.get("delta") is None:
        return "(baseline)" if r["variant"] == BASE else "-"
    mark = " *" if r["significant"] else ""
    return f"{r['delta']:+.3f} [{r['d_lo']:+.3f}, {r['d_hi']:+.3f}]{mark}"


def fmt_score(r: dict) -> str:
    return f"{r['score']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"


def _fig_to_svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg"):]


def _fig_to_png_b64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def scores_figure(data: ReportData):
    """One panel per suite: headline metric per variant with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = headline(data)
    suites = [s for s in data.suites if any(r["suite"] == s for r in rows)]
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(suites), figsize=(4.2 * len(suites), 0.5 * len(data.order()) + 1.6), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        rs = [r for r in rows if r["suite"] == suite][::-1]
        y = list(range(len(rs)))
        colors = ["#888888" if r["variant"] == BASE else ("#2a7ab8" if not r["significant"] else "#d9622b") for r in rs]
        ax.errorbar([r["score"] for r in rs], y, xerr=[[max(0.0, r["score"] - r["lo"]) for r in rs], [max(0.0, r["hi"] - r["score"]) for r in rs]],
                    fmt="none", ecolor="#555555", capsize=3)
        ax.scatter([r["score"] for r in rs], y, c=colors, zorder=3)
        ax.set_yticks(y, [r["variant"] for r in rs])
        ax.set_title(f"{suite}\n{rs[0]['metric']}" if rs else suite, fontsize=9)
        ax.set_xlim(-0.02, 1.02) if all(0 <= r["lo"] and r["hi"] <= 1 for r in rs) else None
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("score with 95% CI (orange: significantly different from base)", fontsize=10)
    fig.tight_layout()
    return fig


def deltas_figure(data: ReportData):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in headline(data) if r["delta"] is not None]
    if not rows:
        return None
    labels = [f"{r['variant']} · {r['suite']}" for r in rows][::-1]
    rows = rows[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    y = list(range(len(rows)))
    ax.axvline(0, color="#999999", lw=1)
    ax.errorbar([r["delta"] for r in rows], y, xerr=[[max(0.0, r["delta"] - r["d_lo"]) for r in rows], [max(0.0, r["d_hi"] - r["delta"]) for r in rows]],
                fmt="none", ecolor="#555555", capsize=3)
    ax.scatter([r["delta"] for r in rows], y, zorder=3,
               c=["#d9622b" if r["significant"] else "#2a7ab8" for r in rows])
    ax.set_yticks(y, labels)
    ax.set_xlabel("paired difference vs base (95% bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def loss_figure(data: ReportData):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in data.runs if r["loss"]]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for r in runs:
        ax.plot([p["step"] for p in r["loss"]], [p["loss"] for p in r["loss"]], label=f"{r['variant']} seed {r['seed']}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _num(x, fmt=".3f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return format(x, fmt) if isinstance(x, (int, float)) else str(x)


def _html_table(columns: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(columns: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def sections(data: ReportData) -> list[tuple[str, str, list[str], list[list]]]:
    """The report's tables as (title, note, columns, rows), shared by HTML and Markdown."""
    out = []
    rows = [[r["variant"], r["suite"], r["metric"], r["n"], fmt_score(r), fmt_delta(r), _num(r["p"], ".3g")] for r in headline(data)]
    out.append(("Summary", "Headline metric per suite; delta is the paired difference vs the untrained base model "
                "on the same items, with a 95% bootstrap CI; * marks a CI that excludes 0; p is McNemar's exact test.",
                ["variant", "suite", "metric", "items", "score [95% CI]", "delta vs base [95% CI]", "p"], rows))
    rows = [[r["variant"], r["suite"], r["metric"], r["n"], _num(r["mean"]), f"[{_num(r['lo'])}, {_num(r['hi'])}]"] for r in data.scores]
    out.append(("All metrics", "", ["variant", "suite", "metric", "items", "mean", "95% CI"], rows))
    rows = [[r["a"], r["b"], r["suite"], r["metric"], r["n"], f"{r['delta']:+.3f}", f"[{r['lo']:+.3f}, {r['hi']:+.3f}]",
             _num(r["p"], ".3g"), "yes" if r["significant"] else "no"] for r in data.pairwise
            if r["metric"] == (data.metrics.get(r["suite"]) or [None])[0]]
    out.append(("Between variants", "Paired difference B - A on the headline metric.",
                ["A", "B", "suite", "metric", "items", "B - A", "95% CI", "p", "significant"], rows))
    rows = [[r["variant"], r["seed"], r["run_id"], r["mode"], _num(r["wall_s"], ".0f"), _num(r["tokens_per_s"], ".0f"),
             _num(r["loss"][0]["loss"]) if r["loss"] else "", _num(r["loss"][-1]["loss"]) if r["loss"] else ""] for r in data.runs]
    out.append(("Training runs", "", ["variant", "seed", "run", "mode", "wall s", "tokens/s", "first loss", "last loss"], rows))
    rows = []
    for v in data.variants:
        for s in v["steps"]:
            rows.append([v["name"], s.get("step"), s.get("version"), s.get("n_rows", ""), _step_detail(s)])
        if not v["steps"]:
            rows.append([v["name"], v["status"], v["version"] or "", v["n_rows"] or "", (v["error"] or "").split("\n")[0][:200]])
    out.append(("Data per variant", "How each variant's data was built: curation summary and mixture composition.",
                ["variant", "step", "version", "records", "detail"], rows))
    rows = [[f["label"], f["status"], f["error"][:300]] for f in data.failures]
    if rows:
        out.append(("Failures", "These steps failed; the other variants went on. Rerun the same command to retry them.",
                    ["task", "status", "error"], rows))
    return out


def _step_detail(s: dict) -> str:
    if s.get("step") == "curate" and s.get("summary"):
        summ = s["summary"]
        if isinstance(summ, list):
            parts = [f"{r.get('step', '?')}: -{r.get('dropped', r.get('removed', '?'))}" for r in summ if isinstance(r, dict)]
            return "; ".join(parts)
        return str(summ)[:300]
    if s.get("step") == "mix" and s.get("composition"):
        comp = s["composition"]
        if isinstance(comp, list):
            return "; ".join(f"{r.get('source')} ({r.get('reasoning_mode')}): {r.get('examples')} examples, "
                             f"{r.get('pct_tokens')}% of tokens" for r in comp if isinstance(r, dict))
        return str(comp)[:400]
    if s.get("step") == "ingest":
        return s.get("input", "")
    if s.get("step") == "synth":
        return f"mode {s.get('mode')}"
    return ""


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .note{color:#555;font-size:0.9em}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:8px}
.resp{background:#f8f8f8;border:1px solid #e4e4e4;padding:6px;white-space:pre-wrap;font-size:0.85em}
pre{white-space:pre-wrap}
"""


def render_html(data: ReportData) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ablation {html.escape(data.name)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>Ablation <code>{html.escape(data.name)}</code></h1>",
             f"<p class='note'>base model <code>{html.escape(str(data.spec.get('base')))}</code>; seeds {data.spec.get('seeds')}; "
             f"eval layer <code>{html.escape(data.layer)}</code>; variants: "
             + ", ".join(f"<b>{html.escape(v['name'])}</b>" for v in data.variants) + "</p>"]
    for title, fig_fn in (("Scores", scores_figure), ("Deltas vs base", deltas_figure)):
        fig = fig_fn(data)
        if fig is not None:
            parts.append(f"<h2>{title}</h2>{_fig_to_svg(fig)}")
    for title, note, cols, rows in sections(data):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        parts.append(_html_table(cols, rows) if rows else "<p class='note'>nothing yet</p>")
        if title == "Training runs":
            fig = loss_figure(data)
            if fig is not None:
                parts.append(f"<img alt='training loss' src='data:image/png;base64,{_fig_to_png_b64(fig)}'/>")
    parts.append("<h2>Items where variants disagree</h2>")
    if not data.disagreements:
        parts.append("<p class='note'>none (or fewer than two variants evaluated)</p>")
    for d in data.disagreements:
        parts.append(f"<h3>{html.escape(d['suite'])} · {html.escape(d['item_id'])} ({html.escape(d['metric'])})</h3>")
        parts.append(f"<div class='resp'><b>prompt</b>\n{html.escape(d['prompt'])}</div><div class='pair'>")
        for v, r in d["responses"].items():
            parts.append(f"<div><b>{html.escape(v)}</b> score {r['score']:.2f}<div class='resp'>{html.escape(r['text'])}</div></div>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(data: ReportData) -> str:
    lines = [f"# Ablation `{data.name}`", "",
             f"Base model `{data.spec.get('base')}`, seeds {data.spec.get('seeds')}, eval layer `{data.layer}`, variants: "
             + ", ".join(f"**{v['name']}**" for v in data.variants), ""]
    for title, note, cols, rows in sections(data):
        lines += [f"## {title}", ""]
        if note:
            lines += [note, ""]
        lines += [_md_table(cols, rows) if rows else "_nothing yet_", ""]
    lines += ["## Items where variants disagree", ""]
    for d in data.disagreements:
        lines += [f"### {d['suite']} · {d['item_id']} ({d['metric']})", "", "**prompt**: " + d["prompt"].replace("\n", " ")[:500], ""]
        for v, r in d["responses"].items():
            lines.append(f"- **{v}** (score {r['score']:.2f}): " + r["text"].replace("\n", " ")[:300])
        lines.append("")
    return "\n".join(lines)


def write_report(ws: Workspace, name: str, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write reports/NAME/report.html and report.md; returns their paths."""
    data = report_data(ws, name)
    out = Path(out_dir) if out_dir else Path("reports") / name
    out.mkdir(parents=True, exist_ok=True)
    h, m = out / "report.html", out / "report.md"
    h.write_text(render_html(data), encoding="utf-8")
    m.write_text(render_markdown(data), encoding="utf-8")
    return h, m


# --------------------------------------------------------------------------------------
# Views for the Streamlit app (small, read-only, short queries)
# --------------------------------------------------------------------------------------


def target_label(t: dict) -> str:
    return t["variant"] + ("" if t["seed"] is None else f" · seed {t['seed']}")


def item_diff(ws: Workspace, name: str, target_a: str, target_b: str, suite: str, metric: str | None = None) -> list[dict]:
    """Per-item comparison of two evaluated targets on one suite: prompt, both responses, scores."""
    cat = ws.catalog(reader=True)
    ra, rb = result_id(ws, name, target_a, suite), result_id(ws, name, target_b, suite)
    if ra is None or rb is None:
        return []
    a, b = _eval_items(cat, ra), _eval_items(cat, rb)
    rows = []
    for k in sorted(set(a) & set(b)):
        metrics = [metric] if metric else sorted(set(a[k]["scores"]) | set(b[k]["scores"]))
        for m in metrics:
            sa, sb = a[k]["scores"].get(m), b[k]["scores"].get(m)
            if sa is None or sb is None:
                continue
            rows.append({"item_id": k, "metric": m, "score_a": sa, "score_b": sb, "diff": sb - sa,
                         "outcome": "B wins" if sb > sa else ("A wins" if sa > sb else "tie"),
                         "prompt": a[k]["prompt"], "response_a": a[k]["response"], "response_b": b[k]["response"]})
    return rows


def variant_versions(data: ReportData) -> dict[str, list[dict]]:
    """variant -> its build steps (each with a version id)."""
    return {v["name"]: [s for s in v["steps"] if s.get("version")] for v in data.variants}


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
    if not hasattr(cat, "dedup_clusters"):
        return []
    out = []
    for v in data.variants:
        for s in v["steps"]:
            if s.get("step") != "curate":
                continue
            try:
                clusters = cat.dedup_clusters(s["version"], limit=limit)
            except Exception:  # noqa: BLE001 - a catalog without curation tables
                continue
            for c in clusters:
                members = c.get("members") or []
                kept = next((m for m in members if m.get("kept")), members[0] if members else {})
                dropped = [m for m in members if m is not kept]
                out.append({"variant": v["name"], "step": c.get("step"), "cluster": c.get("cluster_id"),
                            "size": c.get("size"), "kept": (kept.get("text") or "")[:300],
                            "dropped": " | ".join((m.get("text") or "")[:200] for m in dropped[:3]),
                            "similarity": max((m.get("similarity") or 0.0 for m in dropped), default=None)})
    return out


def compositions(data: ReportData) -> list[dict]:
    """Mixture composition rows per variant (from the build step's stored output)."""
    out = []
    for v in data.variants:
        for s in v["steps"]:
            comp = s.get("composition")
            if isinstance(comp, list):
                out += [{"variant": v["name"], **row} for row in comp if isinstance(row, dict)]
            elif isinstance(comp, dict):
                out.append({"variant": v["name"], **comp})
        if v["version"] and not any(s.get("composition") for s in v["steps"]):
            out.append({"variant": v["name"], "source": "(single source)", "examples": v["n_rows"]})
    return out
