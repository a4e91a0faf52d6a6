"""From a measured defect cost to a threshold: `workbench ablate suggest-thresholds NAME --tolerance X`.

An `inject` strategy measures, per defect rate r, the difference d(r) between the data with the
defect planted and the clean data (seed-aware, with its standard error). The fit is a line
through the origin (no defect, no difference), weighted by 1 / se^2:

    d(r) = slope * r,   slope = sum(r d / se^2) / sum(r^2 / se^2)

with the slope's standard error the larger of the one the per-rate errors imply and the one the
residual scatter implies (t with k - 1 degrees of freedom over k rates; normal when k = 1).
The threshold is the rate at which the headline metric drops by the tolerance X:
r* = X / |slope| (harmful direction), with the interval from the slope's 95% interval (the upper
end is unbounded when the interval reaches zero cost). A curation step that catches the defect
should then act before the defect reaches r* of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from workbench.ablate.tasks import AblationError
from workbench.evals import dist


@dataclass(frozen=True)
class DoseFit:
    slope: float  # change of the metric per unit of defect rate, signed so that negative means harm
    lo: float
    hi: float
    se: float
    df: float
    n_rates: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Threshold:
    group: str
    defect: str
    suite: str
    metric: str
    higher_is_better: bool
    fit: DoseFit
    tolerance: float
    rate: float  # the defect rate at which the metric drops by `tolerance`; inf when no harm is seen
    rate_lo: float
    rate_hi: float  # inf when the slope's interval reaches zero harm
    points: tuple[tuple[float, float, float], ...]  # (rate, improvement, se)

    def text(self) -> str:
        f = self.fit
        fit = (f"{self.suite} {self.metric}: {f.slope:+.4g} per unit rate [95% CI {f.lo:+.4g}, {f.hi:+.4g}] "
               f"from {f.n_rates} rate(s) ({'higher' if self.higher_is_better else 'lower'} is better; "
               "the slope is signed so that negative is harm)")
        if not math.isfinite(self.rate):
            return fit + f"; no harm measured: no {self.defect} rate drops it by {self.tolerance:g}."
        hi = "unbounded" if not math.isfinite(self.rate_hi) else f"{self.rate_hi:.3g}"
        return (fit + f"; a drop of {self.tolerance:g} at a {self.defect} rate of {self.rate:.3g} "
                f"[95% CI {self.rate_lo:.3g}, {hi}]: keep {self.defect} below that share of the data.")


def fit_dose(rates: Sequence[float], deltas: Sequence[float], ses: Sequence[float], alpha: float = 0.05) -> DoseFit:
    """Weighted least squares through the origin of `deltas` (improvement, + = better) on `rates`."""
    pts = [(float(r), float(d), float(s)) for r, d, s in zip(rates, deltas, ses)
           if math.isfinite(d) and r > 0]
    if not pts:
        raise ValueError("no finite differences to fit")
    w = [1 / s**2 if math.isfinite(s) and s > 0 else 1.0 for _, _, s in pts]
    sxx = sum(wi * r * r for wi, (r, _, _) in zip(w, pts))
    slope = sum(wi * r * d for wi, (r, d, _) in zip(w, pts)) / sxx
    k = len(pts)
    have_se = all(math.isfinite(s) and s > 0 for _, _, s in pts)
    se_model = math.sqrt(1 / sxx) if have_se else 0.0
    if k > 1:
        resid = sum(wi * (d - slope * r) ** 2 for wi, (r, d, _) in zip(w, pts)) / (k - 1)
        se_resid = math.sqrt(resid / sxx)
    else:
        se_resid = 0.0
    se, df = (se_resid, k - 1.0) if se_resid > se_model else (se_model, math.inf)
    q = float(dist.norm_ppf(1 - alpha / 2)) if not math.isfinite(df) else float(dist.t_ppf(1 - alpha / 2, df))
    return DoseFit(slope, slope - q * se, slope + q * se, se, df, k)


def threshold_rate(fit: DoseFit, tolerance: float) -> tuple[float, float, float]:
    """(rate, lo, hi) at which the fitted harm reaches `tolerance` (> 0)."""
    if tolerance <= 0:
        raise ValueError("tolerance must be > 0")

    def at(slope: float) -> float:
        return tolerance / -slope if slope < 0 else math.inf

    return at(fit.slope), at(fit.lo), at(fit.hi)


def suggest_thresholds(data, tolerance: float, suite: str | None = None) -> list[Threshold]:
    """One threshold per inject strategy x suite headline metric of an ablation, from its report's
    strategy rows (`data`: workbench.report's ReportData, which the caller gathers)."""
    name = data.name
    rows = [r for r in data.strategies if r.strategy == "inject" and r.role == "defect" and r.vs_source is not None
            and (suite is None or r.suite == suite)]
    if not rows:
        raise AblationError(f"ablation {name!r} has no evaluated `inject` strategy" +
                            (f" on suite {suite!r}" if suite else "") +
                            ": add `strategies: [{inject: {source: ..., defect: ..., rates: [...]}}]` and run it")
    out = []
    for key in dict.fromkeys((r.group, r.suite, r.metric) for r in rows):
        mine = [r for r in rows if (r.group, r.suite, r.metric) == key]
        sign = 1.0 if mine[0].higher_is_better else -1.0
        pts = tuple((float(r.value), sign * r.vs_source.delta, r.vs_source.se) for r in mine)
        try:
            fit = fit_dose(*zip(*pts))
        except ValueError:
            continue
        rate, lo, hi = threshold_rate(fit, tolerance)
        out.append(Threshold(key[0], str(mine[0].param), key[1], key[2], mine[0].higher_is_better, fit, tolerance,
                             rate, lo, hi, pts))
    return out
