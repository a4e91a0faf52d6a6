"""The distribution functions the decisions use, from scipy.special: the same ufuncs scipy.stats
calls (bit for bit inside (0, 1)), without importing scipy.stats, which costs about a second of
every command that prints a verdict.

Arguments are probabilities strictly inside (0, 1) and finite statistics; scipy.stats's own
boundary handling (q = 0 or 1, x = +-inf) is not repeated here.
"""

from __future__ import annotations

import numpy as np
from scipy import special as sc

try:  # what scipy.stats.nct.sf and binom.cdf call; private names, so scipy.stats if they move
    from scipy.special._ufuncs import _binom_cdf, _nct_sf
except ImportError:  # pragma: no cover - another scipy layout
    _binom_cdf = _nct_sf = None


def t_ppf(q, df):
    """Student t quantile (scipy.stats.t.ppf)."""
    return sc.stdtrit(df, q)


def t_sf(x, df):
    """Student t upper tail (scipy.stats.t.sf)."""
    return sc.stdtr(df, -np.asarray(x, dtype=float))


def norm_ppf(q):
    return sc.ndtri(q)


def norm_cdf(x):
    return sc.ndtr(x)


def nct_cdf(x, df, nc):
    """Noncentral t distribution function (scipy.stats.nct.cdf)."""
    return sc.nctdtr(df, nc, x)


def nct_sf(x, df, nc):
    """Noncentral t upper tail (scipy.stats.nct.sf)."""
    if _nct_sf is None:  # pragma: no cover
        from scipy import stats

        return stats.nct.sf(x, df, nc)
    with np.errstate(over="ignore"):
        return np.clip(_nct_sf(x, df, nc), 0, 1)


def binom_cdf(k, n, p):
    """Binomial distribution function (scipy.stats.binom.cdf)."""
    if _binom_cdf is None:  # pragma: no cover
        from scipy import stats

        return stats.binom.cdf(k, n, p)
    return _binom_cdf(np.floor(k), n, p)
