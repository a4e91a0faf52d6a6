"""The suite audit (issue 28 §3): per suite and metric of a finished ablation, what it can tell apart
for the compute it took, and the record of `ablate --until-decided` (which comparisons were decided,
at which look, and which stopped for the budget).

  signal      the spread of the trained variants' means: the largest difference between two of
              them (and their standard deviation); with one trained variant, it and its baseline
  noise       the seed spread (standard deviation of one seed's mean within a variant, pooled over
              the variants with 2+ seeds) and the A/A control's largest |delta|
  ratio       signal / seed spread
  MDD         the median minimum detectable difference of the comparisons between trained variants
              (vs the baseline where there is one trained variant): 80% power at the alpha each
              comparison is decided at (family-adjusted for headline metrics)
  CPU minutes the ablation's training plus this suite's evaluation, wall minutes x cores per task
  per CPU minute  the MDD scaled to one CPU minute, MDD x sqrt(CPU minutes), and the CPU minutes at
              which the MDD would reach the signal, CPU minutes x (MDD / signal)^2: both assume the
              standard error falls as 1 / sqrt(compute) (more seeds, or items), which holds for the
              part each adds and is optimistic about the t quantile only at very few df
  decides     the MDD is at most the signal: this budget can tell the variants seen here apart
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import asdict, dataclass

from workbench.ablate.outputs import parse_output
from workbench.ablate.tasks import BASE
from workbench.evals.engine import seed_variance
from workbench.report.gather import ReportData

AUDIT_COLUMNS = ["suite", "metric", "variants", "signal (max diff)", "signal sd", "seed sd", "control |delta|",
                 "signal / noise", "MDD", "CPU min", "MDD at 1 CPU min", "CPU min to detect signal", "decides"]
LOOK_COLUMNS = ["variant", "vs", "suite", "metric", "outcome", "delta", "p adj", "level", "seeds"]


@dataclass(frozen=True)
class AuditRow:
    suite: str
    metric: str
    headline: bool
    n_variants: int  # trained variants with a mean on this suite and metric (and the baseline, with one)
    signal: float  # largest difference between two trained variants' means (NaN with fewer than 2)
    signal_sd: float
    seed_sd: float  # pooled sd of one seed's mean (NaN: no variant has 2+ seeds)
    seed_df: int
    control: float | None  # largest |delta| between the A/A control's seeds (None: no control row)
    ratio: float  # signal / seed_sd
    mdd: float
    mdd_from: str  # "between variants" | "vs baseline" | ""
    cpu_min: float
    mdd_1min: float  # mdd * sqrt(cpu_min)
    cpu_min_needed: float  # cpu_min * (mdd / signal)^2
    decides: bool

    def to_dict(self) -> dict:
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}


def _cores(spec: dict) -> float:
    res = (spec.get("resources") or {})
    given = [(res.get(k) or {}).get("num_cpus") for k in ("train", "eval")]
    return float(next((c for c in given if c), None) or os.cpu_count() or 1)


def _minutes(data: ReportData) -> tuple[float, dict[str, float]]:
    """Wall minutes of the ablation's training tasks, and of each suite's evaluation (its own part of
    every eval task; the task's start-up is shared and left out). Tasks reused from another ablation
    count as they were recorded here (no time)."""
    train, per_suite = 0.0, {}
    for t in data.tasks:
        if t["status"] != "done" or not t.get("wall_s"):
            continue
        if t["kind"] == "train":
            train += float(t["wall_s"])
        elif t["kind"] == "eval":
            for r in parse_output("eval", t["output"]).results:
                per_suite[r.suite] = per_suite.get(r.suite, 0.0) + float(r.wall_s or 0.0)
    return train / 60, {s: v / 60 for s, v in per_suite.items()}


def audit(data: ReportData, per_seed: dict, cores: float | None = None) -> list[AuditRow]:
    """One row per suite and metric; `per_seed` is `gather.seed_items` of the same ablation."""
    cores = cores or _cores(data.spec)
    train_min, eval_min = _minutes(data)
    means = {(r["suite"], r["metric"], r["variant"]): r["mean"] for r in data.scores}
    out = []
    for suite in data.suites:
        trained = {v: per_seed[v][suite] for v in per_seed if v != BASE and suite in per_seed[v]}
        compared = list(trained) if len(trained) >= 2 else [*trained, data.baseline]  # one variant: vs its baseline
        cpu = cores * (train_min + eval_min.get(suite, 0.0))
        for metric in data.metrics.get(suite, []):
            vals = [means[(suite, metric, v)] for v in dict.fromkeys(compared) if (suite, metric, v) in means]
            signal = max(vals) - min(vals) if len(vals) >= 2 else math.nan
            signal_sd = statistics.stdev(vals) if len(vals) >= 2 else math.nan
            var = seed_variance(trained, metric)
            seed_sd = math.sqrt(var.between) if var.known else math.nan
            ctrl = [abs(c.delta) for c in data.controls if (c.suite, c.metric) == (suite, metric)
                    and math.isfinite(c.delta)]
            rows = [c for c in data.comparisons if c.kind == "variant" and (c.suite, c.metric) == (suite, metric)]
            between = [c.mdd for c in rows if BASE not in (c.a, c.b) and math.isfinite(c.mdd)]
            vs_base = [c.mdd for c in rows if c.a == data.baseline and math.isfinite(c.mdd)]
            mdd = statistics.median(between or vs_base) if (between or vs_base) else math.nan
            ok = math.isfinite(mdd) and math.isfinite(signal) and signal > 0
            out.append(AuditRow(
                suite, metric, metric in data.headlines.get(suite, []), len(vals), signal, signal_sd, seed_sd,
                var.between_df, max(ctrl) if ctrl else None,
                signal / seed_sd if math.isfinite(signal) and seed_sd > 0 else math.nan, mdd,
                "between variants" if between else ("vs baseline" if vs_base else ""), cpu,
                mdd * math.sqrt(cpu) if cpu > 0 else math.nan, cpu * (mdd / signal) ** 2 if ok else math.nan,
                ok and mdd <= signal))
    return out


def _num(x, fmt: str = ".3g") -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def audit_rows(rows: list[AuditRow]) -> list[list[str]]:
    return [[r.suite, r.metric + (" (headline)" if r.headline else ""), r.n_variants, _num(r.signal),
             _num(r.signal_sd), _num(r.seed_sd) + (f" ({r.seed_df} df)" if r.seed_df else ""), _num(r.control),
             _num(r.ratio, ".2f"), _num(r.mdd) + (f" ({r.mdd_from})" if r.mdd_from else ""), _num(r.cpu_min, ".1f"),
             _num(r.mdd_1min), _num(r.cpu_min_needed, ".0f"), "yes" if r.decides else "no"] for r in rows]


def verdict_lines(rows: list[AuditRow]) -> list[str]:
    """Which suites can decide at this budget (on a headline metric), and which cannot."""
    heads = [r for r in rows if r.headline] or rows
    yes = sorted({r.suite for r in heads if r.decides})
    no = [r for r in heads if not r.decides and r.suite not in yes]
    out = [f"can decide at this budget: {', '.join(yes) if yes else 'no suite'}"]
    for r in no:
        if not math.isfinite(r.mdd):
            out.append(f"{r.suite} {r.metric}: no minimum detectable difference (no interval)")
        elif not (math.isfinite(r.signal) and r.signal > 0):
            out.append(f"{r.suite} {r.metric}: the variants' means do not differ (MDD {_num(r.mdd)})")
        else:
            out.append(f"{r.suite} {r.metric}: MDD {_num(r.mdd)} vs signal {_num(r.signal)}: needs "
                       f"~{r.cpu_min_needed:.0f} CPU min (spent {r.cpu_min:.1f})")
    return out


def audit_note(data: ReportData) -> str:
    return (f"Per suite and metric: signal = largest difference between trained variants' means (with one, it and "
            f"the baseline); noise = the seed "
            f"sd (one seed's mean, pooled over variants with 2+ seeds) and the A/A control's largest |delta|; MDD = "
            f"median minimum detectable difference (80% power); CPU min = training + this suite's evaluation, wall "
            f"minutes x {_cores(data.spec):g} cores; MDD at 1 CPU min and CPU min to detect the signal assume the "
            f"standard error falls as 1/sqrt(compute). Decides: MDD <= signal.")


def looks_rows(record) -> list[list[str]]:
    outcome = {"budget": "undecided: stopped for the budget", "max looks": "undecided after the last planned look",
               "failed": "undecided: a task failed", "": "undecided"}
    return [[c.variant, c.baseline, c.suite, c.metric,
             f"decided at look {c.look}: {c.verdict}" if c.state == "decided" else outcome.get(c.stopped, c.stopped),
             _num(c.delta, "+.3f"), _num(c.p_adjusted), _num(c.level), c.seeds] for c in record.comparisons]


def sections(ws, data: ReportData) -> list[tuple[str, str, list[str], list[list]]]:
    """The report's audit section, and the looks of `ablate --until-decided` where it ran."""
    from workbench.ablate.sequential import load_record
    from workbench.report.gather import seed_items

    rows = audit(data, seed_items(ws, data.name))
    out = [("Suite audit", audit_note(data) + " " + " ".join(s + "." for s in verdict_lines(rows)),
            AUDIT_COLUMNS, audit_rows(rows))]
    record = load_record(ws, data.name)
    if record is not None:
        out.append(("Seeds until decided", f"{record.summary()}. Sequential looks keep the false-positive rate by "
                    f"{record.method}. Delta, p and level are at the deciding look (undecided: the last look).",
                    LOOK_COLUMNS, looks_rows(record)))
    return out
