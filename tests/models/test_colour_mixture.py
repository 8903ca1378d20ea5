"""The colour check's Gaussian log-density (numpy) against scipy.stats.multivariate_normal."""

import json

import numpy as np
from scipy.stats import multivariate_normal

from zoomgrade.models.colour import _gaussian_logpdf, neg_log_likelihood
from zoomgrade.models.folder import WEIGHTS_DIR


def _shipped_mixture() -> dict:
    card = json.loads((WEIGHTS_DIR / "stage1.json").read_text())
    found = [v for v in card["domain"].values() if isinstance(v, dict) and "mixture" in v]
    assert found, "the shipped stage-1 card has a colour record"
    return found[0]["mixture"]


def test_logpdf_matches_scipy_on_the_shipped_record_and_random_covariances() -> None:
    rng = np.random.default_rng(0)
    mix = _shipped_mixture()
    cases = list(zip(mix["means"], mix["covariances"]))
    for _ in range(5):
        a = rng.normal(size=(2, 2))
        cases.append((rng.normal(size=2).tolist(), (a @ a.T + 0.01 * np.eye(2)).tolist()))
    x = rng.normal(0, 0.6, (5000, 2))
    for mu, cov in cases:
        want = multivariate_normal(mu, cov).logpdf(x)
        got = _gaussian_logpdf(x, np.asarray(mu), np.asarray(cov))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_mixture_likelihood_matches_scipy() -> None:
    from scipy.special import logsumexp

    mix = _shipped_mixture()
    x = np.random.default_rng(1).normal(0, 0.5, (3000, 2))
    want = -logsumexp(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(mix["weights"], mix["means"], mix["covariances"])
        ],
        axis=0,
    )
    np.testing.assert_allclose(neg_log_likelihood(mix, x), want, rtol=1e-12)
