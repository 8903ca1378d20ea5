"""Each quality check on images whose answer is known: it passes what it should and fails what it should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from zoomgrade.qc.brightfield import MIN_GLASS_LUMINANCE, check_brightfield
from zoomgrade.qc.focus import MIN_SHARPNESS, check_focus, sharpness
from zoomgrade.qc.resolution import check_extent, check_resolution, stage2_limit
from zoomgrade.qc.stain import angle_to, check_stain, fit_stain_reference, stain_vectors


def _smear(rng, od=(0.5, 0.6, 0.3), size=256, glass=(244, 242, 240)):
    """Glass with stained blobs of one OD colour (Beer-Lambert), like a low-power smear."""
    img = np.tile(np.asarray(glass, np.float32), (size, size, 1))
    dens = ndimage.gaussian_filter(rng.random((size, size)), 6)
    dens = np.clip((dens - dens.mean()) * 40, 0, 1.5)[..., None]
    return np.clip(img * np.exp(-dens * np.asarray(od, np.float32)), 0, 255).astype(np.uint8)


class _Card:
    mpp_range = (0.25, 1.0)
    input_mpp = 0.5


def test_resolution_fails_a_slide_coarser_than_stage2_can_use():
    limit = stage2_limit(_Card(), 0.5)
    assert limit == 1.0
    assert check_resolution(0.25, "file", limit).verdict == "pass"
    assert check_resolution(29.0, "file", limit).verdict == "fail"
    assert check_resolution(0.5, "estimate", limit).verdict == "warn"
    # the cascade raises its run mpp to a coarse slide's own: that must not move the limit
    assert stage2_limit(_Card(), 29.0) == 1.0


def test_extent_fails_an_image_smaller_than_one_window():
    assert check_extent(16, 16, 0.5, 64.0).verdict == "fail"
    assert check_extent(4000, 3000, 0.5, 64.0).verdict == "pass"


def test_brightfield_passes_glass_and_fails_a_dark_field():
    rng = np.random.default_rng(0)
    assert check_brightfield(_smear(rng)).verdict == "pass"
    dark = np.zeros((128, 128, 3), np.uint8)
    dark[40:60, 40:60] = (30, 30, 200)  # a few bright stained nuclei on black
    rec = check_brightfield(dark)
    assert rec.verdict == "fail" and rec.value < MIN_GLASS_LUMINANCE


def test_stain_reference_accepts_its_stain_and_refuses_another():
    rng = np.random.default_rng(1)
    pap = [_smear(rng, (0.5 + rng.normal(0, 0.02), 0.6, 0.3 + rng.normal(0, 0.02))) for _ in range(6)]
    ref = fit_stain_reference(pap[:4], pap[4:])
    assert ref["threshold_deg"] >= 8.0
    assert check_stain(_smear(rng, (0.52, 0.6, 0.31)), ref).verdict == "pass"
    dab = check_stain(_smear(rng, (0.27, 0.57, 0.78)), ref)  # brown: blue absorbed most
    assert dab.verdict == "fail" and dab.value > ref["threshold_deg"]
    assert check_stain(np.full((64, 64, 3), 243, np.uint8), ref).verdict == "fail"  # nothing stained


def test_stain_angle_is_zero_to_itself():
    v, _ = stain_vectors(_smear(np.random.default_rng(2)))
    assert v is not None and angle_to(v, v[None]) == pytest.approx(0.0, abs=1e-3)


def test_focus_counts_blurred_windows():
    rng = np.random.default_rng(3)
    sharp = []
    for _ in range(6):
        w = np.full((128, 128, 3), 235, np.float32)
        for _ in range(40):  # nuclei: small dark discs with crisp edges
            y, x = rng.integers(8, 120, 2)
            yy, xx = np.ogrid[:128, :128]
            w[(yy - y) ** 2 + (xx - x) ** 2 < 16] = (70, 60, 120)
        sharp.append(w.astype(np.uint8))
    blurred = [
        np.stack([ndimage.gaussian_filter(w[..., k].astype(np.float32), 2.0) for k in range(3)], -1).astype(np.uint8)
        for w in sharp
    ]
    assert min(sharpness(w) for w in sharp) > MIN_SHARPNESS > max(sharpness(w) for w in blurred)
    assert check_focus(sharp).verdict == "pass"
    assert check_focus(blurred).verdict == "fail"
    assert check_focus(sharp[:3] + blurred[:2]).verdict == "warn"
    assert check_focus([np.full((64, 64, 3), 240, np.uint8)]).verdict == "pass"  # glass: nothing to judge
