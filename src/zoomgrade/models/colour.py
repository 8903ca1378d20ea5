"""Colour domain: the hues of a slide's stained material, and the reference of them a model card records
(``qc/colour.py`` checks a slide against it).

Stage 1's features are trained to ignore colour (its training jitters stain colour: models/augment.py), so
the feature gate cannot see a change of stain; and the ``stain`` check's two average directions per slide
cannot tell two smear stains apart (Papanicolaou and Diff-Quik lie closer there than one stain's
slide-to-slide spread). This check keeps the whole distribution of hues. Beer-Lambert: a stain's hue is the
direction of a pixel's optical density (OD, above the slide's own glass), its amount the length. Every pixel
of the low-power thumbnail dense enough to have a measurable hue (mean OD > ``HUE_OD``) gives its OD
direction as two coordinates in the plane orthogonal to grey (``hue_plane``), and the training slides'
pixels are described by a Gaussian mixture (``N_COMPONENTS``, full covariances). A slide's value is the
median negative log-likelihood of its pixels: how strange its typical stained pixel's hue is.

The threshold is chosen on slides the mixture did not see: every reference slide (training and validation)
is scored by a mixture fitted without it (leave one slide out), and the threshold is the ``QUANTILE``
quantile of those pixels' negative log-likelihoods, the feature gate's slide rule (``models/domain.py``):
a slide fails when its typical stained pixel is stranger than 90% of held-out in-domain pixels. The mixture
stored in the card is fitted on all reference slides. Measured: docs/quality-control.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .domain import glass_colour, step_for
from .stain import SAMPLE_PIXELS

N_COMPONENTS = 4  # a few materials (nuclei, cytoplasm, colloid, blood) at varying amounts
QUANTILE = 0.90  # of the held-out reference pixels' negative log-likelihoods
FIT_PIXELS = 20_000  # pixels the mixture is fitted on (an even sample over the slides)
#: mean OD a pixel needs for its hue to count: the dense material (nuclei, thick cytoplasm), where the two
#: smear stains differ, not the faint material (plasma, thin colloid) both stain alike nor the noisy hue of a
#: short OD vector. 0.60 was chosen over 0.30, 0.45, 0.80 and 1.0 on the 41 validation slides, with the
#: record fitted from the shipped stage 1's 42 training slides: every validation slide passes (0.30: 39 of
#: 41), and a one-stain half of the reference flags 12 of 12 and 26 of 29 slides of the other stain (0.30:
#: 10 and 14); docs/quality-control.md
HUE_OD = 0.60
#: the value every colour record was fitted at before ``hue_od`` moved to 0.60 (a record names its own)
FIRST_HUE_OD = 0.30
#: stained pixels a slide needs for its hues to be compared (fewer: the stain check reports the slide
#: unstained or empty, and a reference slide is left out of the fit)
MIN_HUE_PIXELS = 20
#: orthonormal basis of the plane orthogonal to grey (1, 1, 1): a unit OD direction's hue coordinates
_PLANE = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.array([[np.sqrt(2.0)], [np.sqrt(6.0)]])


def hue_plane(thumb: np.ndarray, hue_od: float = HUE_OD) -> np.ndarray:
    """(N, 2) hue coordinates of the pixels with mean OD > ``hue_od`` in a sample of about ``SAMPLE_PIXELS``."""
    k = step_for(thumb.shape[0] * thumb.shape[1], SAMPLE_PIXELS)
    t = np.asarray(thumb)[::k, ::k].reshape(-1, 3).astype(np.float32)
    od = np.log(glass_colour(t) / np.clip(t, 1.0, None)).clip(0, None)
    od = od[od.mean(axis=1) > hue_od].astype(np.float64)
    return (od / np.linalg.norm(od, axis=1, keepdims=True)) @ _PLANE.T


def _fit(pixels: Sequence[np.ndarray]) -> dict:
    from sklearn.mixture import GaussianMixture

    n = sum(len(p) for p in pixels)
    step = max(1, n // FIT_PIXELS)
    x = np.concatenate([p[::step] for p in pixels]).astype(np.float64)
    g = GaussianMixture(min(N_COMPONENTS, len(x)), covariance_type="full", reg_covar=1e-4, random_state=0).fit(x)
    return {"weights": g.weights_.tolist(), "means": g.means_.tolist(), "covariances": g.covariances_.tolist()}


def neg_log_likelihood(mixture: dict, x: np.ndarray) -> np.ndarray:
    """(N,) negative log-likelihood of each row of ``x`` under the stored mixture."""
    from scipy.special import logsumexp

    x = np.asarray(x, np.float64)
    logs = [
        np.log(w) + _gaussian_logpdf(x, np.asarray(mu, np.float64), np.asarray(c, np.float64))
        for w, mu, c in zip(mixture["weights"], mixture["means"], mixture["covariances"])
    ]
    return -logsumexp(np.stack(logs).reshape(len(logs), -1), axis=0)


def _gaussian_logpdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x; mean, cov) of each row, by Cholesky: what ``scipy.stats.multivariate_normal.logpdf`` gives
    (to 1e-12 on the shipped record; tests/models/test_colour.py), without importing ``scipy.stats`` (0.3 s
    of a one-slide grade)."""
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, (x - mean).T)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return np.asarray(-0.5 * (len(mean) * np.log(2.0 * np.pi) + log_det + (z * z).sum(axis=0)))


def fit_colour_reference(train: Sequence[np.ndarray], val: Sequence[np.ndarray]) -> dict:
    """The card's colour record from the training and validation slides' thumbnails (stage-1 input mpp)."""
    pixels = [p for p in (hue_plane(t) for t in [*train, *val]) if len(p) >= MIN_HUE_PIXELS]
    if len(pixels) < 2:  # no held-out slide to choose a threshold on: no record (the check is skipped)
        return {}
    held = [neg_log_likelihood(_fit(pixels[:i] + pixels[i + 1 :]), p) for i, p in enumerate(pixels)]
    return {
        "space": "hue plane of optical-density directions of pixels with mean OD > hue_od (thumbnail at the "
        "stage-1 input mpp)",
        "method": f"Gaussian mixture ({N_COMPONENTS} components, full covariance); slide value: median "
        "negative log-likelihood of its stained pixels",
        "mixture": _fit(pixels),
        "threshold": float(np.quantile(np.concatenate(held), QUANTILE)),
        "quantile": QUANTILE,
        "threshold_from": "leave-one-slide-out: each reference slide's pixels scored by a mixture fitted without it",
        "held_out_medians": [round(float(np.median(h)), 3) for h in held],
        "n_slides": len(pixels),
        "hue_od": HUE_OD,
    }
