"""Method-specific training curves, per run and seed, from `run_steps.metrics` (what TRL logged
beside the loss; workbench.train.fitting.MetricRecorder keeps it):

- dpo: the loss, the reward margin (chosen - rejected, relative to the reference) and the reward
  accuracy (the share of pairs whose chosen is rewarded above the rejected);
- grpo: the mean reward, each reward function's mean (`rewards/<name>/mean`), and the KL to the
  reference (logged only when grpo.beta > 0).

Each method owns its panels (`Method.panels`, workbench.train.methods), a plug-in method's
included. `method_curves` gives the rows (the app draws them), `method_figures` one matplotlib
figure per method that has runs (the report draws them under "Training runs"). SFT runs have no
panels here: their loss and validation curves are in figures.loss_figure and figures.validation_figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from workbench.report.figures import PAGE_WIDTH_IN, _pyplot
from workbench.report.gather import ReportData
from workbench.train.methods import METHODS, Panel

__all__ = ["PANELS", "Panel", "method_curves", "method_figure", "method_figures", "methods_present"]


class _MethodPanels(Mapping):
    """method name -> its panels, for the registered methods that have any (read on each use)."""

    def _all(self) -> dict[str, tuple[Panel, ...]]:
        return {name: m.panels for name, m in METHODS.items() if m.panels}

    def __getitem__(self, method: str) -> tuple[Panel, ...]:
        if method not in METHODS or not METHODS[method].panels:  # only this method's module is imported
            raise KeyError(method)
        return METHODS[method].panels

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


PANELS: Mapping[str, tuple[Panel, ...]] = _MethodPanels()


def _label(run: dict) -> str:
    return f"{run['variant']} seed {run['seed']}"


def _matches(pattern: str, key: str) -> str | None:
    """The series name a metrics key gives under the panel's key ("*" is a reward's name), or None."""
    if "*" not in pattern:
        return "" if key == pattern else None
    head, tail = pattern.split("*")
    if key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail):
        return key[len(head):len(key) - len(tail)]
    return None


def method_curves(data: ReportData, method: str) -> list[dict]:
    """Rows (run, panel, series, step, value) of the runs trained with `method`, one per logged
    step and panel; `series` is the run, or "run · reward" in a per-function panel."""
    rows = []
    for run in (r for r in data.runs if r.get("method", "sft") == method):
        label = _label(run)
        for panel in PANELS.get(method, ()):
            if panel.key == "loss":
                rows += [{"run": label, "panel": panel.title, "series": label, "step": p["step"], "value": p["loss"]}
                         for p in run.get("loss") or []]
                continue
            for point in run.get("metrics") or []:
                for key, value in point.items():
                    name = None if key == "step" else _matches(panel.key, key)
                    if name is not None:
                        rows.append({"run": label, "panel": panel.title, "series": f"{label} · {name}" if name else label,
                                     "step": point["step"], "value": value})
    return rows


def methods_present(data: ReportData) -> list[str]:
    """The methods with panels that some finished run of the ablation was trained with, in registration order."""
    used = {r.get("method", "sft") for r in data.runs}
    return [m for m in METHODS if m in used and PANELS.get(m)]


def method_figure(data: ReportData, method: str):
    """One row of panels for `method`: a line per run and seed (per function too, for rewards)."""
    rows = method_curves(data, method)
    if not rows:
        return None
    plt = _pyplot()
    panels = PANELS[method]
    fig, axes = plt.subplots(1, len(panels), figsize=(PAGE_WIDTH_IN, 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        mine = [r for r in rows if r["panel"] == panel.title]
        for series in dict.fromkeys(r["series"] for r in mine):
            pts = [r for r in mine if r["series"] == series]
            ax.plot([p["step"] for p in pts], [p["value"] for p in pts], marker="o", ms=3, label=series)
        if mine:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, panel.empty, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
        if panel.zero_line:
            ax.axhline(0, color="#999999", lw=1)
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{method.upper()} training curves, per run and seed", fontsize=10)
    fig.tight_layout()
    return fig


def method_figures(data: ReportData) -> list[tuple[str, object]]:
    """(title, figure) for each method with panels that the ablation's runs used."""
    out = []
    for method in methods_present(data):
        fig = method_figure(data, method)
        if fig is not None:
            out.append((f"{method.upper()} training curves", fig))
    return out
