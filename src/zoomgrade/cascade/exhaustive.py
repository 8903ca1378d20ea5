"""The exhaustive baseline: the conventional pipeline, in the product so the cascade can be measured.

A tissue mask at low power that keeps everything on the glass (as CLAM and TIAToolbox separate tissue from
background, but by optical density over the glass colour: an Otsu split of a cytology smear separates
dense blood from the rest and drops pale cell groups); every tile inside it read at the high mpp and
graded by the same stage-2 network; tiles with P(none) under a threshold are cell-group tiles, connected
clusters of them (8-neighbours on the tile grid) are regions, each decided by the same severity-aware
patch rule as the fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from shapely import union_all
from shapely.geometry import Polygon, box

from ..labels import LabelSet
from ..types import CostRecord, Region, RegionGrade
from .cellcount import count_cells
from .config import GradeConfig
from .fallback import patch_rule, rule_kwargs
from .fusion import fine_to_coarse, split_none
from .prefetch import hint_ahead, read_and_grade
from .windows import Reader


def glass_colour(thumb: np.ndarray, peak_fraction: float = 0.5) -> np.ndarray:
    """The colour of empty glass, the bright flat mode of a brightfield thumbnail: on the luminance
    histogram (5-level running sum) of the brighter half of the pixels, the brightest level holding at
    least ``peak_fraction`` of the tallest level's count (glass is brighter than anything on it, and a
    tail of bright specks is far below the glass peak); then the per-channel median of the pixels within
    2 levels of it. Where no glass shows, this is the palest common material."""
    rgb = thumb[..., :3].reshape(-1, 3)
    lum = np.clip(np.rint(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)), 0, 255)
    lum = lum.astype(np.int64)
    hist = np.convolve(np.bincount(lum, minlength=256), np.ones(5), mode="same")
    hist[:int(np.median(lum))] = 0
    level = int(np.nonzero(hist >= peak_fraction * hist.max())[0].max())
    return np.median(rgb[np.abs(lum - level) <= 2], axis=0).astype(np.float32)


def tissue_mask(thumb: np.ndarray, min_od: float = 0.02, smooth_sigma: float = 1.0, min_object_px: int = 4,
                dilate_px: int = 1, glass_peak_fraction: float = 0.5) -> np.ndarray:
    """Everything on the glass at low power: pixels whose optical density relative to the glass colour
    exceeds ``min_od`` in any channel (cytology smears hold pale, barely stained cell groups next to dense
    blood, so the darkest-material split an Otsu threshold makes would drop them).

    thumb: (H, W, 3|4) uint8 RGB(A) thumbnail. min_od: OD floor over glass (log10 units; glass noise and
    JPEG ringing stay well below it). smooth_sigma: Gaussian smoothing (px) before thresholding, against
    pixel noise. min_object_px: specks smaller than this are dropped. dilate_px: the mask grows by this
    many px so that the faint rims of pale groups are tiled too. glass_peak_fraction: see ``glass_colour``.
    """
    if thumb.ndim != 3 or thumb.shape[0] == 0 or thumb.shape[1] == 0 or thumb.shape[2] < 3:
        return np.zeros(thumb.shape[:2], bool)
    rgb = thumb[..., :3].astype(np.float32)
    if smooth_sigma > 0:
        rgb = ndimage.gaussian_filter(rgb, sigma=(smooth_sigma, smooth_sigma, 0), mode="nearest")
    glass = glass_colour(thumb, glass_peak_fraction)
    od = np.log10((glass + 1.0) / (rgb + 1.0)).max(axis=-1)  # darker than glass in any channel
    mask = od > min_od
    if min_object_px > 1:
        lab, _ = ndimage.label(mask, structure=np.ones((3, 3), int))
        mask = (np.bincount(lab.ravel()) >= min_object_px)[lab] & mask
    if dilate_px > 0:
        mask = ndimage.binary_dilation(mask, iterations=dilate_px)
    return mask


def tissue_mask_kwargs(ex) -> dict[str, Any]:
    """The tissue-mask parameters of an ``ExhaustiveConfig``."""
    return {"min_od": ex.mask_min_od, "smooth_sigma": ex.mask_smooth_sigma, "min_object_px": ex.mask_min_object_px,
            "dilate_px": ex.mask_dilate_px, "glass_peak_fraction": ex.mask_glass_peak_fraction}


@dataclass
class TilePlan:
    boxes: list[tuple[int, int, int, int]]  # level-0 px
    grid: list[tuple[int, int]]  # (row, col) of each tile
    shape: tuple[int, int]  # tile grid rows, cols
    coverage: np.ndarray  # mask fraction of each kept tile
    tile0: float  # tile side in level-0 px


def plan_tiles(dims: tuple[int, int], slide_mpp: float, mask: np.ndarray, mask_mpp_true: float, tile_px: int,
               mpp: float, min_fraction: float) -> TilePlan:
    """Non-overlapping tiles of ``tile_px`` at ``mpp`` whose mask coverage is at least ``min_fraction``."""
    W, H = dims
    tile0 = tile_px * mpp / slide_mpp
    rows, cols = max(1, int(np.ceil(H / tile0))), max(1, int(np.ceil(W / tile0)))
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = slide_mpp / mask_mpp_true  # level-0 px -> mask px
    mh, mw = mask.shape
    boxes, grid, cov = [], [], []
    w0 = max(1, int(round(tile0)))
    for r in range(rows):
        for c in range(cols):
            x, y = int(round(c * tile0)), int(round(r * tile0))
            a0, a1 = min(mh, int(y * k)), min(mh, max(int(y * k) + 1, int(np.ceil((y + w0) * k))))
            b0, b1 = min(mw, int(x * k)), min(mw, max(int(x * k) + 1, int(np.ceil((x + w0) * k))))
            n = (a1 - a0) * (b1 - b0)
            if n <= 0:
                continue
            s = integral[a1, b1] - integral[a0, b1] - integral[a1, b0] + integral[a0, b0]
            f = s / n
            if f >= min_fraction and f > 0:
                boxes.append((x, y, w0, w0))
                grid.append((r, c))
                cov.append(f)
    return TilePlan(boxes, grid, (rows, cols), np.asarray(cov, np.float64), tile0)


@dataclass
class ExhaustiveOutput:
    grades: list[RegionGrade]
    plan: TilePlan
    probs: np.ndarray  # (n_tiles, n_fine + 1) stage-2 outputs per planned tile (NaN where failed)
    maps: dict[str, Any]
    errors: list[str]


def _polygon(tiles: list[tuple[int, int, int, int]]) -> Polygon:
    shape = union_all([box(x, y, x + w, y + h) for x, y, w, h in tiles])
    if shape.geom_type != "Polygon":  # tiles touching only at corners
        shape = shape.buffer(1.0, join_style="mitre")
    if shape.geom_type != "Polygon":
        shape = max(shape.geoms, key=lambda g: g.area)
    return Polygon(shape.exterior)


def cluster_regions(plan: TilePlan, probs: np.ndarray, slide_mpp: float, labels: LabelSet,
                    cfg: GradeConfig, cells: np.ndarray | None = None) -> list[RegionGrade]:
    """Connected clusters of cell-group tiles -> regions graded by the patch rule."""
    ex, fb = cfg.exhaustive, cfg.fallback
    ok = ~np.isnan(probs).any(axis=1) if len(probs) else np.zeros(0, bool)
    cell = np.zeros(plan.shape, bool)
    index = -np.ones(plan.shape, np.int64)
    for i, (r, c) in enumerate(plan.grid):
        index[r, c] = i
        if ok[i] and probs[i, -1] < ex.none_threshold:
            cell[r, c] = True
    lab, _n = ndimage.label(cell, structure=np.ones((3, 3), int))
    px_um2 = slide_mpp * slide_mpp
    out: list[RegionGrade] = []
    for k, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        rr, cc = np.nonzero(lab[sl] == k)
        idx = index[rr + sl[0].start, cc + sl[1].start]
        vote = patch_rule(probs[idx], labels, **rule_kwargs(fb, ex.none_threshold))
        if vote.grade is None:
            continue
        tiles = [plan.boxes[i] for i in idx]
        if cells is not None:  # nuclei counted at high power in the cluster's tiles
            est = int(cells[idx].sum())
            if est < cfg.adequacy.min_nuclei_per_group:
                continue  # no follicular nuclei: colloid, blood or debris, not a cell group
            area = est * cfg.adequacy.um2_per_cell
        else:  # the tissue-mask part of the cluster's tiles (a tile is much bigger than a small group)
            area = float(sum(plan.coverage[i] * plan.boxes[i][2] * plan.boxes[i][3] for i in idx) * px_um2)
            est = int(round(area / cfg.adequacy.um2_per_cell))
        coarse = fine_to_coarse(vote.probs, labels)
        region = Region(id=len(out), polygon=_polygon(tiles), coarse_probs=coarse,
                        coarse_grade=labels.coarse[int(np.argmax(coarse))], confidence=vote.confidence,
                        area_um2=area, est_cells=est)
        out.append(RegionGrade(region=region, fine_grade=vote.grade, confidence=vote.confidence,
                               fine_probs=vote.probs, stage2_probs=vote.probs, decided_by="exhaustive",
                               order=len(out), patch_grades=vote.patch_grades))
    return out


def run_exhaustive(slide, runner, cfg: GradeConfig, labels: LabelSet, cost: CostRecord, size_px: int,
                   progress: Callable[[str, int, int], None] | None = None) -> ExhaustiveOutput:
    ex = cfg.exhaustive
    t0 = time.perf_counter()
    thumb = np.asarray(slide.thumbnail(ex.mask_mpp))
    cost.add_read(ex.mask_mpp, thumb.shape[0] * thumb.shape[1], 1)
    mask = tissue_mask(thumb, **tissue_mask_kwargs(ex))
    mask_mpp_true = slide.dimensions[0] * slide.mpp / max(1, thumb.shape[1])
    plan = plan_tiles(slide.dimensions, slide.mpp, mask, mask_mpp_true, size_px, ex.mpp, ex.min_tissue_fraction)
    st = cost.stage("exhaustive_read")  # the mask's low-power read is part of the baseline's reading
    st.seconds += time.perf_counter() - t0  # its pixels are counted under mask_mpp, not as high power
    reader = Reader(slide, ex.mpp, size_px, cost, "exhaustive_read")
    n_cls = len(labels.fine) + 1
    probs = np.full((len(plan.boxes), n_cls), np.nan)
    errors: list[str] = []
    total = len(plan.boxes)
    cells = np.zeros(total, np.int64) if cfg.adequacy.count_nuclei else None

    def read(i: int) -> np.ndarray:
        img = reader.read([plan.boxes[i]])
        if cells is not None:  # in the reader thread, overlapping inference
            cells[i] = count_cells(img[0], ex.mpp, cfg.adequacy)
        return img

    if progress:
        progress("exhaustive", 0, total)
    with hint_ahead(slide, plan.boxes, ex.mpp, cost, "exhaustive_hints", enabled=ex.readahead):
        for o in read_and_grade(
            list(range(total)), read, runner.predict,
            batch_size=ex.batch_size, depth=ex.prefetch_tiles, cost=cost, infer_stage="exhaustive_infer",
            readers=ex.readers,
            on_item=(lambda n: progress("exhaustive", n, total)) if progress else None,
        ):
            if o.probs is not None and o.probs.size:
                probs[o.item] = o.probs[0]
            elif o.error:
                errors.append(f"tile {plan.boxes[o.item]}: {o.error}")
    grades = cluster_regions(plan, probs, slide.mpp, labels, cfg, cells)
    # Display maps on the tile grid: P(cell group) and coarse-grade probabilities per tile.
    group = np.zeros(plan.shape, np.float32)
    grade = np.zeros((*plan.shape, len(labels.coarse)), np.float32)
    for i, (r, c) in enumerate(plan.grid):
        if not np.isnan(probs[i]).any():
            fine, p_none = split_none(probs[i:i + 1])
            group[r, c] = 1.0 - p_none[0]
            grade[r, c] = fine_to_coarse(fine[0], labels)
    maps = {"thumbnail": thumb, "tissue_mask": mask, "group": group, "grade": grade,
            "map_mpp": float(plan.tile0 * slide.mpp), "thumbnail_mpp": float(ex.mask_mpp)}
    return ExhaustiveOutput(grades, plan, probs, maps, errors)
