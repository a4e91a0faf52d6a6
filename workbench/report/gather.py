"""Reading an ablation from the catalog into the report's data: the typed task outputs
(workbench.ablate.outputs), per-item eval samples, training loss curves, and the comparisons
(every one a `workbench.evals.engine.Decision`, its direction the one stored with the eval
result). All reads are short queries on a reader catalog, so this works while
an ablation runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.ablate.outputs import done_outputs, parse_output
from workbench.ablate.schema import AblationSpec, stored_spec
from workbench.ablate.shared import shared_runs
from workbench.ablate.tasks import BASE
from workbench.evals.engine import SKIP_METRICS, Directions, decide, suite_questions
from workbench.evals.matrices import ItemScores, SeedScores, score_tables
from workbench.report.stats import ComparisonRow, headline_metrics, score_row, seed_spread
from workbench.core.workspace import Workspace


def eval_items(cat, result_id: str) -> dict[str, dict]:
    """Per-item samples of one eval result: item_id -> {prompt, response, scores}."""
    return _as_items(cat.result_samples(result_id))


def _as_items(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for r in rows:
        out[str(r["item_id"])] = {"prompt": r["prompt"] or "", "response": r["response"] or "",
                                  "scores": {k: float(v) for k, v in r["scores"].items() if _is_number(v)}}
    return out


def _result_ids(evaluated: list[dict]) -> list[str]:
    return list(dict.fromkeys(rid for t in evaluated for rid in t["results"].values()))


def _all_scores(cat, evaluated: list[dict]) -> dict[str, ItemScores]:
    """result id -> item id -> {metric: score} of every result of the evaluated targets: one query,
    the scores taken apart by SQL (as `eval_items` reads them: numbers, NaN left out) and held as
    arrays (`matrices.ItemScores`, a Mapping equal to `cat.results_scores`'s dicts)."""
    return score_tables(*cat.results_score_arrays(_result_ids(evaluated)))


def _all_texts(cat, evaluated: list[dict]) -> dict[str, dict[str, tuple[str, str]]]:
    """result id -> item id -> (prompt, response) of every result of the evaluated targets, in one query."""
    return {rid: {str(r["item_id"]): (r["prompt"] or "", r["response"] or "") for r in rows}
            for rid, rows in cat.results_samples(_result_ids(evaluated)).items()}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))


@dataclass
class ReportData:
    name: str
    spec: dict
    suites: list[str]
    layer: str
    variants: list[dict]  # name, version, n_rows, status, steps (list[BuildStep]), error
    runs: list[dict]  # variant, seed, run_id, mode, method, wall_s, tokens_per_s, loss, eval_loss, metrics
    metrics: dict[str, list[str]]  # suite -> metric names (first is the headline)
    scores: list[dict]  # variant, suite, metric, n, mean, lo, hi
    comparisons: list[ComparisonRow]  # every pair (base first), suite and metric: B - A
    disagreements: list[dict]  # suite, metric, item_id, prompt, responses {variant: (score, text)}
    failures: list[dict]  # label, variant, error
    tasks: list[dict] = field(default_factory=list)
    baseline: str = BASE  # what each variant's verdict is against
    headlines: dict[str, list[str]] = field(default_factory=dict)  # suite -> the metrics verdicts rest on
    seed_spread: list[dict] = field(default_factory=list)  # variant, suite, metric, seeds {seed: mean}, sd
    strategies: list = field(default_factory=list)  # report.strategies.StrategyRow per generated variant x metric
    credit: list = field(default_factory=list)  # report.credit (shapley) and report.mixture (mixture_search) rows

    def order(self) -> list[str]:
        return [BASE] + [v["name"] for v in self.variants]

    @property
    def deltas(self) -> list[ComparisonRow]:
        """Each variant vs the untrained base model (a is the base)."""
        return [c for c in self.comparisons if c.a == BASE and c.kind == "variant"]

    @property
    def pairwise(self) -> list[ComparisonRow]:
        """Between variants."""
        return [c for c in self.comparisons if c.a != BASE and c.kind == "variant"]

    @property
    def controls(self) -> list[ComparisonRow]:
        """The A/A control's seed pairs: the noise floor."""
        return [c for c in self.comparisons if c.kind == "control"]

    def against_baseline(self, variant: str | None = None) -> list[ComparisonRow]:
        """The headline rows of one variant (or of every variant) against the baseline: the verdict's rows."""
        return [c for c in self.comparisons if c.kind == "variant" and c.headline and c.a == self.baseline
                and (variant is None or c.b == variant)]


def targets(ws: Workspace, name: str) -> tuple[dict, list[dict]]:
    """The ablation row and its evaluated targets (base first):
    [{variant, seed, target, results: {suite: result_id}, primary: {suite: metric}}].

    Variants with the same data share their train and eval tasks (content-addressed: one task
    row, under the variant that ran it first); every variant that maps to a run gets its entry."""
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    tasks = cat.ablation_tasks(name)
    out = []
    for t, o in done_outputs(tasks, "eval"):
        out.append({"variant": t["variant"], "seed": t["seed"], "target": o.target,
                    "results": {r.suite: r.result_id for r in o.results},
                    "primary": {r.suite: r.primary_metric for r in o.results}})
    by_target = {r["target"]: r for r in out}
    have = {(r["variant"], r["seed"]) for r in out}
    for variant, seed, run_id in shared_runs(abl["spec"], tasks):
        if (variant, seed) not in have and run_id in by_target:
            out.append({**by_target[run_id], "variant": variant, "seed": seed})
    out.sort(key=lambda r: (r["variant"] != BASE, r["variant"], r["seed"] or 0))
    return abl, out


def report_state(ws: Workspace, name: str) -> tuple:
    """A key that changes whenever `report_data(ws, name)` would (one aggregate query): what a view
    caches its report data under, instead of reading every item again on a timer."""
    return ws.catalog(reader=True).ablation_state(name)


def result_id(ws: Workspace, name: str, target: str, suite: str) -> str | None:
    for t in targets(ws, name)[1]:
        if t["target"] == target:
            return t["results"].get(suite)
    return None


def item_table(ws: Workspace, name: str) -> dict:
    """variant -> suite -> item_id -> {scores (mean over seeds), prompt, responses per seed}."""
    cat = ws.catalog(reader=True)
    evaluated = targets(ws, name)[1]
    return _item_table(evaluated, _all_scores(cat, evaluated), _all_texts(cat, evaluated))


def _item_table(evaluated: list[dict], scores: dict[str, dict[str, dict[str, float]]],
                texts: dict[str, dict[str, tuple[str, str]]] | None = None) -> dict:
    """The item table from every result's scores; prompts and responses '' without `texts`."""
    table: dict[str, dict[str, dict[str, dict]]] = {}
    none = ("", "")
    for t in evaluated:
        for suite, rid in t["results"].items():
            said = (texts or {}).get(rid, {})
            dest = table.setdefault(t["variant"], {}).setdefault(suite, {})
            for item_id, sc in scores.get(rid, {}).items():
                prompt, response = said.get(item_id, none)
                d = dest.get(item_id)
                if d is None:
                    d = dest[item_id] = {"prompt": prompt, "responses": [], "per_seed": []}
                d["responses"].append(response)
                d["per_seed"].append(sc)
    for suites in table.values():
        for items in suites.values():
            for d in items.values():
                per_seed = d["per_seed"]
                if len(per_seed) == 1:
                    d["scores"] = dict(per_seed[0])
                    continue
                metrics = list(dict.fromkeys(m for s in per_seed for m in s))  # stored order, not set order
                d["scores"] = {m: sum(s.get(m, 0.0) for s in per_seed) / len(per_seed) for m in metrics}
    return table


def _item_means(evaluated: list[dict], scores: dict[str, ItemScores]) -> dict[str, dict[str, dict[str, dict]]]:
    """variant -> suite -> item_id -> {"scores": mean over the variant's seeds} from the results' arrays
    (`Catalog.item_means`'s numbers, summed in seed order: a result without a number for a metric adds
    0, an item's mean is over the results that have the item, a metric no result scored is left out)."""
    groups: dict[tuple[str, str], list[ItemScores]] = {}
    for t in evaluated:
        for suite, rid in t["results"].items():
            if rid in scores:
                groups.setdefault((t["variant"], suite), []).append(scores[rid])
    table: dict[str, dict[str, dict[str, dict]]] = {}
    for (variant, suite), rs in groups.items():
        its = _means(rs)
        if its:
            table.setdefault(variant, {})[suite] = its
    return table


def _means(rs: list[ItemScores]) -> dict[str, dict]:
    first = rs[0]
    if all(r._items is first._items and r.metrics == first.metrics for r in rs):  # the usual case: one array sum
        total, seen = np.zeros(first.values.shape), np.zeros(first.values.shape, dtype=bool)
        for r in rs:
            have = ~np.isnan(r.values)
            total += np.where(have, r.values, 0.0)
            seen |= have
        rows, seen_rows = (total / len(rs)).T.tolist(), seen.T.tolist()
        return {k: {"scores": {m: x for m, x, on in zip(first.metrics, row, on_row) if on}}
                for k, row, on_row in zip(first, rows, seen_rows)}
    acc: dict[str, list] = {}
    for r in rs:
        for k, sc in r.items():
            n_sums = acc.setdefault(k, [0, {}])
            n_sums[0] += 1
            for m, x in sc.items():
                n_sums[1][m] = n_sums[1].get(m, 0.0) + x
    return {k: {"scores": {m: v / acc[k][0] for m, v in acc[k][1].items()}} for k in sorted(acc)}


def _primary(evaluated: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in evaluated:
        for suite, m in t["primary"].items():
            if m:
                out.setdefault(suite, m)
    return out


def primary_metrics(ws: Workspace, name: str) -> dict[str, str]:
    return _primary(targets(ws, name)[1])


def _variants(spec: AblationSpec, tasks: list[dict]) -> list[dict]:
    builds = {t["variant"]: t for t in tasks if t["kind"] == "build"}
    out = []
    for v in spec.variants:
        t = builds.get(v.name)
        o = parse_output("build", t["output"]) if t and t["status"] == "done" else None
        out.append({"name": v.name, "status": t["status"] if t else "not started",
                    "version": o.version if o else None, "n_rows": o.n_rows if o else None,
                    "steps": o.steps if o else [], "error": (t or {}).get("error")})
    return out


def _runs(cat, tasks: list[dict]) -> list[dict]:
    done = done_outputs(tasks, "train")
    steps = cat.runs_steps([o.run_id for _, o in done])  # one query for every run
    return [{"variant": t["variant"], "seed": t["seed"], "run_id": o.run_id, "mode": o.mode, "wall_s": o.train_wall_s,
             "tokens_per_s": o.tokens_per_s, "method": (t["inputs"].get("config") or {}).get("method") or "sft",
             **_curves(steps[o.run_id])}
            for t, o in done]


def _curves(steps: list[dict]) -> dict:
    """The training loss per logged step, the held-out loss at each eval step (eval_fraction > 0),
    and the method's own numbers per step (dpo margins, grpo rewards: `run_steps.metrics`)."""
    return {"loss": [{"step": r["step"], "loss": r["loss"]} for r in steps if r["loss"] is not None],
            "eval_loss": [{"step": r["step"], "eval_loss": r["eval_loss"]} for r in steps if r.get("eval_loss") is not None],
            "metrics": [{"step": r["step"], **r["metrics"]} for r in steps if r.get("metrics")]}


def report_data(ws: Workspace, name: str, max_examples: int = 5) -> ReportData:
    cat = ws.catalog(reader=True)
    abl = cat.get_ablation(name)
    spec = abl["spec"]
    parsed = stored_spec(spec, name)  # the stored spec through the spec's own classes
    tasks = cat.ablation_tasks(name)
    suites, layer = list(parsed.eval.suites), parsed.eval.layer
    evaluated = targets(ws, name)[1]
    by_result = _all_scores(cat, evaluated)  # every item's scores in one query; texts only where shown
    items = _item_means(evaluated, by_result)
    primary = _primary(evaluated)
    metrics: dict[str, list[str]] = {}
    for suite in suites:
        head: list[str] = [primary[suite]] if suite in primary else []
        found = {m for v in items.values() for d in v.get(suite, {}).values() for m in d["scores"]} - SKIP_METRICS
        metrics[suite] = head + sorted(found - set(head))  # the primary first, then by name: the same in every process

    direction = stored_directions(cat, evaluated, layer)
    order = [BASE] + [v.name for v in parsed.variants]
    baseline = parsed.baseline
    control = parsed.control
    per_seed = _seed_items(evaluated, by_result)
    trained = {v for v in per_seed if v != BASE}
    headlines = {suite: headline_metrics(primary.get(suite), metrics[suite]) for suite in suites}
    family_size = max(1, sum(len(h) for h in headlines.values()) * max(1, len(order) - 1))
    scores, questions, spreads, disagreements = [], [], [], []
    for suite in suites:
        for metric in metrics[suite]:
            for v in order:
                vals = [d["scores"][metric] for d in items.get(v, {}).get(suite, {}).values() if metric in d["scores"]]
                if vals:
                    scores.append(score_row(v, suite, metric, vals))
            for v in order if metric in headlines[suite] else ():
                spread = seed_spread(v, suite, metric, per_seed.get(v, {}).get(suite, {}))
                if spread is not None:
                    spreads.append(spread)
        present = [v for v in order if per_seed.get(v, {}).get(suite)]
        pairs = [_orient(a, b, baseline) for i, a in enumerate(present) for b in present[i + 1:]]
        questions += suite_questions(
            suite, metrics[suite], headlines[suite], pairs, {v: per_seed[v][suite] for v in present}, trained,
            direction, (control.variant, [str(s) for s in control.seeds]) if control else None, family_size)
        if metrics[suite]:
            disagreements += _disagreements(items, order, suite, metrics[suite][0], max_examples)
    _fill_texts(cat, evaluated, disagreements)
    comparisons = decide(questions)  # one family: every pair x suite headline metric
    # the order the tables show: suite, then metric, then pair
    rank = {(s, m): (i, j) for i, s in enumerate(suites) for j, m in enumerate(metrics[s])}
    comparisons.sort(key=lambda c: rank[(c.suite, c.metric)])

    failures = [{"label": t["label"], "variant": t["variant"], "status": t["status"],
                 "error": (t["error"] or "").split("\n\n")[0]} for t in tasks if t["status"] in ("failed", "interrupted")]
    from workbench.report.credit import credit_rows
    from workbench.report.strategies import strategy_rows

    variants = _variants(parsed, tasks)
    return ReportData(name, spec, suites, layer, variants, _runs(cat, tasks), metrics, scores,
                      comparisons, disagreements, failures, tasks, baseline=baseline, headlines=headlines,
                      seed_spread=spreads, strategies=strategy_rows(spec, variants, per_seed, headlines, direction),
                      credit=credit_rows(spec, per_seed, headlines, direction))


def stored_directions(cat, evaluated: list[dict], layer: str) -> Directions:
    """Which way is better per (suite, metric): as stored with the ablation's eval results."""
    found = cat.get_eval_results([rid for t in evaluated for rid in t["results"].values()])
    rows = [found.get(rid) for t in evaluated for rid in t["results"].values()]
    return Directions([r for r in rows if r is not None], layer)


def _orient(a: str, b: str, baseline: str) -> tuple[str, str]:
    """A pair with the baseline (when it is one side) as A, so B - A reads "the variant vs the baseline"."""
    return (b, a) if b == baseline else (a, b)


def seed_items(ws: Workspace, name: str) -> dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]]:
    """variant -> suite -> seed label -> item_id -> {metric: score}; the base model's label is "base"."""
    evaluated = targets(ws, name)[1]
    return _seed_items(evaluated, _all_scores(ws.catalog(reader=True), evaluated))


def _seed_items(evaluated: list[dict], scores: dict[str, ItemScores]) -> dict:
    """variant -> suite -> `matrices.SeedScores` (seed label -> the result's items): the engine takes
    each metric's seeds x items matrix from its arrays."""
    out: dict = {}
    for t in evaluated:
        label = "base" if t["seed"] is None else str(t["seed"])
        for suite, rid in t["results"].items():
            out.setdefault(t["variant"], {}).setdefault(suite, {})[label] = scores.get(rid, {})
    return {v: {suite: SeedScores(per) if all(isinstance(x, ItemScores) for x in per.values()) else per
                for suite, per in suites.items()} for v, suites in out.items()}


def _fill_texts(cat, evaluated: list[dict], disagreements: list[dict]) -> None:
    """The prompt and each variant's response (its first evaluated target's) of the items shown,
    read for those items only."""
    first: dict[tuple[str, str], str] = {}
    for t in evaluated:
        for suite, rid in t["results"].items():
            first.setdefault((t["variant"], suite), rid)
    wanted = {(first[(v, d["suite"])], d["item_id"]) for d in disagreements for v in d["responses"]}
    texts = cat.sample_texts(sorted(wanted))
    for d in disagreements:
        variants = list(d["responses"])
        d["prompt"] = texts.get((first[(variants[0], d["suite"])], d["item_id"]), ("", ""))[0]
        for v in variants:
            d["responses"][v]["text"] = texts.get((first[(v, d["suite"])], d["item_id"]), ("", ""))[1]


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
        out.append({"suite": suite, "metric": metric, "item_id": k, "prompt": "",  # texts: _fill_texts
                    "responses": {v: {"score": vals[v], "text": ""} for v in present}})
    return out


def headline(data: ReportData) -> list[dict]:
    """variant x suite on each suite's headline metric: score [CI], delta vs the baseline [CI], mark."""
    rows = []
    for v in data.order():
        for suite in data.suites:
            if not data.metrics.get(suite):
                continue
            metric = data.metrics[suite][0]
            s = next((r for r in data.scores if r["variant"] == v and r["suite"] == suite and r["metric"] == metric), None)
            if s is None:
                continue
            d = next((c for c in data.comparisons if c.kind == "variant" and c.a == data.baseline and c.b == v
                      and c.suite == suite and c.metric == metric), None)
            rows.append({"variant": v, "suite": suite, "metric": metric, "n": s["n"], "score": s["mean"],
                         "lo": s["lo"], "hi": s["hi"], "delta": d and d.delta, "d_lo": d and d.lo,
                         "d_hi": d and d.hi, "p": d and d.p, "p_adjusted": d and d.p_adjusted,
                         "significant": bool(d and d.significant), "verdict": (d.verdict if d else "") or "",
                         "baseline": v == data.baseline})
    return rows
