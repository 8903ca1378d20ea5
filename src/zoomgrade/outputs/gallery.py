"""The review gallery: high-power crops of the most severe regions, read again from the slide.

A pathologist checks a grade by looking at the cells, so the crops come from the pyramid at high power
(about 0.5 um/px, the resolution stage 2 graded at), never from the low-power thumbnail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..labels import LabelSet
from ..types import RegionGrade, SlideResult
from .draw import WHITE

GALLERY_MPP = 0.5
MAX_CROP_PX = 480  # longest side of a gallery crop


@dataclass
class Crop:
    number: int  # 1-based, the same number the overlay writes beside the region
    grade: RegionGrade
    image: Image.Image
    mpp: float
    detail: bool = False  # a crop inside a region too large to show whole at high power


def review_regions(result: SlideResult, labels: LabelSet, n: int = 12) -> list[RegionGrade]:
    """The ``n`` regions a reviewer should look at first: most severe fine grade, then most confident."""

    def key(rg: RegionGrade) -> tuple[float, float, int]:
        sev = labels.severity(rg.fine_grade) if rg.fine_grade in labels.fine else -1
        return (-sev, -float(rg.confidence), rg.order)

    return sorted(result.regions, key=key)[:n]


def read_crop(
    slide: Any, rg: RegionGrade, labels: LabelSet, slide_mpp: float, mpp: float = GALLERY_MPP
) -> tuple[Image.Image, float, bool]:
    """Read a region with a margin at ``mpp`` and outline it; returns (image, mpp read at, detail only).

    A region too big for one crop at up to twice ``mpp`` is shown as a detail: one crop at ``mpp``
    centred inside it, because cells must stay readable (an overview of it is in overlay.png).
    """
    x, y, w, h = rg.region.bbox
    margin = max(0.25 * max(w, h), 20.0 / slide_mpp)  # at least 20 um of context around the group
    x0, y0 = int(x - margin), int(y - margin)
    cw, ch = int(w + 2 * margin), int(h + 2 * margin)
    mpp = max(mpp, slide_mpp)
    need = max(cw, ch) * slide_mpp / MAX_CROP_PX
    detail = need > 2 * mpp
    if detail:
        side = int(MAX_CROP_PX * mpp / slide_mpp)
        p = rg.region.polygon.representative_point()
        x0, y0, cw, ch = int(p.x - side / 2), int(p.y - side / 2), side, side
    else:
        mpp = max(mpp, need)
    arr = np.asarray(slide.read_region(x0, y0, cw, ch, mpp), dtype=np.uint8)[..., :3]
    img = Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")
    s = slide_mpp / mpp  # crop px per level-0 px
    draw = ImageDraw.Draw(img)
    color = labels.color_rgb(rg.fine_grade)
    geoms = getattr(rg.region.polygon, "geoms", [rg.region.polygon])
    for g in geoms:
        pts = [((px - x0) * s, (py - y0) * s) for px, py in g.exterior.coords]
        if len(pts) >= 3:
            draw.line(pts, fill=WHITE, width=4, joint="curve")
            draw.line(pts, fill=color, width=2, joint="curve")
    return img, mpp, detail


def gallery_crops(result: SlideResult, slide: Any, labels: LabelSet, n: int = 12) -> tuple[list[Crop], str | None]:
    """Crops of the review regions, and why there are none if the slide cannot be read."""
    picks = review_regions(result, labels, n)
    if not picks:
        return [], None
    if slide is None:
        return [], "no slide was given to the writer to read high-power crops from"
    crops: list[Crop] = []
    problems: list[str] = []
    for i, rg in enumerate(picks, start=1):
        try:
            img, mpp, detail = read_crop(slide, rg, labels, result.slide.mpp)
        except Exception as err:
            problems.append(f"region {rg.region.id}: {err}")
            continue
        crops.append(Crop(i, rg, img, mpp, detail))
    return crops, ("; ".join(problems) if problems else None)
