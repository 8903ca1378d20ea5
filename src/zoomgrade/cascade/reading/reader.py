"""Reading boxes of the slide at one resolution, as fixed-size images, with the cost of each read."""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from ...types import CostRecord
from ..context import Box, SlideLike


def fit(img: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """Crop or pad (white) a read to exactly size x size: level-0 rounding can be off by a pixel."""
    h, w = img.shape[:2]
    if h == size and w == size:
        return img
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    hh, ww = min(h, size), min(w, size)
    out[:hh, :ww] = img[:hh, :ww]
    return out


class Reader:
    """Reads boxes at one mpp and accounts the cost to one stage (thread-safe: the slide's reads are, and
    the cost record locks itself)."""

    def __init__(self, slide: SlideLike, mpp: float, size_px: int, cost: CostRecord, stage: str) -> None:
        self.slide, self.mpp, self.size, self.cost, self.stage = slide, mpp, size_px, cost, stage

    def read(self, boxes: list[Box]) -> NDArray[np.uint8]:
        """(len(boxes), size, size, 3) uint8: each level-0 box read at ``mpp``."""
        t0 = time.perf_counter()
        out = np.empty((len(boxes), self.size, self.size, 3), dtype=np.uint8)
        for i, (x, y, w, h) in enumerate(boxes):
            out[i] = fit(np.asarray(self.slide.read_region(x, y, w, h, self.mpp)), self.size)
        px = len(boxes) * self.size * self.size
        self.cost.add(self.stage, seconds=time.perf_counter() - t0, pixels=px, tiles=len(boxes))
        self.cost.add_read(self.mpp, px, len(boxes))
        return out
