"""Counting a group's cells at high power, for adequacy: as a cytologist does, by its nuclei.

Follicular nuclei are the dark, blue-dominant objects of both Papanicolaou (blue) and Diff-Quik (dark
purple) smears, while red cells are red-dominant and plasma and colloid are light. A nucleus-sized
connected component counts one cell; a larger one (overlapping nuclei) counts its area over one
nucleus's. Isolated nuclei (a lone lymphocyte) are not a group: only nuclei lying within
``gap_um`` of another count. The count reads pixels the high-power pass read anyway.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from shapely.geometry import Polygon
from skimage.draw import polygon as raster_polygon

from .config import AdequacyConfig


def nuclear_mask(img: np.ndarray, cfg: AdequacyConfig) -> np.ndarray:
    f = img.astype(np.int16)
    grey = f.sum(axis=-1) / 3.0
    return (grey < cfg.nuclear_grey_max) & (f[..., 2] > f[..., 0] + cfg.nuclear_blue_margin)


def count_cells(img: np.ndarray, mpp: float, cfg: AdequacyConfig, inside: np.ndarray | None = None) -> int:
    """Cells of the follicular groups in ``img`` (read at ``mpp``), only within ``inside`` if given."""
    m = nuclear_mask(img, cfg)
    if inside is not None:
        m &= inside
    lab, n = ndimage.label(m)
    if n == 0:
        return 0
    px_um2 = mpp * mpp
    areas = np.bincount(lab.ravel(), minlength=n + 1)[1:] * px_um2
    keep = areas >= cfg.min_nucleus_um2
    cells = np.where(keep, np.maximum(1.0, np.round(areas / cfg.nucleus_um2)), 0.0)
    kept = np.concatenate([[False], keep])[lab]
    gap_px = max(1, int(round(cfg.nuclei_gap_um / mpp / 2)))  # dilate each side by half the gap
    groups, _ = ndimage.label(ndimage.binary_dilation(kept, iterations=gap_px))
    # each nucleus belongs to the dilated blob under its first pixel
    first = ndimage.minimum_position(np.arange(lab.size).reshape(lab.shape), lab, np.arange(1, n + 1))
    owner = np.array([groups[p] for p in first])
    total = 0.0
    for g in np.unique(owner[keep]):
        sel = keep & (owner == g)
        if cells[sel].sum() >= cfg.min_nuclei_per_group:
            total += cells[sel].sum()
    return int(total)


def polygon_mask(poly: Polygon, box: tuple[int, int, int, int], out_size: int) -> np.ndarray:
    """The part of ``box`` (level-0 x, y, w, h) inside ``poly``, rasterised at ``out_size`` px a side."""
    x, y, w, h = box
    sx, sy = out_size / w, out_size / h
    mask = np.zeros((out_size, out_size), bool)
    geoms = getattr(poly, "geoms", [poly])
    for g in geoms:
        xs, ys = np.asarray(g.exterior.coords).T
        rr, cc = raster_polygon((ys - y) * sy, (xs - x) * sx, mask.shape)
        mask[rr, cc] = True
    return mask


def count_region(images: np.ndarray, boxes: list[tuple[int, int, int, int]], poly: Polygon, mpp: float,
                 cfg: AdequacyConfig, margin_px: float) -> int:
    """Cells of a region from its high-power windows: nuclei inside the region's outline grown by
    ``margin_px`` level-0 px (the low-power outline is coarse)."""
    grown = poly.buffer(margin_px) if margin_px > 0 else poly
    total = 0
    for img, b in zip(images, boxes):
        total += count_cells(img, mpp, cfg, polygon_mask(grown, b, img.shape[0]))
    return total
