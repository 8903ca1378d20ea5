"""The one tile grid: square tiles laid at a fixed step in level-0 pixels. The slide's ``tiles()``, the
cascade's region windows and the exhaustive baseline's tiles are all laid on it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Tile:
    """A tile in level-0 pixels (edge tiles are clipped to the slide)."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Grid:
    """Tiles ``size`` level-0 px wide whose k-th origin along an axis is ``phase + k * step`` (the same on
    both axes). The slide-wide lattice has phase 0; a grid centred on a span has its own phase."""

    step: float
    size: float
    phase: float = 0.0

    @classmethod
    def at(cls, size_px: int, mpp: float, slide_mpp: float, step_px: int | None = None, phase: float = 0.0) -> Grid:
        """Tiles of ``size_px`` output px read at ``mpp`` (stepping ``step_px``, default ``size_px``)."""
        step_px = size_px if step_px is None else step_px
        return cls(step_px * mpp / slide_mpp, size_px * mpp / slide_mpp, phase)

    def origin(self, k: int) -> float:
        return self.phase + k * self.step

    def meeting(self, start: float, length: float) -> range:
        """Indices of the cells ``[origin(k), origin(k) + step)`` that meet ``[start, start + length)``
        (at least one)."""
        first = math.floor((start - self.phase) / self.step)
        last = max(first, math.ceil((start + length - self.phase) / self.step) - 1)
        return range(first, last + 1)

    def covering(self, extent: float) -> int:
        """How many tiles from origin(0) it takes to cover ``[0, extent)`` with tiles ``size`` long."""
        return max(1, math.ceil((extent - self.size) / self.step) + 1) if extent > self.size else 1

    def centred(self, start: float, length: float) -> tuple[Grid, int]:
        """This grid's step and size moved to cover ``[start, start + length)`` centred on it: (grid, count)."""
        n = max(1, math.ceil(max(0.0, length - self.size) / self.step) + 1)
        span = (n - 1) * self.step + self.size
        return Grid(self.step, self.size, start + (length - span) / 2.0), n


def tile_grid(
    width: int,
    height: int,
    slide_mpp: float,
    size: int,
    mpp: float,
    overlap: int = 0,
    mask: NDArray[np.bool_] | None = None,
    mask_mpp: float | None = None,
) -> Iterator[Tile]:
    """Tiles of ``size`` px at ``mpp`` stepping ``size - overlap`` px, row by row, over a slide of
    ``width`` x ``height`` level-0 px. With ``mask`` (2-D, True = keep) at ``mask_mpp`` (default: the mask
    spans the whole slide), tiles whose footprint holds no True mask pixel are skipped."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    grid = Grid.at(size, mpp, slide_mpp, size - overlap)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask_mpp is None:
            mask_mpp = slide_mpp * width / mask.shape[1]
        m_per0 = slide_mpp / mask_mpp  # mask px per level-0 px
    for j in range(grid.covering(height)):
        y = int(round(grid.origin(j)))
        if y >= height:
            break
        h = min(int(round(grid.size)), height - y)
        for i in range(grid.covering(width)):
            x = int(round(grid.origin(i)))
            if x >= width:
                break
            w = min(int(round(grid.size)), width - x)
            if mask is not None:
                mx0, my0 = int(math.floor(x * m_per0)), int(math.floor(y * m_per0))
                mx1 = max(mx0 + 1, int(math.ceil((x + w) * m_per0)))
                my1 = max(my0 + 1, int(math.ceil((y + h) * m_per0)))
                if not mask[my0:my1, mx0:mx1].any():
                    continue
            yield Tile(x, y, w, h)
