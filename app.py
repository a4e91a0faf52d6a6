"""The workbench comparison view (Streamlit). Run it with `workbench app`.

A thin view: every number comes from workbench.report, which reads the catalog with short
read-only queries, so the page works while an ablation is writing to the same catalog.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench import report
from workbench.report import credit, figures, gather, mixture
from workbench.report.views import decision_view
from workbench.core.workspace import Workspace

PAGES = ["Leaderboard", "Compare runs", "Training", "Data", "Strategies", "Mixture", "Shapley"]

st.set_page_config(page_title="workbench", layout="wide")


def workspace() -> Workspace | None:
    ws = Workspace.default()
    return ws if ws.catalog_path.exists() else None


@st.cache_data(show_spinner=False, max_entries=16)
def _report(home: str, name: str, state: tuple) -> report.ReportData:
    """The report data of `name` as it is at `state` (`state` is only the cache key)."""
    return report.report_data(Workspace(Path(home)), name)


def load(home: str, name: str) -> report.ReportData:
    """The report data, read again only when `gather.report_state` (one aggregate query) changes: a page
    after the first, or a rerun, costs its own work only."""
    return _report(home, name, gather.report_state(Workspace(Path(home)), name))


def leaderboard(ws: Workspace, data: report.ReportData) -> None:
    st.subheader(f"Leaderboard · {data.name}")
    for line in report.sentences(data):
        st.markdown(f"- {line}")
    st.caption(f"base model `{data.spec.get('base')}` · seeds {data.spec.get('seeds')} · eval layer `{data.layer}` · "
               f"each cell: score, and delta vs **{data.baseline}** on the same items with its seed-aware 95% CI; "
               f"{figures.SIGNIFICANT} significant = Holm-adjusted p < 0.05 with seeds in the interval; "
               "green: better, red: worse, grey: noise")
    rows = report.headline(data)
    if not rows:
        st.info("No eval results yet. Tasks so far:")
    else:
        forest = figures.deltas_figure(data)  # every headline decision first: what a curator reads first
        if forest is not None:
            st.pyplot(forest)
        st.table(figures.grid_styler(data))
        fig = report.scores_figure(data)
        if fig is not None:
            st.pyplot(fig)
        decisions = decision_view(data)  # the engine's decisions, as the report and `compare` show them
        if decisions:
            st.markdown("**Decisions** (headline metrics; B - A, paired, seed-aware; green better in the metric's "
                        "direction, red worse)")
            st.dataframe(_coloured(decisions), hide_index=True, width="stretch")
        controls = decision_view(data, kind="control")
        if controls:
            st.markdown("**A/A control** (same data, other seed: clean when nothing is significant)")
            st.dataframe([{k: v for k, v in c.items() if k not in ("direction", "colour")}
                          | {"result": "significant" if c["verdict"] != "noise" else "clean"} for c in controls],
                         hide_index=True, width="stretch")
    if data.failures:
        st.warning("Some steps failed; the others went on. Rerun `workbench ablate` to retry them.")
        st.dataframe(data.failures, hide_index=True, width="stretch")
    with st.expander("tasks"):
        st.dataframe([{"task": t["label"], "status": t["status"], "wall s": t["wall_s"], "id": t["task_id"]} for t in data.tasks],
                     hide_index=True, width="stretch")


def _coloured(rows: list[dict]):
    """The decision rows as a pandas Styler: the verdict cell in the grid's colour for its word."""
    import pandas as pd

    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "colour"} for r in rows])
    return frame.style.map(lambda word: f"background-color: {figures.VERDICT_COLOURS.get(word, '#ffffff')}",
                           subset=["verdict"])


def compare(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Compare two runs, item by item")
    _, evaluated = report.targets(ws, data.name)
    if len(evaluated) < 2:
        st.info("Fewer than two evaluated runs so far.")
        return
    labels = [report.target_label(t) for t in evaluated]
    lead = credit.lead_comparison(data, evaluated)  # the top verdict's comparison, on its metric
    at = {"a": 0, "b": min(1, len(labels) - 1), "suite": 0, "metric": 0}
    if lead is not None:
        at = {"a": labels.index(report.target_label(lead["a"])), "b": labels.index(report.target_label(lead["b"])),
              "suite": data.suites.index(lead["suite"]),
              "metric": (data.metrics.get(lead["suite"]) or []).index(lead["metric"])}
        d = lead["decision"]
        st.caption(f"Opens on the top verdict: {d.b} vs {d.a} on {d.suite} {d.metric}, {d.delta:+.4f} "
                   f"[{d.lo:+.4f}, {d.hi:+.4f}] ({d.direction}): **{d.verdict or 'noise'}**. Items that moved most first.")
    c1, c2, c3, c4 = st.columns(4)
    a = c1.selectbox("run A", labels, index=at["a"], key="run_a")
    b = c2.selectbox("run B", labels, index=at["b"], key="run_b")
    suite = c3.selectbox("suite", data.suites, index=at["suite"], key="suite")
    metrics = data.metrics.get(suite) or []
    metric = c4.selectbox("metric", metrics, index=min(at["metric"], len(metrics) - 1), key="metric") if metrics else None
    ta, tb = evaluated[labels.index(a)]["target"], evaluated[labels.index(b)]["target"]
    rows = sorted(report.item_diff(ws, data.name, ta, tb, suite, metric), key=lambda r: -abs(r["diff"]))
    if not rows:
        st.info("No common items with this metric.")
        return
    wins_b = sum(r["outcome"] == "B wins" for r in rows)
    wins_a = sum(r["outcome"] == "A wins" for r in rows)
    st.markdown(f"**{len(rows)}** items · B wins **{wins_b}** · A wins **{wins_a}** · ties {len(rows) - wins_a - wins_b}")
    show = st.radio("show", ["all disagreements", "B wins", "A wins", "all"], horizontal=True, key="show")
    if show == "all disagreements":
        rows = [r for r in rows if r["outcome"] != "tie"]
    elif show != "all":
        rows = [r for r in rows if r["outcome"] == show]
    if not rows:
        st.info(f"No items: {show} is empty for this suite and metric.")
    scores: dict[str, dict] = {}  # item -> metric -> (A, B): every metric, not only the one chosen
    for m in report.item_diff(ws, data.name, ta, tb, suite, None):
        scores.setdefault(m["item_id"], {})[m["metric"]] = (m["score_a"], m["score_b"])
    for r in rows[:50]:
        st.markdown(f"---\n**{r['item_id']}** · {r['metric']}: A {r['score_a']:.2f} → B {r['score_b']:.2f} ({r['outcome']})")
        st.text(r["prompt"])
        per_metric = scores.get(r["item_id"]) or {}
        if per_metric:  # every metric of the item, A and B side by side
            st.dataframe([{"metric": m, "A": sa, "B": sb, "B - A": sb - sa} for m, (sa, sb) in per_metric.items()],
                         hide_index=True)
        left, right = st.columns(2)
        left.caption(f"A · {a}")
        left.text(r["response_a"])
        right.caption(f"B · {b}")
        right.text(r["response_b"])


def training(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Training runs")
    if not data.runs:
        st.info("No finished training runs yet.")
        return
    st.dataframe([{k: r.get(k, "sft") for k in ("variant", "seed", "run_id", "method", "mode", "wall_s", "tokens_per_s")}
                  for r in data.runs], hide_index=True, width="stretch")
    curve = [{"step": p["step"], "loss": p["loss"], "run": f"{r['variant']} seed {r['seed']}"} for r in data.runs for p in r["loss"]]
    if curve:
        st.line_chart(curve, x="step", y="loss", color="run")
    else:
        st.info("The runs stored no loss curve.")
    val = report.validation_curves(data)
    if any(r["series"].startswith("eval") for r in val):
        st.markdown("**Held-out loss beside the smoothed training loss**")
        st.line_chart([{**r, "line": f"{r['run']} · {r['series']}"} for r in val], x="step", y="loss", color="line")
    for method in report.methods_present(data):  # dpo margins, grpo rewards (report/training.py)
        rows = report.method_curves(data, method)
        st.markdown(f"**{method.upper()} training curves** (per run and seed)")
        for col, panel in zip(st.columns(len(report.training.PANELS[method])), report.training.PANELS[method]):
            pts = [r for r in rows if r["panel"] == panel.title]
            col.caption(panel.title if pts else f"{panel.title}: {panel.empty}")
            if pts:
                col.line_chart(pts, x="step", y="value", color="series")


def data_page(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Data per variant")
    st.dataframe([{"variant": v["name"], "status": v["status"], "version": v["version"], "records": v["n_rows"]}
                  for v in data.variants], hide_index=True, width="stretch")
    st.markdown("**Lineage**")
    st.graphviz_chart(report.lineage_dot(ws, data))
    st.markdown("**Removed during curation, by reason**")
    removed = report.removals_by_reason(ws, data)
    if removed:
        st.dataframe(removed, hide_index=True, width="stretch")
        st.bar_chart(removed, x="reason", y="n", color="variant")
    else:
        st.caption("no removals on these variants' paths")
    st.markdown("**Near-duplicate clusters**")
    clusters = report.cluster_examples(ws, data)
    if clusters:
        st.dataframe(clusters, hide_index=True, width="stretch")
    else:
        st.caption("no dedup clusters stored for these variants")
    st.markdown("**Mixture composition**")
    st.dataframe(report.compositions(data), hide_index=True, width="stretch")


def strategies(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Strategies")
    views = report.strategy_views(data)
    if not views:
        st.info("This ablation has no `strategies:` (per_step, leave_one_out, sweep, inject), or none evaluated yet.")
    for view in views:
        st.markdown(f"**{view['title']}**")
        if view["figure"] is not None:  # dose-response: the difference against the swept value, 95% CIs
            st.pyplot(view["figure"])
        st.dataframe(view["rows"], hide_index=True, width="stretch")
        st.caption(view["note"])


def mixture_page(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Mixture search")
    views = mixture.views(data)
    if not views:
        st.info("This ablation has no `mixture_search` strategy, or none of its mixtures is evaluated yet.")
    for view in views:
        st.markdown(f"**{view['title']}** · validation: **{view['verdict']}**")
        st.markdown(view["reading"])
        if view["figure"] is not None:  # predicted vs observed, source effects, proposal vs natural
            st.pyplot(view["figure"])
        for label in ("proposal", "validation", "fits", "effects", "mixtures"):
            if view[label]:
                st.markdown(f"*{label}*")
                st.dataframe(view[label], hide_index=True, width="stretch")
        st.caption(view["note"])


def shapley_page(ws: Workspace, data: report.ReportData) -> None:
    st.subheader("Shapley credit of the recipe's steps")
    views = credit.shapley_views(data)
    if not views:
        st.info("This ablation has no `shapley` strategy, or not every subset of its steps is evaluated yet.")
    for view in views:
        st.markdown(f"**{view['title']}**")
        for line in view["readings"]:
            st.markdown(f"- {line}")
        if view["figure"] is not None:  # each step's value with its 95% CI, its effect alone beside it
            st.pyplot(view["figure"])
        st.dataframe(view["values"], hide_index=True, width="stretch")
        if view["interactions"] is not None:
            st.markdown("*pairwise interactions* (what a pair does beyond its separate effects; * significant)")
            st.pyplot(view["interactions"])
            st.dataframe(view["matrix"], hide_index=True, width="stretch")
        st.caption(view["note"])


def main() -> None:
    st.sidebar.title("workbench")
    ws = workspace()
    if ws is None:
        st.info("No catalog yet. Run `workbench ablate examples/quickstart.yaml` first.")
        return
    ablations = ws.catalog(reader=True).list_ablations()
    if not ablations:
        st.info("No ablations in this catalog yet. Run `workbench ablate SPEC.yaml`.")
        return
    names = [a["name"] for a in ablations]
    asked = st.query_params  # a link can open a page: ?page=Strategies&ablation=NAME
    name = st.sidebar.selectbox("ablation", names, key="ablation",
                                index=names.index(asked["ablation"]) if asked.get("ablation") in names else 0)
    page = st.sidebar.radio("page", PAGES, key="page",
                            index=PAGES.index(asked["page"]) if asked.get("page") in PAGES else 0)
    st.sidebar.caption(f"catalog: {ws.catalog_path}")
    if st.sidebar.button("refresh"):
        _report.clear()
    data = load(str(ws.home), name)
    {"Leaderboard": leaderboard, "Compare runs": compare, "Training": training, "Data": data_page,
     "Strategies": strategies, "Mixture": mixture_page, "Shapley": shapley_page}[page](ws, data)


main()
