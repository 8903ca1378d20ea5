"""The two distribution quantiles the early stop asks for, from ``scipy.special`` rather than
``scipy.stats``: importing ``scipy.stats`` took 0.3 s of a one-slide ``zoomgrade grade`` (docs/benchmark.md),
and these give the same values (tests/cascade/test_quantiles.py checks them against ``scipy.stats``)."""

from __future__ import annotations

import math

from scipy.special import bdtr, bdtrik, betaincinv


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b) (``scipy.stats.beta.ppf(q, a, b)``)."""
    return float(betaincinv(a, b, q))


def binom_ppf(q: float, n: int, p: float) -> int:
    """The ``q`` quantile of Binomial(n, p), 0 < q < 1: the least k with P(X <= k) >= q
    (``scipy.stats.binom.ppf``). The continuous inverse of the cdf, rounded up, then one step down where the
    cdf there already reaches ``q``."""
    if p <= 0.0 or n <= 0:
        return 0
    if p >= 1.0:
        return n
    k = math.ceil(float(bdtrik(q, n, p)))
    below = max(k - 1, 0)
    return below if float(bdtr(below, n, p)) >= q else k
