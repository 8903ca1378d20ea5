"""Read-ahead hints: which segments a box touches, the byte ranges hinted for them, and that a slide hints
exactly the file bytes of the tiles a read at that mpp would decode."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from zoomgrade.slide import open_slide, readahead
from zoomgrade.slide.readahead import byte_ranges, segment_indices

needs_fadvise = pytest.mark.skipif(not readahead.HAVE_FADVISE, reason="no posix_fadvise on this platform")


def test_segment_indices_follow_box_order_once_each_and_clip_to_the_level():
    # 10 x 8 px level of 4 x 4 segments: 3 columns, 2 rows
    assert segment_indices([(5, 0, 2, 2)], 10, 8, 4, 4, 3) == [1]
    assert segment_indices([(3, 3, 2, 2)], 10, 8, 4, 4, 3) == [0, 1, 3, 4]
    # a later box's segments come after, and shared ones are not repeated
    assert segment_indices([(8, 4, 2, 2), (3, 3, 6, 2)], 10, 8, 4, 4, 3) == [5, 0, 1, 2, 3, 4]
    # outside the level: nothing; half outside: clipped
    assert segment_indices([(-20, -20, 5, 5), (10, 0, 4, 4)], 10, 8, 4, 4, 3) == []
    assert segment_indices([(-2, 6, 4, 10)], 10, 8, 4, 4, 3) == [3]


def test_byte_ranges_join_near_segments_cut_long_runs_and_skip_empty_ones():
    offsets = np.array([100, 200, 300, 10_000, 0, 10_150])
    counts = np.array([100, 100, 50, 100, 0, 50])
    # 0-1-2 are back to back; 3 is far; 4 never written; 5 starts 50 bytes after 3 ends
    assert byte_ranges(offsets, counts, [0, 1, 2, 3, 4, 5], gap=64) == [(100, 250), (10_000, 200)]
    assert byte_ranges(offsets, counts, [0, 1, 2, 3, 4, 5], gap=0) == [(100, 250), (10_000, 100), (10_150, 50)]
    # order is kept: a segment before the current range starts a new one
    assert byte_ranges(offsets, counts, [2, 0], gap=1_000) == [(300, 50), (100, 100)]
    # long runs are hinted in pieces of at most max_range
    assert byte_ranges(offsets, counts, [0, 1, 2], gap=0, max_range=100) == [(100, 100), (200, 100), (300, 50)]


@needs_fadvise
def test_slide_hints_the_bytes_of_the_tiles_a_read_at_that_mpp_decodes(pyramid):
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:
        tiled = sorted((p for p in tif.pages if p.is_tiled), key=lambda p: -p.imagewidth)
        level1 = tiled[1]  # 300 x 250 px, /4: two 256-px tile columns, one row
        offsets, counts = np.asarray(level1.dataoffsets), np.asarray(level1.databytecounts)
    with open_slide(path) as s:
        # x 1000-1040 at level 0 is x 250-260 at level 1: both tiles of its single row
        assert s.will_need([(1000, 0, 40, 40)], 1.0) == int(counts[0] + counts[1])
        # only the first: nothing ahead of x 1000 / 4 = 250 < 256
        assert s.will_need([(0, 0, 400, 400)], 1.0) == int(counts[0])
        assert s.will_need([(0, 0, 400, 400)], 1.0) == s.will_need([(0, 0, 400, 400), (10, 10, 20, 20)], 1.0)
        assert offsets[1] > offsets[0]
        assert s.will_need([(5000, 5000, 10, 10)], 1.0) == 0  # off the slide


@needs_fadvise
def test_hinting_after_close_or_on_a_closed_descriptor_fails_quietly(pyramid, tmp_path):
    path, _ = pyramid
    s = open_slide(path)
    s.close()
    assert s.will_need([(0, 0, 100, 100)], 0.25) == 0
    f = tmp_path / "x.bin"
    f.write_bytes(b"\0" * 8192)
    fd = os.open(f, os.O_RDONLY)
    assert readahead.advise(fd, [(0, 4096), (4096, 4096)]) == 8192
    os.close(fd)
    assert readahead.advise(fd, [(0, 4096)]) == 0


def test_backends_that_cannot_locate_bytes_hint_nothing(tmp_path):
    from PIL import Image

    p = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(p)
    with open_slide(p, mpp=0.5) as s:
        assert s.backend_name == "pillow"
        assert s.will_need([(0, 0, 64, 64)], 0.5) == 0
