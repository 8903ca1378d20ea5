"""How much of each square window a region's outline covers: the planner's weights and ranks for stage 2.

Every region queued for high power is planned: its candidate windows on the grid, and the fraction of each
the outline covers. As GEOS intersections (a shapely box, an overlay and an area a window) that was 0.10
of the 0.14 s a busy slide's planning took serially (2000009-IV, 667 regions, about seven candidate
windows each), in the planner's thread beside the readers and the model. Here each window clips the
outline's rings (Sutherland-Hodgman: a window is convex and axis-aligned), compiled and outside Python's
lock, in coordinates relative to the window so the shoelace sums stay small: the planning took under a
fifth of the time serially, and the cascade 0.96 of its time side by side (docs/benchmark.md). The areas
are GEOS's to within about 1e-14 of a window (the last bits of crossings with slanted edges); where every
edge is axis-aligned both are exact. A window whose cover lies on a rounding boundary of the planner's ranking
(``windows.best_covered`` ranks to 0.01) can rank the other way than GEOS's last bit had it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from .jit import compiled


@compiled
def _clip_side(
    px: np.ndarray,
    py: np.ndarray,
    n: int,
    vertical: bool,
    bound: float,
    keep_above: bool,
    ox: np.ndarray,
    oy: np.ndarray,
) -> int:
    """The ring (px, py)[:n] clipped to one side of the line x = ``bound`` (``vertical``) or y = ``bound``:
    the side at or above it (``keep_above``), else at or below it; into (ox, oy), returning its length."""
    m = 0
    if n == 0:
        return 0
    sx, sy = px[n - 1], py[n - 1]
    sv = sx if vertical else sy
    s_in = sv >= bound if keep_above else sv <= bound
    for i in range(n):
        ex, ey = px[i], py[i]
        ev = ex if vertical else ey
        e_in = ev >= bound if keep_above else ev <= bound
        if e_in != s_in:  # the edge crosses the line: its crossing point
            t = (bound - sv) / (ev - sv)
            if vertical:
                ox[m], oy[m] = bound, sy + t * (ey - sy)
            else:
                ox[m], oy[m] = sx + t * (ex - sx), bound
            m += 1
        if e_in:
            ox[m], oy[m] = ex, ey
            m += 1
        sx, sy, sv, s_in = ex, ey, ev, e_in
    return m


@compiled
def ring_areas_in_squares(xs: np.ndarray, ys: np.ndarray, bx: np.ndarray, by: np.ndarray, size: float) -> np.ndarray:
    """Area of the closed ring (xs, ys; last point = first) inside each square [bx, bx + size] x [by, by +
    size]."""
    n0 = len(xs) - 1
    # A clip keeps a ring's inside vertices and adds two crossings per run of outside ones, so it returns at
    # most 1.5 times the vertices it was given: four clips, under 6 times (the buffers are not bounds-checked)
    cap = 6 * n0 + 8
    out = np.zeros(len(bx))
    ax, ay = np.empty(cap), np.empty(cap)
    cx, cy = np.empty(cap), np.empty(cap)
    for j in range(len(bx)):
        for i in range(n0):
            ax[i] = xs[i] - bx[j]
            ay[i] = ys[i] - by[j]
        n = _clip_side(ax, ay, n0, True, 0.0, True, cx, cy)
        n = _clip_side(cx, cy, n, True, size, False, ax, ay)
        n = _clip_side(ax, ay, n, False, 0.0, True, cx, cy)
        n = _clip_side(cx, cy, n, False, size, False, ax, ay)
        s = 0.0
        for i in range(n):
            k = i + 1 if i + 1 < n else 0
            s += ax[i] * ay[k] - ax[k] * ay[i]
        out[j] = abs(s) / 2.0
    return out


def covered_fraction(
    outline: BaseGeometry, bx: NDArray[np.float64], by: NDArray[np.float64], size: float
) -> NDArray[np.float64]:
    """The fraction of each square window (corner (bx, by), side ``size``) that ``outline`` covers (a valid
    Polygon or MultiPolygon, holes included)."""
    bx, by = np.ascontiguousarray(bx, np.float64), np.ascontiguousarray(by, np.float64)
    area = np.zeros(len(bx))
    for part in getattr(outline, "geoms", [outline]):
        if part.is_empty:
            continue
        for k, ring in enumerate([part.exterior, *part.interiors]):
            xy = np.asarray(ring.coords, np.float64)
            inside = ring_areas_in_squares(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), bx, by, size)
            area = area - inside if k else area + inside  # what a hole holds of the window is not covered
    return np.asarray(area / (size * size), np.float64)


__all__ = ["covered_fraction", "ring_areas_in_squares"]
