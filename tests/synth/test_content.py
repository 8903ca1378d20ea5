"""What is drawn: groups are sparse within what an Otsu mask calls tissue, sized like real groups, and
the category mix follows the rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.color import rgb2gray
from skimage.filters import threshold_otsu

from zoomgrade.synth import CATEGORIES, slide_category, truth_paths
from zoomgrade.synth.composition import group_mix
from zoomgrade.synth.groups import layout_group
from zoomgrade.synth.profiles import ARCHITECTURES, PROFILES


@pytest.mark.slow
def test_groups_are_a_few_percent_of_otsu_tissue(synth_slide):
    import openslide

    path = synth_slide("II", size_mm=(4, 4))
    truth = json.loads(truth_paths(path)[1].read_text())
    with openslide.OpenSlide(str(path)) as s:
        lv = s.level_count - 1
        img = np.asarray(s.read_region((0, 0), lv, s.level_dimensions[lv]).convert("RGB"), np.float32)
        f = int(round(32 / s.level_downsamples[lv]))  # 8 um/px
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    low = img[:h, :w].reshape(h // f, f, w // f, f, 3).mean((1, 3)) / 255
    gray = rgb2gray(low)
    tissue_um2 = float((gray < threshold_otsu(gray)).sum()) * 8.0**2
    ratio = truth["group_area_um2"] / tissue_um2
    assert 0.002 < ratio < 0.045, ratio
    # ~120 um^2 of outline per cell, the density the cascade uses to estimate cell counts
    per_cell = truth["group_area_um2"] / truth["n_cells"]
    assert 80 < per_cell < 170, per_cell


@pytest.mark.parametrize("category", CATEGORIES)
def test_mix_follows_rule(category):
    for seed in range(20):
        mix = group_mix(category, 16.0, np.random.default_rng(seed))
        assert slide_category(mix) == category
        if category != "I":
            assert 10 <= len(mix) <= 45
        big = [n for f, n in mix if f == category and n >= 15]
        if category not in ("I", "II"):
            assert len(big) >= 3


@pytest.mark.parametrize("fine", ["II", "III", "IV", "V", "VI"])
def test_layouts_have_the_cells_asked_for(fine):
    rng = np.random.default_rng(3)
    for arch in ARCHITECTURES:
        lay = layout_group(arch, fine, 60, 0.25, rng)
        assert 40 <= len(lay.xy) <= 75
        extent = np.ptp(lay.xy, axis=0).max() * 0.25  # um
        assert 40 < extent < 600, (arch, extent)
    assert set().union(*(PROFILES[f].architecture for f in PROFILES)) <= set(ARCHITECTURES)
