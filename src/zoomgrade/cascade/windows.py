"""High-power windows over a region, and reading them from the slide pyramid at a given mpp.

Windows are laid on a grid centred on the region's bounding box; only windows that overlap the region's
polygon are kept, with the fraction of each window the polygon covers (used to weight its vote).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon

from ..types import CostRecord

Box = tuple[int, int, int, int]  # x, y, w, h in level-0 pixels


@dataclass
class Windows:
    boxes: list[Box] = field(default_factory=list)
    overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))  # fraction of each window in the polygon
    n_planned: int = 0  # windows before sampling down to max_windows


def grid_1d(start: float, length: float, size: float, stride: float) -> list[float]:
    """Window origins covering [start, start + length) with windows of ``size``, centred on the span."""
    n = max(1, math.ceil(max(0.0, length - size) / stride) + 1)
    span = (n - 1) * stride + size
    first = start + (length - span) / 2.0
    return [first + i * stride for i in range(n)]


def lattice_1d(start: float, length: float, stride: float, phase: float = 0.0) -> list[float]:
    """Origins ``phase + k * stride`` of the slide-wide lattice whose windows (``stride`` long) meet
    [start, start + length)."""
    first = math.floor((start - phase) / stride)
    last = max(first, math.ceil((start + length - phase) / stride) - 1)
    return [phase + k * stride for k in range(first, last + 1)]


def region_windows(polygon: Polygon, slide_mpp: float, mpp: float, size_px: int, stride_px: int,
                   max_windows: int = 0, min_overlap: float = 0.0, shifted: bool = False,
                   lattice: bool = False) -> Windows:
    """Windows of ``size_px`` pixels at ``mpp`` (stride ``stride_px``) overlapping ``polygon`` (level-0 px).

    Windows covering less than ``min_overlap`` of their area with the polygon are skipped (the best one is
    kept if none reaches it). ``shifted``: the grid moved by half a window in x and y, interleaving the
    unshifted one (used by the fallback for new framings of a region). ``lattice``: windows on the
    slide-wide grid from (0, 0) (the exhaustive baseline's), not centred on the region: a window is then
    one file tile of a slide tiled at its level-0 size, or an aligned part of a larger tile.
    """
    size0 = size_px * mpp / slide_mpp
    stride0 = stride_px * mpp / slide_mpp
    x0, y0, x1, y1 = polygon.bounds
    if lattice:
        phase = stride0 / 2 if shifted else 0.0
        ys, xs = lattice_1d(y0, y1 - y0, stride0, phase), lattice_1d(x0, x1 - x0, stride0, phase)
    else:
        if shifted:  # one more window each way, centred: origins fall half-way between the unshifted ones
            x0, y0, x1, y1 = x0 - stride0 / 2, y0 - stride0 / 2, x1 + stride0 / 2, y1 + stride0 / 2
        ys, xs = grid_1d(y0, y1 - y0, size0, stride0), grid_1d(x0, x1 - x0, size0, stride0)
    w0 = max(1, int(round(size0)))
    # All candidates at once (GEOS loops in C; a Python loop per window was most of the planning time)
    gx = np.tile(np.round(xs), len(ys))  # row by row, as read (tile/repeat: meshgrid costs more here)
    gy = np.repeat(np.round(ys), len(xs))
    cand = shapely.box(gx, gy, gx + w0, gy + w0)
    shapely.prepare(polygon)
    frac = np.zeros(len(cand))
    hit = shapely.intersects(polygon, cand)
    frac[hit] = shapely.area(shapely.intersection(polygon, cand[hit])) / float(w0 * w0)
    sel = np.flatnonzero(frac > 0)  # > 0: a window touching only the outline is not a window
    boxes: list[Box] = [(int(gx[i]), int(gy[i]), w0, w0) for i in sel]
    ov: list[float] = frac[sel].tolist()
    if min_overlap > 0 and boxes:
        keep_i = [i for i, f in enumerate(ov) if f >= min_overlap] or [int(np.argmax(ov))]
        boxes, ov = [boxes[i] for i in keep_i], [ov[i] for i in keep_i]
    n_planned = len(boxes)
    if max_windows and len(boxes) > max_windows:
        # Keep an even spread over the region rather than its first rows.
        keep = np.unique(np.linspace(0, len(boxes) - 1, max_windows).round().astype(int))
        boxes = [boxes[i] for i in keep]
        ov = [ov[i] for i in keep]
    return Windows(boxes, np.asarray(ov, dtype=np.float64), n_planned)


def best_covered(w: Windows, k: int) -> tuple[Windows, Windows]:
    """(the ``k`` windows covering most of the region, the others), each in grid order. Among windows
    covering it equally (a large sheet's inner windows all cover 1.0) an even spread is kept. Both keep
    ``w.n_planned``, so counts made on a subset are still scaled to the whole region."""
    n = len(w.boxes)
    if k <= 0 or n <= k:
        return w, Windows([], np.zeros(0), w.n_planned)
    cover = np.round(w.overlap, 2)
    chosen: list[int] = []
    for level in sorted(set(cover.tolist()), reverse=True):
        tied = [i for i in range(n) if cover[i] == level]
        room = k - len(chosen)
        if len(tied) > room:
            tied = [tied[j] for j in np.unique(np.linspace(0, len(tied) - 1, room).round().astype(int))]
        chosen.extend(tied)
        if len(chosen) >= k:
            break
    keep = sorted(chosen)
    taken = set(keep)
    rest = [i for i in range(n) if i not in taken]
    return (Windows([w.boxes[i] for i in keep], w.overlap[keep], w.n_planned),
            Windows([w.boxes[i] for i in rest], w.overlap[rest], w.n_planned))


def fit(img: np.ndarray, size: int) -> np.ndarray:
    """Crop or pad (white) a read to exactly size x size: level-0 rounding can be off by a pixel."""
    h, w = img.shape[:2]
    if h == size and w == size:
        return img
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    hh, ww = min(h, size), min(w, size)
    out[:hh, :ww] = img[:hh, :ww]
    return out


class Reader:
    """Reads boxes at one mpp and accounts the cost to one stage (thread-safe)."""

    def __init__(self, slide, mpp: float, size_px: int, cost: CostRecord, stage: str) -> None:
        self.slide, self.mpp, self.size, self.cost, self.stage_name = slide, mpp, size_px, cost, stage
        self._lock = threading.Lock()
        self.pixels = 0

    def read(self, boxes: list[Box]) -> np.ndarray:
        t0 = time.perf_counter()
        out = np.empty((len(boxes), self.size, self.size, 3), dtype=np.uint8)
        for i, (x, y, w, h) in enumerate(boxes):
            out[i] = fit(np.asarray(self.slide.read_region(x, y, w, h, self.mpp)), self.size)
        dt = time.perf_counter() - t0
        px = len(boxes) * self.size * self.size
        with self._lock:
            st = self.cost.stage(self.stage_name)
            st.seconds += dt
            st.pixels += px
            st.tiles += len(boxes)
            self.cost.add_read(self.mpp, px, len(boxes))
            self.pixels += px
        return out
