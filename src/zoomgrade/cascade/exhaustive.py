"""The exhaustive baseline: the conventional pipeline, in the product so the cascade can be measured.

A tissue mask at low power that keeps everything on the glass (``tissue.py``); every tile of the slide-wide
grid (``slide.tiles.Grid``, the one the cascade's windows lie on) inside it read at the high mpp and
graded by the same stage-2 network; tiles with P(none) under a threshold are cell-group tiles, connected
clusters of them (8-neighbours on the tile grid) are regions, each decided by the same severity-aware
patch rule as the fallback. A region's cells are counted as the cascade counts a region's, over its tiles
joined into one image: counted tile by tile, a nucleus cut by a tile border was two, and a group cut by
one two groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from shapely import union_all
from shapely.geometry import Polygon, box

from ..labels import LabelSet
from ..models.pooling import split_none
from ..slide.tiles import Grid
from ..types import CostRecord, Region, RegionGrade
from .cellcount import count_region, no_group
from .config import AdequacyConfig, GradeConfig
from .context import Box, PassContext
from .fusion import fine_to_coarse
from .patch_rule import vote
from .reading import Reader, hint_ahead, read_and_grade
from .tissue import glass_colour, tissue_mask, tissue_mask_kwargs

__all__ = [
    "ExhaustiveOutput",
    "TilePlan",
    "cluster_regions",
    "glass_colour",
    "plan_tiles",
    "run_exhaustive",
    "tissue_mask",
    "tissue_mask_kwargs",
]


@dataclass(frozen=True)
class TilePlan:
    boxes: list[Box]  # level-0 px
    grid: list[tuple[int, int]]  # (row, col) of each tile
    shape: tuple[int, int]  # tile grid rows, cols
    coverage: NDArray[np.float64]  # mask fraction of each kept tile
    tile0: float  # tile side in level-0 px


def plan_tiles(
    dims: tuple[int, int],
    slide_mpp: float,
    mask: NDArray[np.bool_],
    mask_mpp_true: float,
    tile_px: int,
    mpp: float,
    min_fraction: float,
) -> TilePlan:
    """Non-overlapping tiles of ``tile_px`` at ``mpp`` (the slide-wide grid) whose mask coverage is at least
    ``min_fraction``."""
    W, H = dims
    lattice = Grid.at(tile_px, mpp, slide_mpp)
    tile0 = lattice.size
    rows, cols = len(lattice.meeting(0, H)), len(lattice.meeting(0, W))
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = slide_mpp / mask_mpp_true  # level-0 px -> mask px
    mh, mw = mask.shape
    boxes: list[Box] = []
    grid: list[tuple[int, int]] = []
    cov: list[float] = []
    w0 = max(1, int(round(tile0)))
    for r in range(rows):
        for c in range(cols):
            x, y = int(round(lattice.origin(c))), int(round(lattice.origin(r)))
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


@dataclass(frozen=True)
class ExhaustiveOutput:
    grades: list[RegionGrade]
    plan: TilePlan
    probs: NDArray[np.float64]  # (n_tiles, n_fine + 1) stage-2 outputs per planned tile (NaN where failed)
    maps: dict[str, Any]
    errors: list[str]


def _polygon(tiles: list[Box]) -> Polygon:
    shape = union_all([box(x, y, x + w, y + h) for x, y, w, h in tiles])
    if shape.geom_type != "Polygon":  # tiles touching only at corners
        shape = shape.buffer(1.0, join_style="mitre")
    if shape.geom_type != "Polygon":
        shape = max(shape.geoms, key=lambda g: g.area)
    return Polygon(shape.exterior)


def cluster_regions(
    plan: TilePlan,
    probs: NDArray[np.float64],
    slide_mpp: float,
    labels: LabelSet,
    cfg: GradeConfig,
    count: Callable[[list[Box], Polygon], int] | None = None,
) -> list[RegionGrade]:
    """Connected clusters of cell-group tiles -> regions graded by the patch rule; ``count`` gives the
    cells of a cluster's tiles (None: estimated from their tissue area)."""
    ex = cfg.exhaustive
    ok = np.asarray(~np.isnan(probs).any(axis=1), dtype=bool) if len(probs) else np.zeros(0, bool)
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
        tv = vote(probs[idx], labels, cfg, tiles=True)
        if tv.grade is None:
            continue
        tiles = [plan.boxes[i] for i in idx]
        polygon = _polygon(tiles)
        if count is not None:  # nuclei counted at high power in the cluster's tiles
            est = count(tiles, polygon)
            if no_group(est, cfg.adequacy):
                continue  # no follicular nuclei: colloid, blood or debris, not a cell group
            area = est * cfg.adequacy.um2_per_cell
        else:  # the tissue-mask part of the cluster's tiles (a tile is much bigger than a small group)
            area = float(sum(plan.coverage[i] * plan.boxes[i][2] * plan.boxes[i][3] for i in idx) * px_um2)
            est = int(round(area / cfg.adequacy.um2_per_cell))
        coarse = fine_to_coarse(tv.probs, labels)
        region = Region(
            id=len(out),
            polygon=polygon,
            coarse_probs=coarse,
            coarse_grade=labels.coarse[int(np.argmax(coarse))],
            confidence=tv.confidence,
            area_um2=area,
            est_cells=est,
            counted_cells=est if count is not None else None,  # nuclei counted at high power
        )
        out.append(
            RegionGrade(
                region=region,
                fine_grade=tv.grade,
                confidence=tv.confidence,
                fine_probs=tv.probs,
                stage2_probs=tv.probs,
                decided_by="exhaustive",
                order=len(out),
                patch_grades=tv.patch_grades,
            )
        )
    return out


class _ClusterCounter:
    """Counts a cluster's cells by reading its tiles again (a few hundred tiles of the slide's tens of
    thousands: cheaper than keeping every tile's pixels until the clusters are known)."""

    def __init__(self, reader: Reader, adequacy: AdequacyConfig, cost: CostRecord) -> None:
        self.reader, self.adequacy, self.cost = reader, adequacy, cost

    def __call__(self, tiles: list[Box], polygon: Polygon) -> int:
        imgs = self.reader.read(tiles)
        t0 = time.perf_counter()
        n = count_region(imgs, tiles, polygon, self.reader.mpp, self.adequacy, margin_px=0.0)
        self.cost.add("exhaustive_count", seconds=time.perf_counter() - t0, tiles=len(tiles))
        return n


def run_exhaustive(ctx: PassContext) -> ExhaustiveOutput:
    """Tile all tissue at ``cfg.exhaustive.mpp`` in tiles of ``ctx.window_px``, grade every tile, cluster."""
    slide, cfg, labels, cost = ctx.slide, ctx.cfg, ctx.labels, ctx.cost
    ex = cfg.exhaustive
    t0 = time.perf_counter()
    thumb = np.asarray(slide.thumbnail(ex.mask_mpp, workers=ex.readers))
    cost.add_read(ex.mask_mpp, thumb.shape[0] * thumb.shape[1], 1)
    mask = tissue_mask(thumb, **tissue_mask_kwargs(ex))
    mask_mpp_true = slide.dimensions[0] * slide.mpp / max(1, thumb.shape[1])
    plan = plan_tiles(slide.dimensions, slide.mpp, mask, mask_mpp_true, ctx.window_px, ex.mpp, ex.min_tissue_fraction)
    # the mask's low-power read is part of the baseline's reading; its pixels are counted under mask_mpp
    cost.add("exhaustive_read", seconds=time.perf_counter() - t0)
    reader = Reader(slide, ex.mpp, ctx.window_px, cost, "exhaustive_read")
    probs = np.full((len(plan.boxes), len(labels.fine) + 1), np.nan)
    errors: list[str] = []
    total = len(plan.boxes)
    ctx.report("exhaustive", 0, total)
    with hint_ahead(slide, plan.boxes, ex.mpp, cost, "exhaustive_hints", enabled=ex.readahead):
        for g in read_and_grade(
            list(range(total)),
            lambda i: reader.read([plan.boxes[i]]),
            ctx.high_power_model().predict,
            batch_size=ex.batch_size,
            depth=ex.prefetch_tiles,
            cost=cost,
            infer_stage="exhaustive_infer",
            readers=ex.readers,
            on_item=lambda n: ctx.report("exhaustive", n, total),
        ):
            if g.probs is not None and g.probs.size:
                probs[g.item] = g.probs[0]
            elif g.error:
                errors.append(f"tile {plan.boxes[g.item]}: {g.error}")
    count = _ClusterCounter(reader, cfg.adequacy, cost) if cfg.adequacy.count_nuclei else None
    grades = cluster_regions(plan, probs, slide.mpp, labels, cfg, count)
    return ExhaustiveOutput(
        grades, plan, probs, _tile_maps(plan, probs, labels, thumb, mask, slide.mpp, ex.mask_mpp), errors
    )


def _tile_maps(
    plan: TilePlan,
    probs: NDArray[np.float64],
    labels: LabelSet,
    thumb: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    slide_mpp: float,
    mask_mpp: float,
) -> dict[str, Any]:
    """Display maps on the tile grid: P(cell group) and coarse-grade probabilities per tile."""
    group = np.zeros(plan.shape, np.float32)
    grade = np.zeros((*plan.shape, len(labels.coarse)), np.float32)
    for i, (r, c) in enumerate(plan.grid):
        if not np.isnan(probs[i]).any():
            fine, p_none = split_none(probs[i : i + 1])
            group[r, c] = 1.0 - p_none[0]
            grade[r, c] = fine_to_coarse(fine[0], labels)
    return {
        "thumbnail": thumb,
        "tissue_mask": mask,
        "group": group,
        "grade": grade,
        "map_mpp": float(plan.tile0 * slide_mpp),
        "thumbnail_mpp": float(mask_mpp),
    }
