"""Nuclei under thick colloid or stacked red cells: drawn as the slide generator draws (optical densities
add, the pixel is the glass times exp(-OD)), with the Pap palette."""

import numpy as np
import pytest
from shapely.geometry import box
from skimage.draw import disk

from zoomgrade.cascade.cellcount import count_cells, count_region, nuclear_mask
from zoomgrade.cascade.config import AdequacyConfig
from zoomgrade.cascade.overlay_nuclei import surroundings, under_overlay
from zoomgrade.synth.stains import make_palette

CFG = AdequacyConfig()
MPP = 0.5
PAL = make_palette("pap", np.random.default_rng(0))


def render(od: np.ndarray) -> np.ndarray:
    return np.clip(PAL.background * np.exp(-od), 0, 255).round().astype(np.uint8)


def scene(nuclei: bool = True, colloid: float = 0.0, red_cells: bool = False, n: int = 192) -> np.ndarray:
    """A sheet of 12 nuclei (7.5 um across, 10 um apart) in pale cytoplasm; optionally a layer of thick
    colloid of the given density over the whole field, and stacked red cells."""
    od = np.zeros((n, n, 3), np.float32)
    if nuclei:
        rr, cc = disk((96, 96), 40, shape=(n, n))
        od[rr, cc] += PAL["cytoplasm"]
        for i in range(12):
            rr, cc = disk((66 + (i // 4) * 20, 66 + (i % 4) * 20), 7.5, shape=(n, n))
            od[rr, cc] += PAL["nucleus"]
    if red_cells:
        for k in range(10):
            for layer in range(2):  # two red cells deep: dark, but red
                rr, cc = disk((30 + 12 * layer, 10 + 17 * k), 7, shape=(n, n))
                od[rr, cc] += PAL["rbc"]
    od += colloid * PAL["colloid_thick"]
    return render(od)


def test_a_group_under_thick_colloid_is_counted_before_it_is_dismissed():
    img = scene(colloid=1.0)
    assert count_cells(img, MPP, CFG) == 0  # dark nuclei, but no longer bluer than red: the plain test misses them
    assert count_cells(img, MPP, CFG, overlays=True) == 12
    window = (0, 0, 768, 768)  # level-0 px (a slide at 0.125 um/px); the region covers all of it
    region = box(0, 0, 768, 768)
    assert count_region(img[None], [window], region, MPP, CFG, 0.0) == 12  # looked for before dismissing
    assert count_region(img[None], [window], region, MPP, CFG, 0.0, overlays=False) == 0


@pytest.mark.parametrize("colloid", [0.0, 0.3])
def test_counts_the_plain_test_makes_stand(colloid):
    """On glass, and under colloid too thin to hide the nuclei, nothing is added and the count is the same."""
    img = scene(colloid=colloid)
    plain = count_cells(img, MPP, CFG)
    assert plain == 12
    assert count_cells(img, MPP, CFG, overlays=True) == plain


def test_red_cells_under_colloid_are_not_nuclei():
    img = scene(nuclei=False, colloid=1.0, red_cells=True)
    assert count_cells(img, MPP, CFG, overlays=True) == 0
    plain = nuclear_mask(img, CFG)
    assert not under_overlay(img, plain, MPP, CFG).any()


def test_surroundings_are_each_channels_brightest_nearby_value():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)  # not whole blocks: padded at the far edges
    env = surroundings(img, 8)
    assert env.shape == (5, 7, 3)
    for by, bx in ((0, 0), (2, 3), (4, 6)):
        ys = slice(max(0, (by - 1) * 8), min(37, (by + 2) * 8))
        xs = slice(max(0, (bx - 1) * 8), min(50, (bx + 2) * 8))
        assert np.array_equal(env[by, bx], img[ys, xs].reshape(-1, 3).max(axis=0))
