"""The report as text: one self-contained HTML file (plots inline) and Markdown with the same
tables; `write_report` writes both to reports/NAME/."""

from __future__ import annotations

import html
import math
from pathlib import Path

from workbench.ablate.budget import curation_warnings
from workbench.ablate.outputs import BuildStep
from workbench.ablate.tasks import BASE
from workbench.report.figures import (_fig_to_png_b64, _fig_to_svg, deltas_figure, grid_figure, loss_figure,
                                       scores_figure, validation_figure)
from workbench.report import audit, strategies, verdicts
from workbench.report.gather import ReportData, headline, report_data
from workbench.report.stats import fmt_delta, fmt_score  # noqa: F401 - re-exported
from workbench.report.training import method_figures
from workbench.core.workspace import Workspace


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
    out = [("Decisions", verdicts.rule(), verdicts.DECISION_COLUMNS, verdicts.decision_rows(data)),
           ("A/A control", "Two seeds of the control variant on the same data; any difference here is training "
            "and item noise. Its seeds join the seed-noise estimate of every interval; if any of its comparisons "
            "is called significant, the control is not clean and no verdict above should be trusted.",
            verdicts.CONTROL_COLUMNS, verdicts.control_rows(data)),
           ("Seed-to-seed spread", "Per-seed mean of each variant trained with more than one seed.",
            verdicts.SPREAD_COLUMNS, verdicts.spread_rows(data))]
    out += strategies.sections(data)  # one section per ablation strategy (report/strategies.py)
    base = "the untrained base model" if data.baseline == BASE else f"the baseline variant {data.baseline}"
    rows = [[r["variant"], r["suite"], r["metric"], r["n"], fmt_score(r), fmt_delta(r), _num(r["p_adjusted"], ".3g")]
            for r in headline(data)]
    out.append(("Summary", f"Primary metric per suite; delta is the paired difference vs {base} on the same items "
                "with its seed-aware 95% CI; significant follows the rule under Decisions; p is Holm-adjusted.",
                ["variant", "suite", "metric", "items", "score [95% CI]", f"delta vs {data.baseline} [95% CI]", "p adj"],
                rows))
    rows = [[r["variant"], r["suite"], r["metric"], r["n"], _num(r["mean"]), f"[{_num(r['lo'])}, {_num(r['hi'])}]"] for r in data.scores]
    out.append(("All metrics", "", ["variant", "suite", "metric", "items", "mean", "95% CI"], rows))
    rows = [[c.a, c.b, c.suite, c.metric, c.n, f"{c.delta:+.3f}", verdicts.fmt_row(c), _num(c.p, ".3g"),
             _num(c.p_adjusted, ".3g"), c.verdict or ("yes" if c.significant else "no")] for c in data.pairwise
            if c.headline]
    out.append(("Between variants", "Paired difference B - A on the headline metrics, seed-aware.",
                ["A", "B", "suite", "metric", "items", "B - A", "95% CI", "p", "p adj", "verdict"], rows))
    rows = [[r["variant"], r["seed"], r["run_id"], r.get("method", "sft"), r["mode"], _num(r["wall_s"], ".0f"),
             _num(r["tokens_per_s"], ".0f"), _num(r["loss"][0]["loss"]) if r["loss"] else "",
             _num(r["loss"][-1]["loss"]) if r["loss"] else ""] for r in data.runs]
    out.append(("Training runs", "", ["variant", "seed", "run", "method", "mode", "wall s", "tokens/s", "first loss",
                                      "last loss"], rows))
    rows = []
    for v in data.variants:
        for s in v["steps"]:
            rows.append([v["name"], s.step, s.version, "" if s.n_rows is None else s.n_rows, _step_detail(s)])
        if not v["steps"]:
            rows.append([v["name"], v["status"], v["version"] or "", v["n_rows"] or "", (v["error"] or "").split("\n")[0][:200]])
    out.append(("Data per variant", "How each variant's data was built: curation summary and mixture composition.",
                ["variant", "step", "version", "records", "detail"], rows))
    rows = [[f["label"], f["status"], f["error"][:300]] for f in data.failures]
    if rows:
        out.append(("Failures", "These steps failed; the other variants went on. Rerun the same command to retry them.",
                    ["task", "status", "error"], rows))
    return out


def _step_detail(s: BuildStep) -> str:
    if s.curation:
        return "; ".join(f"{c.step}: -{c.dropped}" for c in s.curation)
    if s.composition:
        return "; ".join(f"{c.source} ({c.reasoning_mode}): {c.examples} examples, {c.pct_tokens}% of tokens"
                         for c in s.composition)
    if s.step == "ingest":
        return s.input or ""
    if s.step == "synth":
        return f"mode {s.mode}"
    return ""


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
svg,img{max-width:100%;height:auto}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .note{color:#555;font-size:0.9em}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:8px}
.resp{background:#f8f8f8;border:1px solid #e4e4e4;padding:6px;white-space:pre-wrap;font-size:0.85em}
pre{white-space:pre-wrap}
"""


def render_html(data: ReportData, extra: list | tuple = ()) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ablation {html.escape(data.name)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>Ablation <code>{html.escape(data.name)}</code></h1>",
             f"<p class='note'>base model <code>{html.escape(str(data.spec.get('base')))}</code>; seeds {data.spec.get('seeds')}; "
             f"eval layer <code>{html.escape(data.layer)}</code>; variants: "
             + ", ".join(f"<b>{html.escape(v['name'])}</b>" for v in data.variants) + "</p>",
             "<h2>Verdict</h2><ul class='verdict'>"
             + "".join(f"<li>{html.escape(s)}</li>" for s in verdicts.sentences(data)) + "</ul>"]
    for title, fig_fn in (("Decisions vs the baseline", deltas_figure), ("Leaderboard", grid_figure), ("Scores", scores_figure)):
        fig = fig_fn(data)
        if fig is not None:
            parts.append(f"<h2>{title}</h2>{_fig_to_svg(fig)}")
    parts += [f"<h2>{html.escape(title)}</h2>{_fig_to_svg(fig)}" for title, fig in strategies.dose_figures(data)]
    for title, note, cols, rows in [*sections(data), *extra]:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        parts.append(_html_table(cols, rows) if rows else "<p class='note'>nothing yet</p>")
        if title == "Training runs":
            fig = loss_figure(data)
            if fig is not None:
                parts.append(f"<img alt='training loss' src='data:image/png;base64,{_fig_to_png_b64(fig)}'/>")
            fig = validation_figure(data)
            if fig is not None:
                parts.append(f"<img alt='validation loss' src='data:image/png;base64,{_fig_to_png_b64(fig)}'/>")
            parts += [f"<img alt='{html.escape(title)}' src='data:image/png;base64,{_fig_to_png_b64(fig)}'/>"
                      for title, fig in method_figures(data)]
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


def render_markdown(data: ReportData, extra: list | tuple = ()) -> str:
    lines = [f"# Ablation `{data.name}`", "",
             f"Base model `{data.spec.get('base')}`, seeds {data.spec.get('seeds')}, eval layer `{data.layer}`, variants: "
             + ", ".join(f"**{v['name']}**" for v in data.variants), "", "## Verdict", ""]
    lines += [f"- {s}" for s in verdicts.sentences(data)] + [""]
    for title, note, cols, rows in [*sections(data), *extra]:
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


def curation_section(ws: Workspace, name: str) -> list[tuple[str, str, list[str], list[list]]]:
    """A step of a variant's curation that removed a large share of one record source and little
    elsewhere: the same warning `workbench curate` prints, with its example rows."""
    rows = [[w["variant"], w["step"], w["source"], f"{w['removed']}/{w['rows']} ({w['share']:.1%})",
             f"{w['elsewhere_removed']}/{w['elsewhere_rows']} ({w['elsewhere_share']:.1%})",
             " | ".join(f"{e['record_id']}: {e['text']}" for e in w["examples"])]
            for w in curation_warnings(ws, name)]
    if not rows:
        return []
    return [("Curation warnings", "A curation step removed more than 5% of one record source while removing at most "
             "2% of the others: check its rules against that source before trusting what the variant shows.",
             ["variant", "step", "source", "removed", "elsewhere", "examples"], rows)]


def write_report(ws: Workspace, name: str, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write reports/NAME/report.html and report.md; returns their paths."""
    data = report_data(ws, name)
    extra = audit.sections(ws, data)  # the suite audit, and the looks of `ablate --until-decided`
    extra += curation_section(ws, name)
    out = Path(out_dir) if out_dir else Path("reports") / name
    out.mkdir(parents=True, exist_ok=True)
    h, m = out / "report.html", out / "report.md"
    h.write_text(render_html(data, extra), encoding="utf-8")
    m.write_text(render_markdown(data, extra), encoding="utf-8")
    return h, m

