"""The written file is a real Aperio-style pyramid that OpenSlide opens, with truth that fits the slide."""

from __future__ import annotations

import json

import numpy as np
import openslide
import pytest
from shapely.geometry import box, shape

from zoomgrade.annotations import load_annotations
from zoomgrade.labels import TBSRTC
from zoomgrade.synth import CATEGORIES, slide_category, truth_paths


@pytest.mark.slow
@pytest.mark.parametrize("category", CATEGORIES)
def test_opens_as_aperio_with_truth(synth_slide, category):
    stain = "diffquik" if category in ("II", "V") else "pap"
    path = synth_slide(category, size_mm=(2, 2), stain=stain)
    with openslide.OpenSlide(str(path)) as s:
        assert s.properties["openslide.vendor"] == "aperio"
        assert float(s.properties["openslide.mpp-x"]) == pytest.approx(0.25)
        assert float(s.properties["openslide.objective-power"]) == 40
        assert s.level_dimensions == ((8000, 8000), (2000, 2000), (500, 500))
        assert [round(d) for d in s.level_downsamples] == [1, 4, 16]
        assert "thumbnail" in s.associated_images
        thumb = np.asarray(s.read_region((0, 0), 2, (500, 500)).convert("RGB"))
    # Something is drawn (not a blank page), and the glass stays light.
    assert thumb.std() > 3 and np.percentile(thumb, 90) > 200

    gj, tj = truth_paths(path)
    truth = json.loads(tj.read_text())
    frame = box(0, 0, 8000, 8000)
    anns = load_annotations(gj)
    assert len(anns) == truth["n_groups"]
    for a in anns:
        assert a.geometry.is_valid and frame.contains(a.geometry)
        assert a.label in TBSRTC.fine and a.properties["fine_category"] == a.label
        assert a.properties["classification"]["color"] == list(TBSRTC.color_rgb(a.label))
        assert a.properties["cell_count"] >= 3 and a.properties["architecture"]
    assert truth["category"] == category
    assert truth["category"] == slide_category([(a.label, a.properties["cell_count"]) for a in anns])
    assert sum(truth["counts"].values()) == truth["n_groups"]
    assert truth["mpp"] == 0.25 and truth["size_mm"] == [2.0, 2.0] and truth["stain"] == stain


@pytest.mark.slow
def test_level_step_two(synth_slide):
    path = synth_slide("II", size_mm=(2, 2), level_step=2)
    with openslide.OpenSlide(str(path)) as s:
        assert s.level_dimensions == ((8000, 8000), (4000, 4000), (2000, 2000), (1000, 1000))


def test_pixels_match_between_levels(synth_slide):
    """Level 1 is the area average of level 0 (JPEG-close), so a reader may pick either."""
    path = synth_slide("VI", size_mm=(2, 2))
    gj, _ = truth_paths(path)
    g = shape(json.loads(gj.read_text())["features"][0]["geometry"])
    x, y = (int(v) // 4 * 4 for v in g.centroid.coords[0])
    with openslide.OpenSlide(str(path)) as s:
        hi = np.asarray(s.read_region((x - 256, y - 256), 0, (512, 512)).convert("RGB"), np.float32)
        lo = np.asarray(s.read_region((x - 256, y - 256), 1, (128, 128)).convert("RGB"), np.float32)
    down = hi.reshape(128, 4, 128, 4, 3).mean((1, 3))
    assert np.abs(down - lo).mean() < 6
    assert hi.std() > 15  # a cell group is there


@pytest.mark.slow
def test_file_tiles_are_256_px_and_hold_the_rendered_pixels(tmp_path, monkeypatch):
    """Blocks are rendered 512 px at a time and written as 256 px file tiles: a tile put in the wrong
    place would show as a large difference from the same slide written in 512 px tiles."""
    import zoomgrade.synth.slide as synth_slide_mod
    from zoomgrade.slide import open_slide

    size = (1.3, 0.9)  # neither side a whole number of render blocks or file tiles
    synth_slide_mod.write_slide(tmp_path / "t256.svs", "V", "pap", size, seed=3, workers=1)
    monkeypatch.setattr(synth_slide_mod, "TILE", 512)
    synth_slide_mod.write_slide(tmp_path / "t512.svs", "V", "pap", size, seed=3, workers=1)
    with openslide.OpenSlide(str(tmp_path / "t256.svs")) as s:
        assert s.properties["openslide.level[0].tile-width"] == "256"
        assert s.properties["openslide.level[1].tile-height"] == "256"
    with open_slide(tmp_path / "t256.svs") as a, open_slide(tmp_path / "t512.svs") as b:
        assert a.dimensions == b.dimensions == (5200, 3600)
        for mpp in (0.25, 1.0):
            x = np.asarray(a.read_region(0, 0, *a.dimensions, mpp), np.int16)
            y = np.asarray(b.read_region(0, 0, *b.dimensions, mpp), np.int16)
            d = np.abs(x - y)
            # JPEG blocks are the same; only chroma upsampling at the new tile edges differs
            assert d.mean() < 0.05 and np.mean(d > 2) < 0.005
