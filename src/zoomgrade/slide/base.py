"""The small interface every slide backend implements (one file per backend, dlup/openslide-python style).

Backends speak in *level* pixels and know nothing about microns-per-pixel choices or resampling: the
``Slide`` class does that once for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .limits import DEFAULT_MEMORY_MB
from .segment_cache import DEFAULT_CACHE_BYTES, SegmentCache


@dataclass(frozen=True)
class Level:
    """One pyramid level: size in its own pixels, downsample from level 0, and its resolution."""

    width: int
    height: int
    downsample: float
    mpp: float


class SlideBackend(ABC):
    """What a backend tells and reads. Attributes are filled by the subclass's constructor."""

    name: str = ""
    vendor: str | None = None
    level_dimensions: list[tuple[int, int]]  # (width, height) per level, finest first
    level_downsamples: list[float]
    mpp_xy: tuple[float, float] | None = None  # level-0 microns per pixel from the file, if any
    objective_power: float | None = None
    properties: dict[str, str]
    associated_names: list[str]

    #: the decoded-tile cache this backend keeps itself, if any (``Slide.cache_stats`` reports it)
    cache: SegmentCache | None = None

    def __init__(self, path: str, cache_bytes: int = DEFAULT_CACHE_BYTES, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        """``cache_bytes`` bounds the decoded-tile cache of backends that decode tiles on demand (0 = none);
        every backend takes it, so callers need not know which ones cache. ``memory_mb``: the memory ceiling
        that bounds what one decode may allocate (``slide.limits``)."""
        self.path = path
        self.memory_mb = int(memory_mb)
        self.level_dimensions = []
        self.level_downsamples = []
        self.properties = {}
        self.associated_names = []

    @abstractmethod
    def read_level(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """Pixels [y, y+h) x [x, x+w) of ``level`` in that level's pixels, (h, w, 3) uint8.

        Parts outside the level are white. Must be safe to call from several threads at once.
        """

    @abstractmethod
    def associated_image(self, name: str) -> np.ndarray:
        """One associated image (label, macro, thumbnail...) as (h, w, 3) uint8."""

    def segment_rows(self, level: int) -> int:
        """Height of the file's tiles or strips at ``level`` (0 = unknown or none): large reads cut their
        bands on these rows so that no segment is decoded twice."""
        return 0

    def will_need(self, level: int, boxes: Iterable[tuple[int, int, int, int]]) -> int:
        """Hint that the file bytes under ``boxes`` (x, y, w, h in ``level`` pixels) will be read soon, in this
        order; returns the bytes hinted. Backends that cannot locate a region's bytes in the file hint
        nothing (0). Must be safe to call from a thread other than the readers'."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional for backends holding nothing
        """Release file handles."""


def white(h: int, w: int) -> np.ndarray:
    return np.full((h, w, 3), 255, dtype=np.uint8)


def to_rgb(a: np.ndarray) -> np.ndarray:
    """Grey, grey+alpha, RGB or RGBA uint8 -> RGB uint8, alpha composited on white (as OpenSlide users do)."""
    if a.ndim == 3 and a.shape[-1] == 3:
        return a
    if a.ndim == 2:
        a = a[..., None]
    c = a.shape[-1]
    if c in (2, 4):
        alpha = a[..., c - 1]
        if alpha.min() == 255:  # the usual case inside a slide: skip the arithmetic
            a = np.ascontiguousarray(a[..., : c - 1])
        else:
            rgb = a[..., : c - 1].astype(np.uint16)
            al = alpha[..., None].astype(np.uint16)
            # rgb*a/255 + 255*(1-a/255), rounded; exact for alpha 0 and 255
            a = ((rgb * al + 255 * (255 - al) + 127) // 255).astype(np.uint8)
        c -= 1
    if c == 1:
        a = np.repeat(a, 3, axis=-1)
    elif c > 3:
        a = a[..., :3]
    return a


def openslide_downsamples(dims: list[tuple[int, int]]) -> list[float]:
    """Downsample of each level as OpenSlide computes it: mean of the width and height ratios."""
    w0, h0 = dims[0]
    return [(w0 / w + h0 / h) / 2.0 for w, h in dims]
