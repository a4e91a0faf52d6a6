"""What an ablation found: report data from the catalog, rendered as HTML and Markdown.

- gather.py: `report_data(ws, name)` reads the ablation's typed task outputs, per-item scores,
  loss curves, data composition and curation summaries into a `ReportData`;
- stats.py: scores with CIs and seed spreads; every comparison is a `ComparisonRow`, the decision
  engine's `Decision` (workbench.evals.engine: seed-aware, Holm-adjusted, direction from the stored result);
- verdicts.py: the verdict in words, the decision, control and seed-spread tables;
- figures.py: the plots; training.py: the dpo and grpo training curves;
- render.py: `render_html`, `render_markdown`, `write_report`;
- views.py: the small read-only views the Streamlit app uses.
All catalog reads are short queries on a reader catalog, so this works while an ablation runs.
"""

from workbench.ablate.tasks import BASE
from workbench.report.figures import deltas_figure, loss_figure, scores_figure, validation_figure
from workbench.report.gather import (ReportData, eval_items, headline, item_table, primary_metrics, report_data,
                                     result_id, targets)
from workbench.report.render import fmt_delta, fmt_score, render_html, render_markdown, sections, write_report
from workbench.report.stats import ComparisonRow
from workbench.report import verdicts
from workbench.report.verdicts import sentences
from workbench.report.training import method_curves, method_figure, method_figures, methods_present
from workbench.report.views import (cluster_examples, compositions, item_diff, lineage_dot, removals_by_reason,
                                    smoothed, strategy_views, target_label, validation_curves,
                                    variant_versions)

__all__ = [
    "BASE", "ComparisonRow", "ReportData", "cluster_examples", "sentences", "verdicts", "compositions", "deltas_figure",
    "eval_items", "fmt_delta", "fmt_score", "headline", "item_diff", "item_table", "lineage_dot",
    "loss_figure", "primary_metrics", "removals_by_reason", "render_html", "render_markdown", "report_data",
    "result_id", "scores_figure", "sections", "target_label", "targets", "variant_versions", "write_report",
    "smoothed", "strategy_views", "validation_curves", "validation_figure", "method_curves", "method_figure",
    "method_figures", "methods_present",
]
