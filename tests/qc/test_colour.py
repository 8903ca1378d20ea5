"""The colour check: a mixture of the training slides' stained hues, its threshold from held-out slides."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from zoomgrade.qc.colour import check_colour, fit_colour_reference, hue_plane, neg_log_likelihood


def _smear(rng, nucleus, cytoplasm, size=128):
    """Glass with two stained materials (Beer-Lambert): large pale cytoplasm blobs, small dense nuclei."""
    glass = np.tile(np.asarray((244, 242, 240), np.float32), (size, size, 1))
    od = np.zeros((size, size, 3), np.float32)
    for sigma, gain, colour in ((6, 30, cytoplasm), (2, 60, nucleus)):
        d = ndimage.gaussian_filter(rng.random((size, size)), sigma)
        od += np.clip((d - d.mean()) * gain, 0, 1.5)[..., None] * np.asarray(colour, np.float32)
    return np.clip(glass * np.exp(-od) + rng.normal(0, 2.0, od.shape), 0, 255).astype(np.uint8)  # camera noise


def _family(rng, nucleus, cytoplasm, n):
    """``n`` slides of one stain, each with its own small hue jitter of both materials."""
    return [
        _smear(rng, np.add(nucleus, rng.normal(0, 0.03, 3)), np.add(cytoplasm, rng.normal(0, 0.02, 3)))
        for _ in range(n)
    ]


def test_colour_reference_passes_its_stain_and_flags_a_close_other_stain():
    rng = np.random.default_rng(0)
    green = ((1.37, 1.44, 0.73), (0.45, 0.27, 0.35))  # Papanicolaou-like: green cytoplasm
    blue = ((1.15, 1.86, 0.78), (0.71, 0.66, 0.31))  # Diff-Quik-like: blue-grey cytoplasm, purple nuclei
    ref = fit_colour_reference(_family(rng, *green, 4), _family(rng, *green, 1))
    assert ref["n_slides"] == 5 and len(ref["held_out_medians"]) == 5
    assert max(ref["held_out_medians"]) < ref["threshold"]  # the rule is a quantile of held-out pixels
    for img in _family(rng, *green, 3):
        rec = check_colour(img, ref)
        assert rec is not None and rec.verdict == "pass", rec
    for img in _family(rng, *blue, 3):
        rec = check_colour(img, ref)
        assert rec is not None and rec.verdict == "fail" and rec.value > rec.threshold, rec


def test_colour_check_is_skipped_without_a_record_and_warns_on_empty_glass():
    rng = np.random.default_rng(1)
    img = _smear(rng, (1.37, 1.44, 0.73), (0.45, 0.27, 0.35))
    assert check_colour(img, None) is None and check_colour(img, {}) is None
    ref = fit_colour_reference([img, _smear(rng, (1.37, 1.44, 0.73), (0.45, 0.27, 0.35))], [])
    rec = check_colour(np.full((64, 64, 3), 243, np.uint8), ref)
    assert rec is not None and rec.verdict == "warn" and rec.value is None


def test_likelihood_matches_a_single_gaussian():
    from scipy.stats import multivariate_normal

    cov = [[0.02, 0.005], [0.005, 0.01]]
    x = np.random.default_rng(2).normal(size=(50, 2)) * 0.1
    mix = {"weights": [1.0], "means": [[0.0, 0.1]], "covariances": [cov]}
    assert np.allclose(neg_log_likelihood(mix, x), -multivariate_normal([0.0, 0.1], cov).logpdf(x))
    assert hue_plane(np.full((32, 32, 3), 243, np.uint8)).shape == (0, 2)


def test_a_record_is_read_at_the_density_it_was_fitted_at():
    from zoomgrade.models.colour import FIRST_HUE_OD, HUE_OD

    rng = np.random.default_rng(3)
    green = ((1.37, 1.44, 0.73), (0.45, 0.27, 0.35))
    ref = fit_colour_reference(_family(rng, *green, 3), [])
    assert ref["hue_od"] == HUE_OD
    img = _family(rng, *green, 1)[0]
    assert len(hue_plane(img, FIRST_HUE_OD)) > len(hue_plane(img)) > 0  # the faint material no longer counts
    at = {od: check_colour(img, {**ref, "hue_od": od}).value for od in (FIRST_HUE_OD, HUE_OD)}
    assert at[FIRST_HUE_OD] != at[HUE_OD]
    # a record from before hue_od was recorded was fitted at the first density, and is read so
    legacy = {k: v for k, v in ref.items() if k != "hue_od"}
    assert check_colour(img, legacy).value == at[FIRST_HUE_OD]
