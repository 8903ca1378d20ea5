"""Area averaging: exact means, fractional weights, mass preservation."""

from __future__ import annotations

import numpy as np

from zoomgrade.slide.resample import apply_weights, area_resize, area_weights, block_mean


def test_weights_rows_sum_to_one_and_cover_input():
    for n_in, n_out in [(10, 3), (7, 7), (1000, 333), (5, 12)]:
        w = area_weights(n_in, n_out).toarray()
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-6)
        assert np.allclose(w.sum(axis=0), n_out / n_in, atol=1e-5)  # every input pixel counted equally


def test_block_mean_is_exact():
    rng = np.random.default_rng(1_000_004)
    img = rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)
    ref = np.floor(img.reshape(4, 3, 6, 3, 3).mean(axis=(1, 3)) + 0.5).astype(np.uint8)
    assert np.array_equal(block_mean(img, 3, 3), ref)
    assert np.array_equal(area_resize(img, 4, 6), ref)
    # the sparse path gives the same means up to float rounding
    out = apply_weights(img, area_weights(12, 4), area_weights(18, 6))
    assert np.abs(out.astype(int) - ref).max() <= 1


def test_block_mean_every_factor_shape_and_the_overflow_edge():
    rng = np.random.default_rng(7)
    for ky, kx in [(1, 1), (2, 2), (1, 4), (4, 1), (3, 5), (8, 2)]:
        img = rng.integers(0, 256, (ky * 5, kx * 7, 3), dtype=np.uint8)
        ref = np.floor(img.reshape(5, ky, 7, kx, 3).mean(axis=(1, 3)) + 0.5).astype(np.uint8)
        assert np.array_equal(block_mean(img, ky, kx), ref), (ky, kx)
    # the largest sums each accumulator type holds (16 x 16 in uint16, 17 x 17 in uint32), and rounding half up
    for k in (16, 17):
        white = np.full((k * 2, k * 3, 3), 255, np.uint8)
        assert np.array_equal(block_mean(white, k, k), np.full((2, 3, 3), 255, np.uint8))
    half = np.zeros((2, 2, 1), np.uint8)
    half[0, 0] = 2  # mean 0.5 -> 1
    assert block_mean(half, 2, 2).tolist() == [[[1]]]


def test_fractional_factor():
    img = np.zeros((1, 3, 1), np.uint8)
    img[0, :, 0] = [0, 90, 180]
    out = area_resize(img, 1, 2)  # each output pixel covers 1.5 input pixels
    assert out[0, :, 0].tolist() == [30, 150]  # (0 + 0.5*90)/1.5, (0.5*90 + 180)/1.5
