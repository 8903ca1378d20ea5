"""Band planning of large reads: bands tile the output, follow the file's segments and share the work."""

from __future__ import annotations

import itertools

import pytest

from zoomgrade.slide.bands import band_rows


def _level_rows(bands, ly, lh, out_h):
    """Level rows where each band starts (integral factor)."""
    k = lh // out_h
    return [ly + r0 * k for r0, _ in bands]


@pytest.mark.parametrize(
    ("out_h", "ly", "lh", "lw", "seg", "workers", "cap_px"),
    [
        (2500, 0, 5000, 5000, 256, 1, 8 << 20),
        (2500, 0, 5000, 5000, 256, 2, 8 << 20),
        (1250, 0, 5000, 5000, 256, 3, 8 << 20),
        (700, 13, 1000, 900, 240, 2, 200_000),  # fractional factor, offset start, NDPI-like strips
        (100, 0, 100, 50_000, 0, 2, 1 << 20),  # segment height unknown
        (40, 0, 80, 100, 4096, 2, 10_000),  # segments taller than a band may be
    ],
)
def test_bands_tile_the_output_within_the_memory_cap(out_h, ly, lh, lw, seg, workers, cap_px):
    bands = band_rows(out_h, ly, lh, lw, seg, workers, cap_px)
    assert bands[0][0] == 0 and bands[-1][1] == out_h
    assert all(r0 < r1 for r0, r1 in bands)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bands))  # no gap, no overlap
    cap_rows = max(1, cap_px // workers // lw)
    for r0, r1 in bands:  # level rows one band decodes (one more at each end for fractional weights)
        assert (r1 - r0) * lh / out_h <= cap_rows + 2


def test_band_edges_fall_on_tile_rows():
    bands = band_rows(2500, 0, 5000, 5000, 256, 2, 8 << 20)
    starts = _level_rows(bands, 0, 5000, 2500)
    assert all(s % 256 == 0 for s in starts)
    assert len(bands) >= 4  # two threads get at least two bands each
    # one thread: the largest whole number of tile rows that fits (8 Mi px / 5000 px = 1677 rows -> 6 x 256)
    assert band_rows(2500, 0, 5000, 5000, 256, 1, 8 << 20)[0] == (0, 768)


def test_offset_reads_align_to_the_file_grid_not_the_read():
    bands = band_rows(1000, 300, 2000, 4000, 256, 2, 4 << 20)
    starts = _level_rows(bands, 300, 2000, 1000)
    assert all(s % 256 == 0 for s in starts[1:])  # the first band starts where the read does


def test_workers_below_one_are_refused():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        band_rows(10, 0, 20, 20, 0, 0, 1000)
