"""Tiles: DeepZoom geometry, the pixels match the slide reader's, the caches stay bounded."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoomgrade.slide import open_slide
from zoomgrade.viewer.tiles import (
    BytesLRU,
    DeepZoom,
    SlidePool,
    SlideUnavailable,
    encode_jpeg,
    render_tile,
)


def test_deepzoom_geometry() -> None:
    dz = DeepZoom(12000, 7000)
    assert dz.max_level == 14 and dz.level_size(14) == (12000, 7000) and dz.level_size(0) == (1, 1)
    assert dz.level_size(13) == (6000, 3500)
    # the last column of level 14 is clipped to the slide
    x0, y0, w0, h0, w, h = dz.tile_box(14, 46, 27)
    assert (x0, y0, w, h) == (46 * 256, 27 * 256, 12000 - 46 * 256, 7000 - 27 * 256) and (w0, h0) == (w, h)
    # a level-13 tile covers twice the level-0 pixels
    assert dz.tile_box(13, 1, 1)[:4] == (512, 512, 512, 512)
    assert dz.tile_box(14, 47, 0) is None and dz.tile_box(15, 0, 0) is None and dz.tile_box(3, -1, 0) is None


def test_tile_pixels_match_the_reader(synth_slide) -> None:
    path = synth_slide("VI", size_mm=(3, 3))
    with open_slide(path) as slide:
        dz = DeepZoom(*slide.dimensions)
        level = dz.max_level - 3  # 1/8 scale: 2 um/px
        data = render_tile(slide, dz, level, 2, 1)
        ref = slide.read_region(2 * 256 * 8, 1 * 256 * 8, 256 * 8, 256 * 8, slide.mpp * 8)
        assert data == encode_jpeg(ref, (256, 256))  # exactly that box of the slide, at that mpp
        assert ref.std() > 5  # there is tissue in this tile, so the comparison means something
        tile = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
        assert tile.shape == (256, 256, 3) and np.corrcoef(tile.ravel(), ref.astype(np.float32).ravel())[0, 1] > 0.9
        assert render_tile(slide, dz, level, 99, 0) is None


def test_bytes_lru_is_bounded() -> None:
    c = BytesLRU(1000)
    for i in range(50):
        c.put((i,), bytes(100))
    assert c.nbytes <= 1000 and len(c) == 10 and c.get((49,)) is not None and c.get((0,)) is None
    c.put(("big",), bytes(2000))  # larger than the whole cache: not kept
    assert c.get(("big",)) is None and c.nbytes <= 1000


def test_pool_bounds_open_slides_and_remembers_failures(synth_slide, tmp_path: Path) -> None:
    paths = [synth_slide(c, size_mm=(1, 1)) for c in ("II", "III", "IV")]
    pool = SlidePool(max_open=2)
    for i, p in enumerate(paths):
        with pool.lease(str(i), p, None) as (slide, dz):
            assert dz.width == slide.dimensions[0]
    assert len(pool._open) == 2
    bad = tmp_path / "bad.svs"
    bad.write_bytes(b"not a slide at all")
    for _ in range(2):
        with pytest.raises(SlideUnavailable, match="cannot open the slide"), pool.lease("bad", bad, None):
            pass
    with pytest.raises(SlideUnavailable, match="not found"), pool.lease("gone", tmp_path / "gone.svs", None):
        pass
    pool.close()


def test_latency_pan_plan() -> None:
    """The measured pan: five finest levels, a 6 x 4 viewport across the middle, each tile once per level."""
    from zoomgrade.viewer.latency import pan_tiles

    dz = DeepZoom(80_000, 80_000)
    tiles = pan_tiles(dz.width, dz.height, dz.max_level)
    assert len(tiles) == len(set(tiles))
    assert {lv for lv, _, _ in tiles} == set(range(dz.max_level - 4, dz.max_level + 1))
    finest = [(c, r) for lv, c, r in tiles if lv == dz.max_level]
    cols = -(-80_000 // 256)
    assert {c for c, _ in finest} == set(range(cols)) and len({r for _, r in finest}) == 4
    assert all(dz.tile_box(lv, c, r) is not None for lv, c, r in tiles)
