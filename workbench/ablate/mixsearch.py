"""Mixture search: sample mixtures over the constrained simplex, fit scores against weights, propose one.

Pure numpy (scikit-learn for the Gaussian process): no catalog, no training.

- `bounds`: each source's lowest and highest weight: the spec's min/max weight, and a repetition
  cap r, which keeps a source's share of a B-token budget within r times its own tokens
  (w_s <= r * available_s / B).
- `design`: the natural mixture (weights proportional to each source's tokens), each source's
  corner (its highest weight, the others at their lowest) where it differs from the points already
  in, then a space-filling sample of the rest of the feasible simplex (greedy maximin over a pool of
  Dirichlet draws mapped into the bounds, or plain Dirichlet draws).
- `LogLinear`: y = b0 + sum_j b_j log(w_j + eps), least squares (RegMix / olmix style); its
  coefficients carry OLS standard errors, the fitted effect of each source.
- `GP`: a Gaussian process on the log-weights (scikit-learn; RBF + white noise), the nonlinear model;
  `Quadratic` (in the log-weights, ridge) where scikit-learn is missing.
- `cv_rmse`: leave-one-out root mean squared error of a model over the observed mixtures.
- `propose`: the feasible mixture the model predicts best (a large candidate pool in the bounds),
  with a bootstrap interval over the observed mixtures (refit on resampled mixtures, predict there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

EPS = 0.01  # log(w + EPS): a source at weight 0 stays finite


class SearchError(ValueError):
    """Constraints no mixture satisfies."""


def _vec(x: float | Mapping[str, float], names: Sequence[str], default: float) -> np.ndarray:
    if isinstance(x, Mapping):
        unknown = set(x) - set(names)
        if unknown:
            raise SearchError(f"weight bound for unknown source(s) {', '.join(sorted(unknown))} "
                              f"(sources: {', '.join(names)})")
        return np.array([float(x.get(n, default)) for n in names])
    return np.full(len(names), float(x))


def bounds(names: Sequence[str], available: Mapping[str, float], budget: float, min_weight=0.0, max_weight=1.0,
           repeat_cap: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) weight per source; SearchError when no mixture fits them."""
    lo, hi = _vec(min_weight, names, 0.0), _vec(max_weight, names, 1.0)
    cap = np.array([repeat_cap * available[n] / budget for n in names])
    hi = np.minimum(hi, cap)
    for n, a, b in zip(names, lo, hi):
        if a > b + 1e-12:
            why = (f"its {available[n]:.0f} tokens fill at most {b:.3f} of the {budget:.0f}-token budget "
                   f"(repeat cap {repeat_cap:g})" if b < _vec(max_weight, names, 1.0)[list(names).index(n)]
                   else f"its max_weight is {b:.3f}")
            raise SearchError(f"source {n!r}: min_weight {a:.3f} cannot be met: {why}")
    if lo.sum() > 1 + 1e-9:
        raise SearchError(f"the min_weights add up to {lo.sum():.3f}, over 1")
    if hi.sum() < 1 - 1e-9:
        raise SearchError(f"the highest weights the sources allow add up to {hi.sum():.3f} < 1: the "
                          f"{budget:.0f}-token budget needs more tokens than the sources have (lower `budget`)")
    return lo, hi


def project(w: Sequence[float], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The point of the box [lo, hi] on the simplex closest to w (Euclidean; bisection on the shift)."""
    w = np.asarray(w, dtype=float)
    a, b = (lo - w).min() - 1, (hi - w).max() + 1
    for _ in range(100):
        t = (a + b) / 2
        if np.clip(w + t, lo, hi).sum() > 1:
            b = t
        else:
            a = t
    return np.clip(w + (a + b) / 2, lo, hi)


def natural(names: Sequence[str], available: Mapping[str, float], lo, hi) -> np.ndarray:
    w = np.array([available[n] for n in names], dtype=float)
    return project(w / w.sum(), lo, hi)


def corner(j: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Source j at its highest weight, the others at their lowest; what is left over spread over the
    others in proportion to their room."""
    w = lo.copy()
    w[j] = min(hi[j], 1 - (lo.sum() - lo[j]))
    rest = 1 - w.sum()
    if rest > 1e-12:
        room = hi - w
        room[j] = 0
        w = w + rest * room / room.sum()
    return w


def pool(lo: np.ndarray, hi: np.ndarray, size: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Dirichlet draws mapped into the bounds (lo + (1 - sum lo) * d), those over a bound dropped."""
    d = rng.dirichlet(np.full(len(lo), alpha), size=size)
    w = lo + (1 - lo.sum()) * d
    ok = (w <= hi + 1e-12).all(axis=1)
    if ok.sum() < max(10, size // 100):  # tight upper bounds: project the draws instead
        return np.array([project(x, lo, hi) for x in w])
    return w[ok]


def design(names: Sequence[str], available: Mapping[str, float], lo, hi, k: int, *, corners: bool = True,
           kind: str = "maximin", alpha: float = 1.0, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """k (label, weights): natural, corner-<source> (distinct from the points before), then sampled."""
    out = [("natural", natural(names, available, lo, hi))]
    if corners:
        for j, n in enumerate(names):
            c = corner(j, lo, hi)
            if len(out) < k and min(np.abs(c - w).max() for _, w in out) > 1e-3:
                out.append((f"corner-{n}", c))
    rng = np.random.default_rng(seed)
    cand = pool(lo, hi, 4000, alpha, rng)
    chosen = np.array([w for _, w in out])
    i = 0
    while len(out) < k:
        if kind == "maximin":
            dist = np.sqrt(((cand[:, None, :] - chosen[None]) ** 2).sum(-1)).min(axis=1)
            pick = int(np.argmax(dist))
        else:
            pick = i
            i += 1
        w = cand[pick]
        cand = np.delete(cand, pick, axis=0)
        chosen = np.vstack([chosen, w])
        out.append((f"m{len(out):02d}", w))
    return [(label, np.round(w, 4)) for label, w in out]


# --- models: weights (K, n) -> score --------------------------------------------------------------


def _logx(w: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(w, dtype=float) + EPS)


@dataclass
class LogLinear:
    """y = b0 + sum_j b_j log(w_j + EPS) by least squares."""

    name: str = "log-linear"
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cov: np.ndarray | None = None
    df: int = 0

    def fit(self, w, y) -> "LogLinear":
        x = np.column_stack([np.ones(len(w)), _logx(w)])
        y = np.asarray(y, dtype=float)
        self.coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        self.df = len(y) - x.shape[1]
        if self.df > 0:
            s2 = float(((y - x @ self.coef) ** 2).sum()) / self.df
            self.cov = s2 * np.linalg.pinv(x.T @ x)
        return self

    def predict(self, w) -> np.ndarray:
        return np.column_stack([np.ones(len(w)), _logx(w)]) @ self.coef

    def effects(self, alpha: float = 0.05) -> list[tuple[float, float, float]]:
        """Each source's coefficient with its (1 - alpha) t interval (NaN without residual df)."""
        from workbench.evals import dist

        out = []
        for j in range(1, len(self.coef)):
            if self.cov is None:
                out.append((float(self.coef[j]), float("nan"), float("nan")))
                continue
            half = float(dist.t_ppf(1 - alpha / 2, self.df)) * float(np.sqrt(max(self.cov[j, j], 0.0)))
            out.append((float(self.coef[j]), float(self.coef[j]) - half, float(self.coef[j]) + half))
        return out


@dataclass
class Quadratic:
    """y on the log-weights, their squares and products (ridge): the nonlinear model without scikit-learn."""

    name: str = "quadratic"
    ridge: float = 1e-2
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @staticmethod
    def _x(w):
        z = _logx(w)
        n = z.shape[1]
        cols = [np.ones(len(z))] + [z[:, j] for j in range(n)] + [z[:, i] * z[:, j] for i in range(n)
                                                                  for j in range(i, n)]
        return np.column_stack(cols)

    def fit(self, w, y) -> "Quadratic":
        x = self._x(w)
        pen = self.ridge * np.eye(x.shape[1])
        pen[0, 0] = 0
        self.coef = np.linalg.solve(x.T @ x + pen, x.T @ np.asarray(y, dtype=float))
        return self

    def predict(self, w) -> np.ndarray:
        return self._x(w) @ self.coef


@dataclass
class GP:
    """A Gaussian process on log(w + EPS) (scikit-learn: constant x RBF + white noise, y normalised)."""

    name: str = "gaussian process"
    seed: int = 0
    model: object = None

    def fit(self, w, y) -> "GP":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(1.0, (0.1, 30.0)) + WhiteKernel(0.1, (1e-6, 10.0))
        with warnings.catch_warnings():  # a hyper-parameter at its bound: a flat or noiseless surface
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.seed).fit(
                _logx(w), np.asarray(y, dtype=float))
        return self

    def predict(self, w) -> np.ndarray:
        return self.model.predict(_logx(w))

    def refit(self) -> Callable[[], "FixedGP"]:
        """A maker of GPs with this fit's hyper-parameters, for leave-one-out and the bootstrap: the
        closed-form practice (Rasmussen & Williams 5.4.2), and far cheaper than re-optimising each refit."""
        return lambda: FixedGP(self.model.kernel_)


@dataclass
class FixedGP:
    """The posterior mean of a GP with given (fitted) hyper-parameters: what scikit-learn's regressor
    computes with `optimizer=None` and `normalize_y=True`, without its per-fit overhead."""

    kernel: object
    name: str = "gaussian process"

    def fit(self, w, y) -> "FixedGP":
        from scipy.linalg import cho_factor, cho_solve

        self.x, y = _logx(w), np.asarray(y, dtype=float)
        self.mu, self.sd = y.mean(), (y.std() or 1.0)
        k = self.kernel(self.x)
        k[np.diag_indices_from(k)] += 1e-10  # scikit-learn's default jitter (alpha)
        self.alpha = cho_solve(cho_factor(k, lower=True), (y - self.mu) / self.sd)
        return self

    def predict(self, w) -> np.ndarray:
        return self.kernel(_logx(w), self.x) @ self.alpha * self.sd + self.mu


def nonlinear(seed: int = 0) -> Callable[[], object]:
    """The nonlinear model: a GP where scikit-learn is installed, else the quadratic."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return Quadratic
    return lambda: GP(seed=seed)


def cv_rmse(make: Callable[[], object], w, y) -> tuple[float, np.ndarray]:
    """Leave-one-out RMSE and each mixture's held-out prediction."""
    w, y = np.asarray(w, dtype=float), np.asarray(y, dtype=float)
    pred = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        pred[i] = make().fit(w[keep], y[keep]).predict(w[i:i + 1])[0]
    return float(np.sqrt(((pred - y) ** 2).mean())), pred


def candidates(lo, hi, seed: int = 0, size: int = 20000, extra: Sequence[np.ndarray] = ()) -> np.ndarray:
    rng = np.random.default_rng(seed + 7919)
    c = [pool(lo, hi, size, 1.0, rng), pool(lo, hi, size // 4, 0.3, rng)]
    c += [np.array([corner(j, lo, hi) for j in range(len(lo))])]
    if len(extra):
        c.append(np.asarray(extra))
    return np.vstack(c)


@dataclass
class Proposal:
    weights: np.ndarray
    predicted: float
    lo: float
    hi: float
    model: str


def propose(make: Callable[[], object], w, y, lo, hi, higher_is_better: bool = True, seed: int = 0,
            n_boot: int = 200, alpha: float = 0.05) -> Proposal:
    """The feasible mixture `make`'s fit on all mixtures predicts best, and a bootstrap interval of the
    prediction there (mixtures resampled with replacement, refit, predicted at the proposal)."""
    w, y = np.asarray(w, dtype=float), np.asarray(y, dtype=float)
    model = make().fit(w, y)
    cand = candidates(lo, hi, seed, extra=list(w))
    pred = model.predict(cand)
    best = int(np.argmax(pred) if higher_is_better else np.argmin(pred))
    star = cand[best]
    rng = np.random.default_rng(seed + 1)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(set(idx.tolist())) < min(len(y), w.shape[1] + 2):
            continue
        try:
            boots.append(float(make().fit(w[idx], y[idx]).predict(star[None])[0]))
        except (np.linalg.LinAlgError, ValueError):
            continue
    lo_b, hi_b = (np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if len(boots) >= 20 else (np.nan, np.nan))
    return Proposal(np.round(star, 4), float(pred[best]), float(lo_b), float(hi_b), getattr(model, "name", "model"))
