"""The one decision engine: is B better than A, or is the difference noise?

Every comparison workbench shows is a `Decision` made by `decide`: the `workbench compare` table
and its `--json`, the report and `report --json`, the strategy sections and the Streamlit view.
Nothing else assigns a verdict or a colour.

  Question      one comparison to decide: B - A on one suite and metric, its seed-aware
                statistics (`decide.paired_seed_diff` for trained variants on common seeds,
                `decide.seed_aware_diff` / `controls.removal_vs_control` otherwise), the family its p-value
                is adjusted in, and the A/A control's comparisons (shown beside it, not a threshold)
  decide        Questions -> Decisions: p-values adjusted per family (Holm), the verdict word
                from `verdict.verdict_word` (direction-aware)
  Decision      the frozen, typed result (`to_dict` is the JSON row); `colour` is what a table
                shows: green better in the metric's direction, red worse, none for noise
  Directions    which way is better, per (suite, metric): what each eval result stored with its
                row; for a row stored before directions were, `suite_direction` (the one fallback)
  suite_questions / compare_targets   Questions for the pairs of an ablation suite, and two
                evaluated models or runs read from the catalog (`workbench compare`)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from workbench.evals import behrens
from workbench.evals.decide import (SeedAwareDiff, SeedVariance, common_seeds, diff_arrays, paired_arrays, paired_result,
                                    paired_seed_diff, pooled_parts, pooled_seed_variance, seed_aware_diff,
                                    unpaired_result)
from workbench.evals.matrices import SeedScores, _paired_rows, _part, table_of
from workbench.evals.scoring import higher_is_better as metric_default_direction
from workbench.evals.verdict import WORDS, adjust_pvalues, verdict_word

ALPHA = 0.05
# paired seeds by default from 3 common seeds: at 2 the pair's own seed part has 1 df, and under Holm
# (alpha / family) its interval is too wide to call anything (benchmarks/README.md, Paired seeds)
PAIRED_MIN_SEEDS = 3
ADJUST = "holm"
LIKELIHOOD_METRIC = "bits_per_byte"
SKIP_METRICS = frozenset({"n_instructions"})  # a count, not a score
COLOURS = {WORDS[0]: "green", WORDS[1]: "red"}  # better, worse; noise has none
STRATEGY = {WORDS[0]: "helps", WORDS[1]: "hurts"}  # anything else: "inconclusive"

# {seed label: {item_id: {metric: score}}}; the untrained base model has one label ("base")
SeedItems = Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class Decision:
    """B vs A on one suite and metric (B - A on the items both scored, means over seeds then items)."""

    a: str
    b: str
    suite: str
    metric: str
    higher_is_better: bool
    delta: float  # mean(B) - mean(A); its sign does not depend on the direction
    lo: float  # 95% CI (item + training noise); NaN when there is no spread (see `note`)
    hi: float
    p: float | None  # unadjusted, two-sided
    p_adjusted: float | None  # adjusted over the family (None: not a headline metric)
    significant: bool  # headline: the verdict is better or worse; otherwise p < alpha
    kind: str  # variant | control | vs_control | vs_source
    n: int  # common items
    mdd: float  # minimum detectable |difference| (family-adjusted alpha for headline metrics)
    verdict: str = ""  # better | worse | noise for headline metrics, "" otherwise
    headline: bool = False
    n_seeds_a: int = 1
    n_seeds_b: int = 1
    training_noise: bool = True  # the interval includes seed-to-seed training noise
    floor: float | None = None  # an A/A noise floor applied as a threshold: None (the rule no longer has one)
    note: str = ""  # why there is no interval, or what the interval leaves out
    se: float = math.nan
    df: float = math.nan
    paired_seeds: bool = False  # seed s of A paired with seed s of B (training noise = interaction)

    def to_dict(self) -> dict:
        """Plain JSON: a missing number (no interval, no p) is null, never NaN."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, row: Mapping) -> "Decision":
        names = {f.name for f in fields(cls)}
        return cls(**{k: (math.nan if v is None and k in ("lo", "hi", "mdd", "se", "df", "delta") else v)
                      for k, v in row.items() if k in names})

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def improvement(self) -> float:
        """delta signed so that positive means B is better in the metric's direction."""
        return self.delta if self.higher_is_better else -self.delta

    @property
    def called(self) -> bool:
        return self.verdict in COLOURS

    @property
    def colour(self) -> str:
        """green: B better in the metric's direction, red: worse, "": noise or no verdict."""
        return COLOURS.get(self.verdict, "")

    @property
    def strategy_word(self) -> str:
        return STRATEGY.get(self.verdict, "inconclusive")

    def flipped(self) -> "Decision":
        """The same decision read as A vs B: delta, interval and verdict change sign."""
        swap = {WORDS[0]: WORDS[1], WORDS[1]: WORDS[0]}
        return replace(self, a=self.b, b=self.a, delta=-self.delta, lo=-self.hi, hi=-self.lo,
                       verdict=swap.get(self.verdict, self.verdict), n_seeds_a=self.n_seeds_b, n_seeds_b=self.n_seeds_a)


@dataclass(frozen=True)
class Question:
    """One comparison to decide. `family`: comparisons with the same key are adjusted together and
    get a verdict; None: not a headline metric (unadjusted p, no verdict). `floor`: the A/A
    control's comparisons on this suite and metric, kept with the question for the reader; they
    are not a threshold (the control's seeds are in the variance: `verdict.VERDICT_RULE`)."""

    a: str
    b: str
    suite: str
    metric: str
    diff: SeedAwareDiff
    kind: str = "variant"
    family: Hashable | None = None
    floor: tuple[SeedAwareDiff, ...] = ()


def decide(questions: Sequence[Question], method: str = ADJUST, alpha: float = ALPHA) -> list[Decision]:
    """The verdict of every question, in input order (see `verdict.VERDICT_RULE`).

    Per family: p-values adjusted together (`method`); a difference is called better or worse
    when its adjusted p is below `alpha`, in the direction of its metric. The A/A control is
    decided as its own family: whether it came out clean is the report's to say."""
    questions = list(questions)
    adjusted: dict[int, float | None] = {}
    for fam in dict.fromkeys(q.family for q in questions if q.family is not None):
        idx = [i for i, q in enumerate(questions) if q.family == fam]
        adjusted.update(zip(idx, adjust_pvalues([_p(questions[i].diff) for i in idx], method)))
    out = []
    for i, q in enumerate(questions):
        d = q.diff
        floor = word = None
        if i in adjusted:
            word = verdict_word(d.delta, adjusted[i], higher_is_better=d.higher_is_better, alpha=alpha)
        out.append(Decision(q.a, q.b, q.suite, q.metric, d.higher_is_better, d.delta, d.lo, d.hi, _p(d),
                            adjusted.get(i), (word in COLOURS) if word else bool(d.significant), q.kind, d.n_items,
                            d.mdd, word or "", word is not None, d.n_seeds_a, d.n_seeds_b, d.training_noise_included,
                            floor, d.reason, d.se, d.df, d.paired_seeds))
    return out


def _p(d: SeedAwareDiff) -> float | None:
    return None if d.p is None or math.isnan(d.p) else float(d.p)


# ---------------------------------------------------------------------------------------
# Direction: stored with each result; the suite's definition for rows stored before that
# ---------------------------------------------------------------------------------------


def suite_direction(suite: str, metric: str, layer: str = "smoke") -> bool:
    """The one fallback for a result stored without directions: the suite's lm-eval
    `metric_list[].higher_is_better`, else `scoring.higher_is_better` (bits per byte: lower)."""
    from workbench.evals.suites import discover

    found = discover().get(suite)
    config = found.configs.get(layer, {}) if found is not None else {}
    declared = {m["metric"]: m.get("higher_is_better") for m in config.get("metric_list") or [] if "metric" in m}
    return metric_default_direction(metric, declared)


class Directions:
    """higher_is_better per (suite, metric), from the eval result rows' stored `higher_is_better`."""

    def __init__(self, rows: Iterable[Mapping] = (), layer: str = "smoke"):
        self.layer = layer
        self.stored: dict[tuple[str, str], bool] = {}
        self.conflicts: set[tuple[str, str]] = set()
        self._fallback: dict[tuple[str, str], bool] = {}
        for r in rows:
            for metric, hib in (r.get("higher_is_better") or {}).items():
                key = (r["suite"], metric)
                if key in self.stored and self.stored[key] != bool(hib):
                    self.conflicts.add(key)
                self.stored.setdefault(key, bool(hib))

    @classmethod
    def of(cls, known, layer: str = "smoke"):
        """A callable (suite, metric) -> higher_is_better from a `Directions` (or any such callable), or
        from a {(suite, metric): bool} mapping of known directions."""
        if callable(known):
            return known
        out = cls(layer=layer)
        out.stored.update({key: bool(v) for key, v in (known or {}).items()})
        return out

    def __call__(self, suite: str, metric: str) -> bool:
        key = (suite, metric)
        if key in self.stored and key not in self.conflicts:
            return self.stored[key]
        if key not in self._fallback:  # not stored (an older row), or stored both ways: the suite decides
            self._fallback[key] = suite_direction(suite, metric, self.layer)
        return self._fallback[key]


# ---------------------------------------------------------------------------------------
# Questions of an ablation suite (the report) and of two targets (`workbench compare`)
# ---------------------------------------------------------------------------------------


def headline_metrics(primary: str | None, metrics: Iterable[str]) -> list[str]:
    """The metrics a suite's verdict rests on: its primary metric, and bits per byte if scored."""
    out = [primary] if primary else []
    if LIKELIHOOD_METRIC in metrics and LIKELIHOOD_METRIC not in out:
        out.append(LIKELIHOOD_METRIC)
    return out


def metric_scores(per_seed: SeedItems, metric: str) -> dict[str, dict[str, float]]:
    """{seed: {item: score}} of one metric (items without it left out); from the arrays of a `SeedScores`."""
    if isinstance(per_seed, SeedScores):
        return per_seed.metric_scores(metric)
    out = {s: {i: sc[metric] for i, sc in items.items() if metric in sc} for s, items in per_seed.items()}
    return {s: items for s, items in out.items() if items}


def seed_variance(trained: Mapping[str, SeedItems], metric: str) -> SeedVariance:
    """Training noise of one seed's mean on this metric, pooled over the trained variants with 2+ seeds."""
    return pooled_seed_variance([metric_scores(v, metric) for v in trained.values()])


def pair_diff(a: Mapping, b: Mapping, common: Sequence, *, higher_is_better: bool, seed_var,
              a_trained: bool = True, b_trained: bool = True, family_size: int = 1,
              paired_min_seeds: int = PAIRED_MIN_SEEDS) -> SeedAwareDiff:
    """B - A as every pair is decided, one pair at a time: seed s with seed s on `paired_min_seeds`+
    `common` seeds of two trained variants (`decide.paired_seed_diff`), else the unpaired path with the
    pooled seed variance (`seed_var`: a SeedVariance, or a callable that computes it when needed)."""
    if a_trained and b_trained and len(common) >= max(paired_min_seeds, 2):
        return paired_seed_diff(a, b, common, higher_is_better=higher_is_better, alpha=ALPHA, family_size=family_size)
    var = seed_var() if callable(seed_var) else seed_var
    return seed_aware_diff(a, b, higher_is_better=higher_is_better, seed_var=var, a_trained=a_trained,
                           b_trained=b_trained, alpha=ALPHA, family_size=family_size)


def suite_questions(suite: str, metrics: Sequence[str], headline: Sequence[str], pairs: Sequence[tuple[str, str]],
                    per_variant: Mapping[str, SeedItems], trained: set[str], direction,
                    control: tuple[str, Sequence[str]] | None = None, family_size: int = 1,
                    family: Hashable = "headline", paired: bool = True,
                    paired_min_seeds: int = PAIRED_MIN_SEEDS) -> list[Question]:
    """Every pair on every metric of one suite, plus the A/A control's seed pairs on the headline
    metrics (family `("control", family)`). Headline questions join `family`; `direction` is a
    callable (suite, metric) -> higher_is_better (a `Directions`). `paired` (the default): two
    trained variants on `paired_min_seeds`+ common seeds pair seed s with seed s (`decide.paired_seed_diff`: the
    pair's own seed differences, Behrens-Fisher fiducial p, calibrated with one variant's seed
    noise 10x another's, benchmarks/decisions.py part d); the others, and every pair with
    `paired=False`, keep the unpaired path (seed variance pooled over the trained variants, the
    A/A control's seeds included).

    At scale (issue 26) each variant's seed x item matrix is built once per metric (stacked from its
    arrays when `per_variant` holds `matrices.SeedScores`, as the report reads them) and every
    paired pair takes its rows from it; the pairs of a metric are then decided together
    (`paired_batch`: the same numbers as `paired_seed_diff` one pair at a time)."""
    out: list = []
    for metric in metrics:
        hib = direction(suite, metric)
        head = metric in headline
        scored = {v: metric_scores(s, metric) for v, s in per_variant.items()}  # each variant's scores, taken out once
        tables = {v: table_of(per_variant[v], s, metric) for v, s in scored.items()}
        pooled: list[SeedVariance] = []

        def var() -> SeedVariance:  # the unpaired path's pooled seed variance, computed when first needed
            if not pooled:
                pooled.append(pooled_parts([p for p in (_part(scored[v], tables[v]) for v in sorted(trained) if v in scored)
                                            if p is not None]))
            return pooled[0]

        ctrl: list[SeedAwareDiff] = []
        if control is not None and head and control[0] in per_variant:
            v, seeds = control
            scores = scored[v]
            for other in seeds[1:]:
                if seeds[0] in scores and other in scores:
                    d = seed_aware_diff({seeds[0]: scores[seeds[0]]}, {other: scores[other]}, higher_is_better=hib,
                                        seed_var=var(), alpha=ALPHA)
                    ctrl.append(d)
                    out.append(Question(f"{v} seed {seeds[0]}", f"{v} seed {other}", suite, metric, d, "control",
                                        ("control", family)))
        size = family_size if head else 1
        jobs: list[tuple] = []  # (index in out, A rows, B rows, unpaired items): decided together below
        unpaired: list[tuple] = []  # (index in out, A, B, A trained, B trained): likewise
        for a, b in pairs:
            sa, sb = scored[a], scored[b]
            if not sa or not sb:
                continue
            common = common_seeds(sa, sb) if paired and a in trained and b in trained and a != b else []
            q = Question(a, b, suite, metric, None, "variant", family if head else None, tuple(ctrl))
            if len(common) >= max(paired_min_seeds, 2):
                rows = _paired_rows(sa, sb, tables[a], tables[b], common)
                if rows is not None:
                    jobs.append((len(out), *rows))
                    out.append(q)
                    continue
            else:
                ta, tb = tables[a], tables[b]
                if ta is not None and tb is not None and ta[1] == tb[1] and len(ta[1]) >= 2:
                    unpaired.append((len(out), ta[2], tb[2], a in trained, b in trained))
                    out.append(q)
                    continue
            d = pair_diff(sa, sb, common, higher_is_better=hib, seed_var=var, a_trained=a in trained,
                          b_trained=b in trained, family_size=size, paired_min_seeds=paired_min_seeds)
            out.append(replace(q, diff=d))
        done = paired_batch([j[1:] for j in jobs], higher_is_better=hib, alpha=ALPHA, family_size=size)
        if unpaired:
            done += unpaired_batch([j[1:] for j in unpaired], var(), higher_is_better=hib, alpha=ALPHA,
                                   family_size=size)
        for (i, *_), d in zip(jobs + unpaired, done):
            out[i] = replace(out[i], diff=d)
    return out


def paired_batch(pairs: Sequence[tuple[np.ndarray, np.ndarray, int]], *, higher_is_better: bool = True,
                 alpha: float = ALPHA, power: float = 0.8, family_size: int = 1) -> list[SeedAwareDiff]:
    """`decide.paired_seed_diff` of many pairs at once from their (A, B, unpaired) paired seeds x items
    matrices: the pairs of one shape stacked, their statistics, Behrens-Fisher critical values and
    minimum detectable differences computed over the stack (no root-finding per pair). The numbers are
    `paired_seed_diff`'s (tests/test_engine_batch.py), the MDE within brentq's tolerance (1e-8 x se)."""
    out: list = [None] * len(pairs)
    groups: dict[tuple, list[int]] = {}
    for j, (a, _, _) in enumerate(pairs):
        groups.setdefault(a.shape, []).append(j)
    m_alpha = alpha / max(family_size, 1)
    for (k, n), idx in groups.items():
        a, b = np.stack([pairs[j][0] for j in idx]), np.stack([pairs[j][1] for j in idx])
        r = paired_arrays(a, b, alpha)
        with np.errstate(invalid="ignore"):
            half_m = behrens.critical(r["var_item"], r["item_df"], r["var_seed"], r["seed_df"], m_alpha)
            mdd = behrens.detectable(r["se"], behrens.equivalent_df(half_m, r["se"], m_alpha), m_alpha, power)
        equal = (a == b).all(axis=(-2, -1))
        for t, j in enumerate(idx):
            rt = {key: float(v[t]) for key, v in r.items()}
            out[j] = paired_result(rt, n, k, pairs[j][2], bool(equal[t]), float(mdd[t]) if rt["se"] > 0 else math.nan,
                                   higher_is_better, alpha)
    return out


def unpaired_batch(pairs: Sequence[tuple[np.ndarray, np.ndarray, bool, bool]], seed_var: SeedVariance, *,
                   higher_is_better: bool = True, alpha: float = ALPHA, power: float = 0.8,
                   family_size: int = 1) -> list[SeedAwareDiff]:
    """`decide.seed_aware_diff` of many pairs at once from their (A, B, A trained, B trained) seeds x items
    matrices on the same items: the pairs of one shape stacked, the MDE over the stack (`behrens.detectable`,
    within 1e-8 x se of brentq); every other number `seed_aware_diff`'s."""
    out: list = [None] * len(pairs)
    groups: dict[tuple, list[int]] = {}
    for j, (a, b, a_trained, b_trained) in enumerate(pairs):
        groups.setdefault((a.shape, b.shape, a_trained, b_trained), []).append(j)
    for ((ka, n), (kb, _), a_trained, b_trained), idx in groups.items():
        weight = (1 / ka if a_trained else 0.0) + (1 / kb if b_trained else 0.0)
        a, b = np.stack([pairs[j][0] for j in idx]), np.stack([pairs[j][1] for j in idx])
        stats = diff_arrays(a, b, seed_var.between, seed_var.between_df, seed_var.within, seed_var.within_df,
                            seed_var.n_items, weight)
        mdd = behrens.detectable(stats[1], stats[2], alpha / max(family_size, 1), power)
        equal = (b.mean(axis=-2) - a.mean(axis=-2) == 0).all(axis=-1)
        for t, j in enumerate(idx):
            out[j] = unpaired_result([float(x[t]) for x in stats], float(mdd[t]), bool(equal[t]), n, ka, kb, 0,
                                     seed_var, weight, higher_is_better, alpha)
    return out


def compare_targets(ws, a: str, b: str, suites: Sequence[str] | str | None = None,
                    layer: str = "smoke") -> list[Decision]:
    """Two evaluated models or runs (names, run ids or model keys), one seed a side, on the suites
    both were scored on (or `suites`): every metric, the headline ones adjusted together across
    suites. A side with a run id stored on its result is trained; with one seed a side its
    training noise cannot be estimated, and each row says so."""
    from workbench.evals.runner import lookup_key
    from workbench.evals.suites import EvalError

    cat = ws.catalog(reader=True)
    key_a, key_b = lookup_key(ws, a), lookup_key(ws, b)
    if isinstance(suites, str):
        suites = [s.strip() for s in suites.split(",") if s.strip()]
    newest: dict[str, dict[str, dict]] = {}
    for name, key in ((a, key_a), (b, key_b)):
        for r in cat.eval_results(key):  # newest first
            if r["layer"] == layer:
                newest.setdefault(name, {}).setdefault(r["suite"], r)
    have_a, have_b = newest.get(a, {}), newest.get(b, {})
    wanted = list(suites) if suites else sorted(set(have_a) & set(have_b))
    for s in wanted:
        for name, have in ((a, have_a), (b, have_b)):
            if s not in have:
                raise EvalError(f"{name} has no {layer!r} results on suite {s!r}: run `workbench eval {name} "
                                f"--suites {s} --layer {layer}` first")
    if not wanted:
        raise EvalError(f"{a} and {b} have no suite in common on layer {layer!r}")
    direction = Directions([have_a[s] for s in wanted] + [have_b[s] for s in wanted], layer)
    trained = {name for name, have in ((a, have_a), (b, have_b)) if any(have[s].get("run_id") for s in wanted)}
    per_suite = []
    for s in wanted:
        items = [{r["item_id"]: {m: float(v) for m, v in (r["scores"] or {}).items()
                                 if m not in SKIP_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)}
                  for r in cat.result_samples(have[s]["id"])} for have in (have_a, have_b)]
        metrics = sorted({m for d in items[0].values() for m in d} & {m for d in items[1].values() for m in d})
        primary = have_a[s].get("primary_metric") or have_b[s].get("primary_metric")
        per_suite.append((s, items, metrics, headline_metrics(primary, metrics)))
    family_size = max(1, sum(len(h) for *_, h in per_suite))
    questions = []
    for s, items, metrics, head in per_suite:
        per = {a: {"0": items[0]}, b: {"0": items[1]}} if a != b else {a: {"0": items[0]}}
        pair = [(a, b)] if a != b else [(a, a)]
        questions += suite_questions(s, metrics, head, pair, per, trained, direction, None, family_size)
    return decide(questions)


def between(decisions: Iterable[Decision], a: str, b: str, suites: Sequence[str] | None = None) -> list[Decision]:
    """The variant decisions of one pair, read as B vs A (a decision made as A vs B is `flipped`)."""
    out = []
    for d in decisions:
        if d.kind != "variant" or (suites and d.suite not in suites):
            continue
        if (d.a, d.b) == (a, b):
            out.append(d)
        elif (d.a, d.b) == (b, a):
            out.append(d.flipped())
    return out
