"""The report's mixture-search sections: scores against mixture weights, two fitted models with their
cross-validated error, the proposed mixture, and whether it was validated.

For a `mixture_search` strategy (workbench.ablate.mixgen) each sampled mixture's score is its mean
over seeds, then over the items every mixture scored. Two models are fitted from weights to that
score (workbench.ablate.mixsearch): log-linear (the default, RegMix / olmix style; its coefficients
are each source's fitted effect, with OLS intervals) and a nonlinear one (a Gaussian process, or a
quadratic in the log-weights without scikit-learn). Their leave-one-out error is reported; the one
with the lower error proposes the mixture it predicts best within the constraints, with a
bootstrap interval over the mixtures.

Validation is a second round: `validate: {weights}` in the spec trains that mixture (role
`proposal`). It is compared, by the one engine, with the natural mixture and with the best sampled
mixture (chosen after the fact, so its observed score is optimistic: a conservative bar). The
reading says whether the proposal beat them, was equal within noise, or lost, or that it has not
been validated yet. JSON rows have `kind: mixture`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.ablate.mixsearch import LogLinear, cv_rmse, nonlinear, propose
from workbench.evals.decide import common_seeds, paired_seed_diff, seed_aware_diff
from workbench.evals.engine import ALPHA, PAIRED_MIN_SEEDS, Directions, Question, decide, metric_scores

NOTE = ("Each mixture's score: mean over seeds, then over the items every mixture scored. Models: log-linear "
        "(score = b0 + sum b_j log(w_j + 0.01)) and a nonlinear one; cv RMSE is leave-one-out over the mixtures "
        "(the nonlinear model's refits keep the hyper-parameters of its fit on all mixtures). "
        "The model with the lower cv RMSE proposes the feasible mixture it predicts best; its interval is a "
        "bootstrap over the mixtures (refit, predict). A proposal is only evidence once it is trained and compared "
        "(`validate:` in the spec) with the natural and the best sampled mixture by the same engine as every "
        "comparison here.")


@dataclass
class MixtureRow:
    group: str
    suite: str
    metric: str
    higher_is_better: bool
    sources: list[str]
    observed: list[dict]  # variant, label, weights, score
    fits: list[dict]  # model, cv_rmse, held_out (per observed mixture)
    effects: list[dict]  # source, coef, lo, hi (log-linear)
    proposal: dict | None  # weights, predicted, lo, hi, model
    natural: dict | None  # variant, score, weights
    best: dict | None  # the best sampled mixture: variant, score, weights
    validation: dict = field(default_factory=dict)  # status, weights, vs_natural, vs_best (Decision rows)
    reading: str = ""
    kind: str = "mixture"

    def to_dict(self) -> dict:
        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, (np.floating, np.integer)):
                x = x.item()
            return None if isinstance(x, float) and not math.isfinite(x) else x

        return clean(asdict(self))


def searches(spec: Mapping) -> dict[str, dict]:
    """group -> {players, search, mixtures: [(variant, label, weights)], proposal: (variant, weights) | None}."""
    from workbench.ablate.strategies import tags

    out: dict[str, dict] = {}
    for name, t in tags(spec).items():
        for u in [t] + [t.model_copy(update=a) for a in t.also_as]:
            if u.strategy != "mixture_search" or t.mix is None:
                continue
            g = out.setdefault(u.group, {"players": list(t.players or []), "search": t.search or {}, "mixtures": [],
                                         "proposal": None})
            total = sum(t.mix["weights"].values())
            w = [t.mix["weights"].get(s, 0.0) / total for s in g["players"]]
            if u.role == "proposal":
                g["proposal"] = (name, w)
            else:
                g["mixtures"].append((name, str(u.value), w))
    return out


def _diff(a, b, hib):
    if len(common_seeds(a, b)) >= PAIRED_MIN_SEEDS:
        return paired_seed_diff(a, b, higher_is_better=hib, alpha=ALPHA)
    return seed_aware_diff(a, b, higher_is_better=hib, alpha=ALPHA)


def mixture_rows(spec: Mapping, per_seed: Mapping, headlines: Mapping[str, list[str]], direction) -> list[MixtureRow]:
    found = searches(spec)
    if not found:
        return []
    direction = Directions.of(direction)
    rows, questions, asked = [], [], []
    for group, g in found.items():
        for suite, metrics in headlines.items():
            for metric in metrics:
                hib = direction(suite, metric)
                scores = {v: metric_scores(per_seed.get(v, {}).get(suite, {}), metric) for v, _, _ in g["mixtures"]}
                done = [(v, label, w) for v, label, w in g["mixtures"] if scores[v]]
                if not done:
                    continue
                items = set.intersection(*(set.intersection(*(set(x) for x in scores[v].values()))
                                           for v, _, _ in done))
                mean = {v: float(np.mean([np.mean([s[i] for i in items]) for s in scores[v].values()]))
                        for v, _, _ in done} if items else {}
                obs = [{"variant": v, "label": label, "weights": dict(zip(g["players"], w)), "score": mean.get(v)}
                       for v, label, w in done]
                row = MixtureRow(group, suite, metric, hib, g["players"], obs, [], [], None, None, None)
                nat = next((o for o in obs if o["label"] == "natural"), None)
                row.natural = nat and {k: nat[k] for k in ("variant", "score", "weights")}
                sampled = [o for o in obs if o["label"] != "natural" and o["score"] is not None]
                if sampled:
                    b = (max if hib else min)(sampled, key=lambda o: o["score"])
                    row.best = {k: b[k] for k in ("variant", "score", "weights")}
                _fit(row, g)
                if g["proposal"] is not None:
                    pv, pw = g["proposal"]
                    row.validation = {"variant": pv, "weights": dict(zip(g["players"], pw))}
                    scores[pv] = metric_scores(per_seed.get(pv, {}).get(suite, {}), metric)
                    others = {"vs_natural": row.natural and row.natural["variant"],
                              "vs_best": row.best and row.best["variant"]}
                    for side, q in validation_questions(scores, pv, others, suite, metric, hib, group):
                        questions.append(q)
                        asked.append((len(rows), side))
                rows.append(row)
    for (i, side), d in zip(asked, decide(questions)):
        rows[i].validation[side] = d.to_dict()
    for r in rows:
        r.validation["status"] = _status(r)
        r.reading = reading(r)
    return rows


def fit_search(w, y, sources: list[str], lo, hi, higher_is_better: bool, seed: int = 0, n_boot: int = 200
               ) -> tuple[list[dict], list[dict], dict]:
    """(fits, effects, proposal) from observed mixtures `w` (K, n) and their scores `y`: each model's
    leave-one-out error and held-out predictions, the log-linear effect of each source, and the proposal of
    the model with the lower error (workbench.ablate.mixsearch.propose, bootstrap interval of `n_boot`).
    The nonlinear model's refits (leave-one-out, bootstrap) keep the hyper-parameters of its fit on all
    mixtures. What the report and benchmarks/credit_worlds.py both run."""
    w, y = np.asarray(w, dtype=float), np.asarray(y, dtype=float)
    make = nonlinear(seed)
    full = make().fit(w, y)
    refit = full.refit() if hasattr(full, "refit") else make
    fits = []
    for name, maker in (("log-linear", LogLinear), (full.name, refit)):
        err, held = cv_rmse(maker, w, y)
        fits.append({"model": name, "cv_rmse": err, "held_out": held.tolist(), "make": maker})
    effects = [{"source": s, "coef": c, "lo": a, "hi": b}
               for s, (c, a, b) in zip(sources, LogLinear().fit(w, y).effects())]
    best = min(fits, key=lambda f: f["cv_rmse"])
    p = propose(best["make"], w, y, lo, hi, higher_is_better, seed=seed, n_boot=n_boot)
    for f in fits:
        f.pop("make")
    return fits, effects, {"weights": dict(zip(sources, p.weights.tolist())), "predicted": p.predicted, "lo": p.lo,
                           "hi": p.hi, "model": best["model"]}


def _fit(row: MixtureRow, g: dict) -> None:
    obs = [o for o in row.observed if o["score"] is not None]
    if len(obs) < len(row.sources) + 2:  # the log-linear fit needs a residual degree of freedom, and LOO one more
        return
    w = np.array([[o["weights"][s] for s in row.sources] for o in obs])
    y = np.array([o["score"] for o in obs])
    search = g["search"]
    lo = np.array([search.get("lower", {}).get(s, 0.0) for s in row.sources])
    hi = np.array([search.get("upper", {}).get(s, 1.0) for s in row.sources])
    row.fits, row.effects, row.proposal = fit_search(w, y, row.sources, lo, hi, row.higher_is_better,
                                                     int(search.get("seed", 0)))


def validation_questions(scores: Mapping[str, Mapping], proposal: str, others: Mapping[str, str | None], suite: str,
                         metric: str, hib: bool, group: str) -> list[tuple[str, Question]]:
    """(side, Question) of the proposal against each of `others` ({"vs_natural": variant, "vs_best": variant})
    that has scores: `scores[variant]` is {seed: {item: score}}; one family per strategy (Holm)."""
    mine = scores.get(proposal)
    out = []
    for side, other in others.items():
        if mine and other and scores.get(other):
            out.append((side, Question(other, proposal, suite, metric, _diff(scores[other], mine, hib), "mixture",
                                       (group, "validation"))))
    return out


def _status(r: MixtureRow) -> str:
    v = r.validation
    if not v:
        return "not validated yet"
    sides = [v.get(k) for k in ("vs_natural", "vs_best") if v.get(k)]
    if not sides:
        return "validation not evaluated yet"
    return status_of([s["verdict"] for s in sides])


def status_of(words: list[str]) -> str:
    """The validation's verdict from the engine's words, vs the natural then vs the best sampled mixture."""
    if any(w == "worse" for w in words):
        return "lost"
    if all(w == "better" for w in words):
        return "beat"
    return "beat the natural mixture, equal to the best within noise" if words[0] == "better" and len(words) == 2 \
        else "equal within noise"


def _wtext(w: Mapping[str, float] | None) -> str:
    return ", ".join(f"{k} {x:.2f}" for k, x in (w or {}).items())


def reading(r: MixtureRow) -> str:
    metric = f"{r.suite} {r.metric}"
    if r.proposal is None:
        k = sum(o["score"] is not None for o in r.observed)
        return (f"{k} mixture(s) evaluated on {metric}; the fit needs at least {len(r.sources) + 2}: nothing proposed "
                "yet.")
    fits = "; ".join(f"{f['model']} cv RMSE {f['cv_rmse']:.4f}" for f in r.fits)
    p = r.proposal
    ci = f" [{p['lo']:.4f}, {p['hi']:.4f}]" if math.isfinite(p["lo"]) else ""
    text = (f"on {metric} ({fits}), the {p['model']} proposes {_wtext(p['weights'])} with predicted "
            f"{p['predicted']:.4f}{ci}; observed: natural {r.natural['score']:.4f}" if r.natural else
            f"on {metric} ({fits}), the {p['model']} proposes {_wtext(p['weights'])} with predicted "
            f"{p['predicted']:.4f}{ci}")
    if r.best:
        text += f", best sampled {r.best['variant']} {r.best['score']:.4f}"
    status = r.validation.get("status", "not validated yet")
    if status == "not validated yet":
        return text + (f". Not validated yet: add `validate: {{{', '.join(f'{k}: {x:.3f}' for k, x in p['weights'].items())}}}` "
                       "to the strategy and run again (only the proposal trains).")
    v = r.validation
    same = max(abs(v["weights"].get(s, 0) - p["weights"].get(s, 0)) for s in r.sources) < 0.02
    parts = [f"{k.replace('_', ' ')} {v[k]['delta']:+.4f}" + (f" [{v[k]['lo']:+.4f}, {v[k]['hi']:+.4f}]"
             if v[k].get("lo") is not None else "") + f" ({v[k]['verdict'] or 'noise'})"
             for k in ("vs_natural", "vs_best") if v.get(k)]
    return (text + f". Validated mixture ({_wtext(v['weights'])}" +
            ("" if same else ", not the current proposal") + f"): {status}" +
            (f" ({'; '.join(parts)})" if parts else "") + ".")


COLUMNS = ["suite", "metric", "mixtures", "models (cv RMSE)", "source effects (log-linear, 95% CI)", "proposal",
           "predicted [95% CI]", "natural", "best sampled", "validation", "reading"]


def table(rows: list[MixtureRow]) -> list[list]:
    out = []
    for r in rows:
        p = r.proposal
        out.append([r.suite, r.metric + ("" if r.higher_is_better else " (lower better)"),
                    sum(o["score"] is not None for o in r.observed),
                    "; ".join(f"{f['model']} {f['cv_rmse']:.4f}" for f in r.fits),
                    "; ".join(f"{e['source']} {e['coef']:+.4f} [{e['lo']:+.4f}, {e['hi']:+.4f}]" for e in r.effects),
                    _wtext(p["weights"]) if p else "", f"{p['predicted']:.4f} [{p['lo']:.4f}, {p['hi']:.4f}]" if p else "",
                    f"{r.natural['score']:.4f}" if r.natural and r.natural["score"] is not None else "",
                    f"{r.best['variant']} {r.best['score']:.4f}" if r.best else "",
                    r.validation.get("status", ""), r.reading])
    return out


def sections(rows) -> list[tuple[str, str, list[str], list[list]]]:
    rows = [r for r in rows if isinstance(r, MixtureRow)]
    return [(f"Mixture search: {g}", NOTE, COLUMNS, table([r for r in rows if r.group == g]))
            for g in dict.fromkeys(r.group for r in rows)]


def figures(rows) -> list[tuple[str, object]]:
    rows = [r for r in rows if isinstance(r, MixtureRow) and r.fits]
    return [(f"Mixture search: {r.group} ({r.suite} {r.metric})", figure(r)) for r in rows]


def figure(r: MixtureRow):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.6))
    obs = [o for o in r.observed if o["score"] is not None]
    y = [o["score"] for o in obs]
    for f, m in zip(r.fits, ("o", "s")):
        a1.scatter(y, f["held_out"], marker=m, label=f"{f['model']} (cv RMSE {f['cv_rmse']:.4f})", alpha=0.8)
    lims = [min(y + [x for f in r.fits for x in f["held_out"]]), max(y + [x for f in r.fits for x in f["held_out"]])]
    a1.plot(lims, lims, color="#999999", lw=1)
    a1.set_xlabel("observed")
    a1.set_ylabel("predicted (held out)")
    a1.set_title(f"{r.suite} {r.metric}: leave-one-out", fontsize=9)
    a1.legend(fontsize=7)
    x = np.arange(len(r.effects))
    a2.bar(x, [e["coef"] for e in r.effects], yerr=[[e["coef"] - e["lo"] if math.isfinite(e["lo"]) else 0
                                                     for e in r.effects],
                                                    [e["hi"] - e["coef"] if math.isfinite(e["hi"]) else 0
                                                     for e in r.effects]], capsize=4, color="#2a7ab8")
    a2.axhline(0, color="#999999", lw=1)
    a2.set_xticks(x, [e["source"] for e in r.effects], fontsize=8)
    a2.set_title("log-linear effect of log(weight), 95% CI", fontsize=9)
    x = np.arange(len(r.sources))
    nat = r.natural["weights"] if r.natural else {}
    a3.bar(x - 0.2, [nat.get(s, 0) for s in r.sources], width=0.4, label="natural", color="#888888")
    a3.bar(x + 0.2, [r.proposal["weights"][s] for s in r.sources], width=0.4, label="proposal", color="#2a9a55")
    a3.set_xticks(x, r.sources, fontsize=8)
    a3.set_ylabel("weight")
    a3.set_title(f"proposal (predicted {r.proposal['predicted']:.4f}) vs natural", fontsize=9)
    a3.legend(fontsize=7)
    fig.tight_layout()
    return fig


def views(data) -> list[dict]:
    """The view's Mixture page, per search and headline metric: {title, note, figure (predicted vs observed
    with the fold error, each source's fitted effect with its interval, the proposal beside the natural
    mixture), mixtures, fits, effects, proposal rows (column -> value), verdict (the validation's status),
    validation (the engine's decisions), reading}."""
    rows = [r for r in (getattr(data, "credit", None) or []) if isinstance(r, MixtureRow)]
    out = []
    for r in rows:
        held = {f["model"]: f["held_out"] for f in r.fits}
        scored = [o for o in r.observed if o["score"] is not None]
        mixtures = [{"mixture": o["label"], "variant": o["variant"], **{s: round(o["weights"][s], 3) for s in r.sources},
                     "observed": o["score"], **{f"{m} (held out)": h[j] for m, h in held.items()}}
                    for j, o in enumerate(scored)] if r.fits else \
            [{"mixture": o["label"], "variant": o["variant"], **{s: round(o["weights"][s], 3) for s in r.sources},
              "observed": o["score"]} for o in r.observed]
        p = r.proposal
        side = [{"mixture": "natural", **{s: (r.natural or {}).get("weights", {}).get(s) for s in r.sources},
                 "score": (r.natural or {}).get("score"), "kind": "observed"}]
        if p:
            side.append({"mixture": "proposal", **p["weights"], "score": p["predicted"],
                         "kind": f"predicted by the {p['model']} [{p['lo']:.4f}, {p['hi']:.4f}]"})
        if r.best:
            side.append({"mixture": f"best sampled ({r.best['variant']})", **r.best["weights"], "score": r.best["score"],
                         "kind": "observed"})
        checks = [{"against": k.removeprefix("vs_").replace("_", " "), "delta (proposal - other)": v["delta"],
                   "95% CI": "" if v.get("lo") is None else f"[{v['lo']:+.4f}, {v['hi']:+.4f}]",
                   "p adj": v.get("p_adjusted"), "verdict": v.get("verdict")}
                  for k, v in r.validation.items() if k in ("vs_natural", "vs_best") and v]
        out.append({"title": f"Mixture search: {r.group} ({r.suite} {r.metric})", "note": NOTE,
                    "figure": figure(r) if r.fits else None, "mixtures": mixtures,
                    "fits": [{"model": f["model"], "cv RMSE (leave-one-out)": f["cv_rmse"]} for f in r.fits],
                    "effects": [{"source": e["source"], "effect of log(weight)": e["coef"],
                                 "95% CI": f"[{e['lo']:+.4f}, {e['hi']:+.4f}]"} for e in r.effects],
                    "proposal": side, "verdict": r.validation.get("status", "not validated yet"),
                    "validation": checks, "reading": r.reading})
    return out
