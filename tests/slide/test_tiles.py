"""Tile grids: cover the slide exactly once (no overlap), step with overlap, respect a mask."""

from __future__ import annotations

import numpy as np
import pytest

from zoomgrade.slide import Tile, open_slide
from zoomgrade.slide.tiles import tile_grid


def _coverage(tiles, w, h):
    cov = np.zeros((h, w), np.int32)
    for t in tiles:
        assert t.w > 0 and t.h > 0 and t.x + t.w <= w and t.y + t.h <= h
        cov[t.y : t.y + t.h, t.x : t.x + t.w] += 1
    return cov


def test_tiles_cover_slide_once(pyramid):
    path, _ = pyramid
    with open_slide(path) as s:
        tiles = list(s.tiles(224, 0.5))  # 448 level-0 px per tile over 1200 x 1000
        assert len(tiles) == 3 * 3
        assert tiles[0] == Tile(0, 0, 448, 448) and tiles[-1] == Tile(896, 896, 304, 104)  # clipped edges
        assert (_coverage(tiles, 1200, 1000) == 1).all()
        # each tile reads back as `size` px at mpp (edge tiles smaller)
        assert s.read_region(*tiles[0].__dict__.values(), 0.5).shape == (224, 224, 3)


def test_overlap_steps_and_still_covers():
    tiles = list(tile_grid(1000, 700, 0.25, size=100, mpp=1.0, overlap=20))
    xs = sorted({t.x for t in tiles})
    assert xs[:3] == [0, 320, 640] and all(t.w <= 400 for t in tiles)
    assert (_coverage(tiles, 1000, 700) >= 1).all()
    with pytest.raises(ValueError):
        list(tile_grid(100, 100, 0.25, size=10, mpp=1.0, overlap=10))


def test_mask_skips_empty_tiles():
    # slide 1000 x 800 level-0 px at 0.5 um/px; mask at 10 um/px is 50 x 40; tissue in one corner block
    mask = np.zeros((40, 50), bool)
    mask[0:10, 0:10] = True  # level-0 x, y in [0, 200)
    tiles = list(tile_grid(1000, 800, 0.5, size=100, mpp=1.0, mask=mask, mask_mpp=10.0))
    assert tiles == [Tile(0, 0, 200, 200)]
    # mask_mpp defaults to "the mask spans the slide": same answer
    assert list(tile_grid(1000, 800, 0.5, size=100, mpp=1.0, mask=mask)) == tiles
    mask[39, 49] = True  # bottom-right mask pixel -> the bottom-right tile too
    assert list(tile_grid(1000, 800, 0.5, size=100, mpp=1.0, mask=mask))[-1] == Tile(800, 600, 200, 200)


def test_slide_smaller_than_one_tile(real):
    with open_slide(real / "tiny-16px.svs") as s:
        assert list(s.tiles(512, 0.5)) == [Tile(0, 0, 16, 16)]
        assert s.read_region(0, 0, 16, 16, 0.499).shape == (16, 16, 3)


def test_the_one_grid_lattice_centred_and_covering():
    from zoomgrade.slide.tiles import Grid

    g = Grid.at(128, 0.5, 0.25)  # 128 px at 0.5 um/px = 256 level-0 px
    assert (g.step, g.size, g.phase) == (256.0, 256.0, 0.0)
    assert list(g.meeting(300, 600)) == [1, 2, 3] and g.origin(3) == 768.0  # cells meeting [300, 900)
    assert list(g.meeting(0, 1)) == [0] and g.covering(1000) == 4 == len(g.meeting(0, 1000))
    half = Grid(g.step, g.size, g.step / 2)
    assert [half.origin(k) for k in half.meeting(300, 600)] == [128.0, 384.0, 640.0, 896.0]
    c, n = g.centred(100, 1000)  # 4 tiles centred on [100, 1100)
    assert n == 4 and c.origin(0) - 100 == 1100 - (c.origin(3) + 256)
