"""Counting a group's cells at high power, for adequacy: as a cytologist does, by its nuclei.

Follicular nuclei are the dark, blue-dominant objects of both Papanicolaou (blue) and Diff-Quik (dark
purple) smears, while red cells are red-dominant and plasma and colloid are light. A nucleus-sized
connected component counts one cell; a larger one (overlapping nuclei, or nuclei joined by dark
cytoplasm) counts its dark cores, one per core area, or where it has none its area over one nucleus's.
Isolated nuclei (a lone lymphocyte) are not a group: only nuclei lying within ``gap_um`` of another
count, and a region counts its largest group (an outline that took two small groups holds no larger
one). The count reads pixels the high-power pass read anyway.

It runs on every high-power window in the reader threads, so it is written for speed: integer colour tests
and the per-pixel steps compiled, outside Python's lock (``cellcount_kernel``, which says what that
gained); each region's outline converted once. tests/cascade/test_cellcount_exact.py keeps the
straightforward numpy and scipy version and checks that the counts are identical.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import Polygon

from . import cellcount_kernel as kernel
from .config import AdequacyConfig
from .overlay_nuclei import nuclear_test, under_overlay


@lru_cache(maxsize=32)
def _integer_thresholds(grey_max: float, blue_margin: float) -> tuple[int, int | None]:
    """The float tests ``(r + g + b) / 3.0 < grey_max`` and ``b > r + blue_margin`` as integer ones:
    ``r + g + b < s_max`` and ``b - r > k``. Found by evaluating the float tests over every possible
    uint8 value, so they agree bit for bit; ``k`` is None when no single integer does (a margin within
    float rounding of an integer), and the caller falls back to the float test."""
    s = np.arange(3 * 255 + 1, dtype=np.int64)
    s_max = int(np.count_nonzero(s / 3.0 < grey_max))  # a prefix: s / 3.0 is monotonic
    r = np.arange(256, dtype=np.int16)
    # b > x for an integer b is b > floor(x); x = r + margin rounded as float64, as the float test does
    k = np.floor(r + blue_margin) - r
    return s_max, (int(k[0]) if np.all(k == k[0]) else None)


def nuclear_mask(img: np.ndarray, cfg: AdequacyConfig, inside: np.ndarray | None = None) -> np.ndarray:
    """Dark (mean RGB < nuclear_grey_max) and blue-dominant (blue > red + nuclear_blue_margin) pixels, only
    within ``inside`` if given: the integer tests, compiled, for uint8 images; the float test otherwise."""
    s_max, k = _integer_thresholds(float(cfg.nuclear_grey_max), float(cfg.nuclear_blue_margin))
    if img.dtype != np.uint8 or k is None:
        f = nuclear_test(img.astype(np.int16), cfg)
        return f if inside is None else f & inside
    where = np.zeros((0, 0), bool) if inside is None else inside  # not read without inside
    m: np.ndarray = kernel.nuclear_mask_int(img, where, inside is not None, s_max, k)
    return m


def count_cells(
    img: np.ndarray, mpp: float, cfg: AdequacyConfig, inside: np.ndarray | None = None, overlays: bool = False
) -> int:
    """Cells of the largest follicular group in ``img`` (read at ``mpp``), only within ``inside`` if given;
    with ``cfg.largest_group`` off, of all its groups together. ``overlays``: nuclei under a red-tinted
    overlay count too (``overlay_nuclei``).

    Nucleus-sized components of the nuclear mask (4-connected) count one cell each, larger ones their area
    over one nucleus's, or, merged ones (``MERGED_NUCLEI``), their dark cores; nuclei within
    ``nuclei_gap_um`` of each other (each grown by half the gap) are one group, and groups of fewer than
    ``min_nuclei_per_group`` nuclei are none."""
    if overlays:  # the overlay test looks at the whole window; the outline applies after it
        m = under_overlay(img, nuclear_mask(img, cfg), mpp, cfg)
        if inside is not None:
            m &= inside
    else:
        m = nuclear_mask(img, cfg, inside)
    gap_px = max(1, int(round(cfg.nuclei_gap_um / mpp / 2)))  # grow each nucleus by half the gap
    return int(
        kernel.count_mask(
            m,
            img,
            mpp * mpp,
            float(cfg.min_nucleus_um2),
            float(cfg.nucleus_um2),
            MERGED_NUCLEI * float(cfg.nucleus_um2),
            float(cfg.core_grey_max),
            float(cfg.core_um2),
            MIN_CORE_UM2,
            gap_px,
            float(cfg.min_nuclei_per_group),
            bool(cfg.largest_group),
        )
    )


def _region_count(group_cells: np.ndarray, cfg: AdequacyConfig) -> int:
    """The count of a region whose groups hold ``group_cells``: its largest group's (``cfg.largest_group``),
    else all of them together; 0 with none."""
    return int(group_cells.max(initial=0) if cfg.largest_group else group_cells.sum())


#: A component larger than this many nuclei is several merged: overlapping nuclei, or nuclei joined by a
#: cytoplasm dark enough to pass the nuclear test (a thick Diff-Quik smear).
MERGED_NUCLEI = 1.5
#: Dark cores smaller than this (um^2) are noise in a merged component, not a nucleus.
MIN_CORE_UM2 = 4.0


def polygon_mask(poly: Polygon, box: tuple[int, int, int, int], out_size: int) -> np.ndarray:
    """The part of ``box`` (level-0 x, y, w, h) inside ``poly``, rasterised at ``out_size`` px a side."""
    return _draw_mask([np.asarray(g.exterior.coords) for g in getattr(poly, "geoms", [poly])], box, out_size)


def _draw_mask(
    rings: list[np.ndarray], box: tuple[int, int, int, int], out_w: int, out_h: int | None = None
) -> np.ndarray:
    x, y, w, h = box
    out_h = out_w if out_h is None else out_h
    scale = np.array([out_w / w, out_h / h])
    canvas = Image.new("1", (out_w, out_h), 0)
    draw = ImageDraw.Draw(canvas)  # PIL's scan conversion: ~100x faster than a generic one on small masks
    for ring in rings:
        draw.polygon(((ring[:, :2] - (x, y)) * scale).ravel().tolist(), fill=1)
    return np.asarray(canvas, dtype=bool)


#: A mosaic may hold at most this many window areas (gaps included) per window it shows: a large region's
#: best-covered windows can lie far apart, and counting the glass between them costs without counting cells.
MAX_MOSAIC_FILL = 4


def mosaic(
    images: np.ndarray, boxes: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The windows (one grid of equal boxes) pasted into one image where they lie, gaps white, and the
    level-0 box it covers; None when they are not one grid or lie too far apart to be worth joining."""
    if len(boxes) < 2 or len({(b[2], b[3]) for b in boxes}) != 1:
        return None
    w0, h0 = boxes[0][2], boxes[0][3]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    cols = [round((b[0] - x0) / w0) for b in boxes]
    rows = [round((b[1] - y0) / h0) for b in boxes]
    if any(abs(c * w0 - (b[0] - x0)) > 1 or abs(r * h0 - (b[1] - y0)) > 1 for c, r, b in zip(cols, rows, boxes)):
        return None  # not on one grid
    nc, nr = max(cols) + 1, max(rows) + 1
    if nc * nr > MAX_MOSAIC_FILL * len(boxes) or len(set(zip(cols, rows))) != len(boxes):
        return None
    ih, iw = images.shape[1:3]
    out = np.full((nr * ih, nc * iw, 3), 255, dtype=np.uint8)
    for img, c, r in zip(images, cols, rows):
        out[r * ih : (r + 1) * ih, c * iw : (c + 1) * iw] = img
    return out, (x0, y0, nc * w0, nr * h0)


def count_region(
    images: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    poly: Polygon,
    mpp: float,
    cfg: AdequacyConfig,
    margin_px: float,
    overlays: bool = True,
) -> int:
    """Cells of a region's largest group (``cfg.largest_group``; else of all its groups) from its
    high-power windows: nuclei inside the region's outline grown by ``margin_px`` level-0 px (the
    low-power outline is coarse). Neighbouring windows are counted as one
    mosaic: counted window by window, a nucleus cut by a window border was two, and a group cut by one was
    two groups (on validation slides, 10 and 15 for groups of 9 and 14 cells). A count too small to keep
    the region (``cfg.min_nuclei_per_group``) is made again with ``overlays`` (``overlay_nuclei``), and the
    larger stands: before a region is dismissed as holding no cells, nuclei under colloid or blood are looked
    for (the added pixels can join two nuclei into one, so the second count alone can be smaller)."""
    grown = poly.buffer(margin_px) if margin_px > 0 else poly
    rings = [np.asarray(g.exterior.coords) for g in getattr(grown, "geoms", [grown])]  # once per region
    joined = mosaic(images, boxes)
    if joined is not None:
        img, box = joined
        parts = [(img, _draw_mask(rings, box, img.shape[1], img.shape[0]))]
    else:  # windows too far apart to join: what lies in one does not touch what lies in another
        parts = [(img, _draw_mask(rings, b, img.shape[0])) for img, b in zip(images, boxes)]
    n = _region_count(np.asarray([count_cells(img, mpp, cfg, inside) for img, inside in parts], np.int64), cfg)
    if overlays and n < cfg.min_nuclei_per_group:
        counts = [count_cells(img, mpp, cfg, inside, overlays=True) for img, inside in parts]
        n = max(n, _region_count(np.asarray(counts, np.int64), cfg))
    return n


def no_group(n: int, cfg: AdequacyConfig) -> bool:
    """Whether ``n`` counted nuclei are too few for a cell group (``cfg.min_nuclei_per_group``): a region or
    cluster so counted is dismissed, whatever a classifier says of its pixels."""
    return n < cfg.min_nuclei_per_group


def scaled_count(n: int, k: int, n_planned: int) -> int:
    """Cells of a region counted in ``k`` of its ``n_planned`` windows, scaled to all of them."""
    return int(round(n * n_planned / k)) if k else n


def crosses(counted: int, scaled: int, thresholds: tuple[int, ...]) -> bool:
    """Whether scaling a count up made it reach a threshold that the cells actually counted do not."""
    return any(counted < t <= scaled for t in thresholds)
