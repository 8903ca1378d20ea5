"""overlay.png and heatmap.png: outlines in grade colours where the regions are, the verdict banner, the maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from result_factory import BLOBS, make_result

from zoomgrade.labels import TBSRTC
from zoomgrade.outputs import save_result
from zoomgrade.outputs.overlay import LEGEND_W
from zoomgrade.types import SlideResult


def _near(a: np.ndarray, rgb: tuple[int, int, int], tol: int = 8) -> np.ndarray:
    return np.abs(a.astype(int) - np.array(rgb)).max(-1) <= tol


def test_overlay_outlines_each_region_in_its_grade_colour(result: SlideResult, tmp_path: Path) -> None:
    save_result(result, tmp_path)
    img = Image.open(tmp_path / "overlay.png")
    assert img.format == "PNG"
    a = np.asarray(img.convert("RGB"))
    banner_h = 76
    assert tuple(a[5, 5]) == TBSRTC.color_rgb("VI")  # banner in the slide category's colour
    thumb = a[banner_h:, : a.shape[1] - LEGEND_W]
    scale = thumb.shape[1] / result.slide.width
    for cx, cy, r, grade, _ in BLOBS[:-1]:
        # the outline's colour is found on the region's rim, at the right place
        y0, y1 = int((cy - r) * scale) - 4, int((cy + r) * scale) + 4
        x0, x1 = int((cx - r) * scale) - 4, int((cx + r) * scale) + 4
        rim = thumb[max(y0, 0) : y1, max(x0, 0) : x1]
        assert _near(rim, TBSRTC.color_rgb(grade)).sum() > 2 * r * scale, grade
    # and not where there is no region (slide centre-left between blobs)
    empty = thumb[int(600 * scale) : int(700 * scale), int(600 * scale) : int(800 * scale)]
    assert not any(_near(empty, TBSRTC.color_rgb(g)).any() for g in TBSRTC.fine)


def test_heatmap_has_three_panels_over_the_thumbnail(result: SlideResult, tmp_path: Path) -> None:
    save_result(result, tmp_path)
    a = np.asarray(Image.open(tmp_path / "heatmap.png").convert("RGB"))
    assert a.shape[1] > 3 * 500
    # the coarse-grade panel paints the malignant blob (region 4) in the malignant colour
    assert _near(a[:, : a.shape[1] // 3], TBSRTC.color_rgb("malignant"), tol=40).sum() > 100


def test_overlay_without_thumbnail_still_draws_outlines(flat_slide: Path, tmp_path: Path) -> None:
    r = make_result(flat_slide, with_maps=False)
    r.slide.path = str(tmp_path / "gone.png")  # no thumbnail, no slide: outlines on a blank canvas
    save_result(r, tmp_path)
    a = np.asarray(Image.open(tmp_path / "overlay.png").convert("RGB"))
    assert _near(a[76:, : a.shape[1] - LEGEND_W], TBSRTC.color_rgb("VI")).sum() > 50
