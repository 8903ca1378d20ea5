"""Regression: stage-1 components bridged by background speckle must not become one giant region
(held-out slide seed 1000107 gave one 1 mm^2 region over nine benign groups)."""

import numpy as np
import pytest

from zoomgrade.models.regions import maps_to_regions, split_components
from zoomgrade.models.runners import Stage1Maps


def _blob(g: np.ndarray, cy: int, cx: int, r: float, peak: float) -> None:
    yy, xx = np.mgrid[: g.shape[0], : g.shape[1]]
    g[:] = np.maximum(g, peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))


def _bridged_maps(seed: int = 0) -> Stage1Maps:
    """Three confident groups, joined by a band of speckle at ~threshold (corner- and edge-touching
    pixels between 0.5 and 0.7, as the model gives on dense blood), plus one faint coreless group."""
    rng = np.random.default_rng(seed)
    g = np.zeros((40, 90), np.float32)
    band = rng.uniform(0.35, 0.7, (6, 80)).astype(np.float32)
    band[::2, ::2] = 0.6  # a guaranteed chain: every other pixel, touching diagonally and along rows
    band[:, ::2] = np.maximum(band[:, ::2], 0.55)
    g[17:23, 5:85] = band
    for cx in (10, 45, 80):
        _blob(g, 20, cx, 3.0, 0.99)
    _blob(g, 5, 45, 1.5, 0.75)  # faint, small group away from the band: must stay a region
    c = np.zeros(g.shape + (3,), np.float32)
    c[..., 0] = 1.0
    return Stage1Maps(g, c, g.copy(), 2)


def test_speckle_bridged_groups_become_separate_regions():
    maps = _bridged_maps()
    regions = maps_to_regions(maps, map_mpp=16.0, slide_mpp=0.25, min_area_um2=0.0)
    s = 16.0 / 0.25
    centres = [(cx * s + s / 2, 20 * s + s / 2) for cx in (10, 45, 80)]
    holders = [[r.id for r in regions if r.polygon.contains(_pt(x, y))] for x, y in centres]
    # each group in exactly one region, and no region holds two groups (the old code: one region)
    assert all(len(h) == 1 for h in holders)
    assert len({h[0] for h in holders}) == 3
    # the faint coreless group is still found
    assert any(r.polygon.contains(_pt(45 * s + s / 2, 5 * s + s / 2)) for r in regions)
    # nothing is lost: the split regions cover exactly the thresholded pixels
    assert sum(r.area_um2 for r in regions) == pytest.approx(float((maps.group >= 0.5).sum()) * 256)


def test_single_core_component_is_unchanged():
    g = np.zeros((20, 20), np.float32)
    _blob(g, 10, 10, 3.0, 0.99)
    lab = split_components(g, 0.5, 0.9)
    assert lab.max() == 1 and np.array_equal(lab > 0, g >= 0.5)


def test_cores_of_fewer_than_three_pixels_do_not_split():
    g = np.zeros((10, 20), np.float32)
    g[4:7, 2:18] = 0.7
    g[5, 3:6] = 0.95  # a 3-pixel core
    g[5, 12:14] = 0.95  # a 2-pixel core: too small to be a group of its own
    assert np.unique(split_components(g, 0.5, 0.9)).tolist() == [0, 1]
    g[5, 14] = 0.95  # now 3 pixels: two groups
    assert np.unique(split_components(g, 0.5, 0.9)).tolist() == [0, 1, 2]


def _pt(x: float, y: float):
    from shapely.geometry import Point

    return Point(x, y)
