"""The compiled steps of the nuclear count do what the scipy calls they replaced did."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from zoomgrade.cascade import cellcount_kernel as kernel
from zoomgrade.cascade.cellcount import _integer_thresholds

SHAPES = ((128, 128), (37, 90), (5, 3), (1, 40), (64, 1))


def masks(seed: int):
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        for density in (0.002, 0.02, 0.2, 0.55, 0.9):  # 0.55: just above the lattice's percolation
            m = rng.random(shape) < density
            m[0, 0] = m[-1, -1] = True  # corners: the border must clip, never wrap to the next row
            yield m
    yield np.zeros((20, 20), bool)
    yield np.ones((20, 20), bool)
    spiral = np.zeros((41, 41), bool)  # one component that doubles back on itself: merges late in the scan
    for k in range(0, 20, 2):
        spiral[k, k : 41 - k] = spiral[k : 41 - k, 40 - k] = spiral[40 - k, k + 2 : 41 - k] = True
        spiral[k + 2 : 41 - k, k] = True
    yield spiral


def label(m: np.ndarray) -> tuple[np.ndarray, int]:
    h, w = m.shape
    parent = np.empty(h * w, np.int32)
    lab = np.empty(h * w, np.int32)
    n = kernel.label4(np.ascontiguousarray(m).ravel(), h, w, parent, lab)
    return lab.reshape(h, w), n


def test_labels_equal_ndimage_including_their_numbering():
    for m in masks(0):
        want, n_want = ndimage.label(m)  # the cross structure, components numbered in raster order
        got, n = label(m)
        assert n == n_want
        assert np.array_equal(got, want)


def test_growth_equals_repeated_cross_dilation_clipped_at_the_border():
    for m in masks(1):
        h, w = m.shape
        for r in (1, 2, 3, 7, 10, 13):
            out = np.empty(h * w, bool)
            kernel.grow_l1(m.ravel(), h, w, r, out, np.empty(h * w, np.int32))
            assert np.array_equal(out.reshape(h, w), ndimage.binary_dilation(m, iterations=r)), (m.shape, r)


def test_nuclear_mask_equals_the_float_tests_within_inside():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    img[:16, :16] = rng.integers(30, 140, (16, 16, 3))  # near the default thresholds
    inside = rng.random((64, 64)) < 0.5
    for grey, margin in ((120.0, 10.0), (119.9, 9.5), (0.0, 0.0), (255.0, -20.0), (300.0, 300.0)):
        s_max, k = _integer_thresholds(grey, margin)
        assert k is not None
        f = img.astype(np.int16)
        want = (f.sum(axis=-1) / 3.0 < grey) & (f[..., 2] > f[..., 0] + margin)
        assert want.any() or grey == 0.0 or margin == 300.0
        assert np.array_equal(kernel.nuclear_mask_int(img, inside, False, s_max, k), want), (grey, margin)
        assert np.array_equal(kernel.nuclear_mask_int(img, inside, True, s_max, k), want & inside), (grey, margin)
