"""Stage 1: the whole slide, once, at low power only -> maps -> cell-group regions with coarse grades."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..models.regions import maps_to_regions
from ..types import Region
from .context import PassContext
from .resolution import low_power_mpp

#: Smallest image handed to stage 1: tiny slides (16 px at 40x is one low-power pixel) are padded with
#: white glass so the network's strides and attention always have something to work on.
MIN_SIDE = 64


@dataclass(frozen=True)
class Stage1Output:
    regions: list[Region]
    maps: dict[str, Any]  # display maps, SlideResult.maps layout


def pad_white(img: NDArray[np.uint8], min_side: int) -> NDArray[np.uint8]:
    h, w = img.shape[:2]
    ph, pw = max(0, min_side - h), max(0, min_side - w)
    if not (ph or pw):
        return img
    return np.pad(img, ((0, ph), (0, pw), (0, 0)), constant_values=255)


def run_stage1(ctx: PassContext) -> Stage1Output:
    """Read the thumbnail at ``stage1.mpp`` (the only read of this pass), predict maps, find regions."""
    model = ctx.low_power_model()
    slide, cfg, cost = ctx.slide, ctx.cfg, ctx.cost
    mpp = low_power_mpp(cfg.stage1.mpp, model)
    t0 = time.perf_counter()
    thumb = np.asarray(slide.thumbnail(mpp, workers=cfg.stage1.readers))
    n_px = thumb.shape[0] * thumb.shape[1]
    cost.add_read(mpp, n_px, 1)
    maps = model.predict(pad_white(thumb, MIN_SIDE))
    s = int(maps.stride)
    h, w = -(-thumb.shape[0] // s), -(-thumb.shape[1] // s)
    group, grade, att = maps.group[:h, :w], maps.grade[:h, :w], maps.attention[:h, :w]
    map_mpp = mpp * s
    # The thumbnail covers round(W * slide_mpp / mpp) pixels: its true scale can differ from `mpp` by
    # rounding, so map pixels are placed with the measured scale (matters for small slides).
    scale_mpp = slide.dimensions[0] * slide.mpp / max(thumb.shape[1], 1) * s
    trimmed = type(maps)(group=group, grade=grade, attention=att, stride=s)
    regions = maps_to_regions(
        trimmed,
        scale_mpp,
        slide.mpp,
        ctx.labels,
        group_threshold=cfg.stage1.group_threshold,
        min_area_um2=cfg.stage1.min_region_area_um2,
        um2_per_cell=cfg.adequacy.um2_per_cell,
    )
    cost.add("stage1", seconds=time.perf_counter() - t0, pixels=n_px, tiles=1, model_calls=1, model_items=1)
    display = {
        "thumbnail": thumb,
        "group": group,
        "grade": grade,
        "attention": att,
        "map_mpp": float(map_mpp),
        "thumbnail_mpp": float(mpp),
        "features": maps.features,
    }
    return Stage1Output(regions, display)
