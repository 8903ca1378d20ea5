"""A regular grid of tiles over a slide, in level-0 pixels, optionally only where a mask says tissue."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    """A tile in level-0 pixels (edge tiles are clipped to the slide)."""

    x: int
    y: int
    w: int
    h: int


def tile_grid(
    width: int,
    height: int,
    slide_mpp: float,
    size: int,
    mpp: float,
    overlap: int = 0,
    mask: np.ndarray | None = None,
    mask_mpp: float | None = None,
) -> Iterator[Tile]:
    """Tiles of ``size`` px at ``mpp`` stepping ``size - overlap`` px, row by row, over a slide of
    ``width`` x ``height`` level-0 px. With ``mask`` (2-D, True = keep) at ``mask_mpp`` (default: the mask
    spans the whole slide), tiles whose footprint holds no True mask pixel are skipped."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    scale = mpp / slide_mpp  # level-0 px per output px
    tile0 = size * scale
    step0 = (size - overlap) * scale
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask_mpp is None:
            mask_mpp = slide_mpp * width / mask.shape[1]
        m_per0 = slide_mpp / mask_mpp  # mask px per level-0 px
    nx = max(1, math.ceil((width - tile0) / step0) + 1) if width > tile0 else 1
    ny = max(1, math.ceil((height - tile0) / step0) + 1) if height > tile0 else 1
    for j in range(ny):
        y = int(round(j * step0))
        if y >= height:
            break
        h = min(int(round(tile0)), height - y)
        for i in range(nx):
            x = int(round(i * step0))
            if x >= width:
                break
            w = min(int(round(tile0)), width - x)
            if mask is not None:
                mx0, my0 = int(math.floor(x * m_per0)), int(math.floor(y * m_per0))
                mx1 = max(mx0 + 1, int(math.ceil((x + w) * m_per0)))
                my1 = max(my0 + 1, int(math.ceil((y + h) * m_per0)))
                if not mask[my0:my1, mx0:mx1].any():
                    continue
            yield Tile(x, y, w, h)
