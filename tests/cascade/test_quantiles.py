"""The early stop's quantiles from scipy.special equal scipy.stats' (which the grading path no longer imports)."""

import numpy as np
import pytest
from scipy.stats import beta, binom

from zoomgrade.cascade.quantiles import beta_ppf, binom_ppf

# the confidences the early stop uses (config defaults and the undergrade allowance's two tails)
QS = (0.9, 0.99, 0.999, 0.001)


@pytest.mark.parametrize("q", QS)
def test_beta_ppf_equals_scipy_stats(q: float) -> None:
    rng = np.random.default_rng(0)
    for a, b in zip(rng.uniform(0.01, 80, 400), rng.uniform(0.01, 2000, 400)):
        assert beta_ppf(q, a, b) == float(beta.ppf(q, a, b))


@pytest.mark.parametrize("q", QS)
def test_binom_ppf_equals_scipy_stats(q: float) -> None:
    rng = np.random.default_rng(1)
    ns = rng.integers(1, 3000, 400)
    ps = 10 ** rng.uniform(-6, -0.01, 400)
    for n, p in zip(ns, ps):
        assert binom_ppf(q, int(n), float(p)) == int(binom.ppf(q, n, p)), (n, p)


def test_binom_ppf_edges() -> None:
    assert binom_ppf(0.999, 10, 0.0) == 0 == int(binom.ppf(0.999, 10, 0.0))
    assert binom_ppf(0.999, 10, 1.0) == 10 == int(binom.ppf(0.999, 10, 1.0))
    assert binom_ppf(0.999, 0, 0.3) == 0
