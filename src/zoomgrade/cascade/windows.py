"""High-power windows over a region: where stage 2 and the fallback read.

Windows lie on the one tile grid (``slide.tiles.Grid``): the slide-wide lattice (the exhaustive baseline's
tiles) or a grid centred on the region's bounding box; only windows that overlap the region's polygon are
kept, with the fraction of each window the polygon covers (used to weight its vote).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from ..slide.tiles import Grid
from .context import Box
from .window_overlap import covered_fraction


def _no_overlap() -> NDArray[np.float64]:
    return np.zeros(0)


@dataclass
class Windows:
    boxes: list[Box] = field(default_factory=list)
    overlap: NDArray[np.float64] = field(default_factory=_no_overlap)  # fraction of each window in the polygon
    n_planned: int = 0  # windows before sampling down to max_windows


def region_windows(
    polygon: Polygon,
    slide_mpp: float,
    mpp: float,
    size_px: int,
    stride_px: int,
    max_windows: int = 0,
    min_overlap: float = 0.0,
    shifted: bool = False,
    lattice: bool = False,
) -> Windows:
    """Windows of ``size_px`` pixels at ``mpp`` (stride ``stride_px``) overlapping ``polygon`` (level-0 px).

    Windows covering less than ``min_overlap`` of their area with the polygon are skipped (the best one is
    kept if none reaches it). ``shifted``: the grid moved by half a window in x and y, interleaving the
    unshifted one (used by the fallback for new framings of a region). ``lattice``: windows on the
    slide-wide grid from (0, 0) (the exhaustive baseline's), not centred on the region: a window is then
    one file tile of a slide tiled at its level-0 size, or an aligned part of a larger tile.
    """
    grid = Grid.at(size_px, mpp, slide_mpp, stride_px)
    x0, y0, x1, y1 = polygon.bounds
    if lattice:
        if shifted:
            grid = Grid(grid.step, grid.size, grid.step / 2)
        ky, kx = grid.meeting(y0, y1 - y0), grid.meeting(x0, x1 - x0)
        ys, xs = [grid.origin(k) for k in ky], [grid.origin(k) for k in kx]
    else:
        if shifted:  # one more window each way, centred: origins fall half-way between the unshifted ones
            x0, y0, x1, y1 = x0 - grid.step / 2, y0 - grid.step / 2, x1 + grid.step / 2, y1 + grid.step / 2
        cy, ny = grid.centred(y0, y1 - y0)
        cx, nx = grid.centred(x0, x1 - x0)
        ys, xs = [cy.origin(k) for k in range(ny)], [cx.origin(k) for k in range(nx)]
    size0 = grid.size
    w0 = max(1, int(round(size0)))
    # All candidates at once, clipped in compiled code (window_overlap: as GEOS intersections they were most
    # of the planning time, in a thread beside the readers)
    gx = np.tile(np.round(xs), len(ys))  # row by row, as read (tile/repeat: meshgrid costs more here)
    gy = np.repeat(np.round(ys), len(xs))
    frac = covered_fraction(polygon, gx, gy, float(w0))
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
    return (
        Windows([w.boxes[i] for i in keep], w.overlap[keep], w.n_planned),
        Windows([w.boxes[i] for i in rest], w.overlap[rest], w.n_planned),
    )
