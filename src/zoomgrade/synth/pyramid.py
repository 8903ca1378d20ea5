"""A synthetic slide's pyramid, written tile by tile as an Aperio SVS (``aperio.write_aperio``): level 0
from the renderer, then the lower levels, each downsampled by ``level_step`` until the largest side is under
``MIN_LEVEL`` px, and a thumbnail.

Memory: level-0 tiles are handed to the file as they arrive (pre-encoded JPEG bytes); each lower level
is built from the one above a row of tiles at a time, keeping only its encoded bytes, so nothing close to
a full level is ever in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import imagecodecs
import numpy as np

from ..slide.resample import block_mean
from .aperio import Level, write_aperio

MIN_LEVEL = 2000  # stop adding levels once the largest side is under this
THUMB_MAX = 768  # Aperio thumbnails are ~768 px on the long side


def encode_tile(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG (YCbCr 4:2:0) exactly as tifffile would encode the tile, so the TIFF tags match."""
    return bytes(
        imagecodecs.jpeg_encode(rgb, level=quality, colorspace="RGB", outcolorspace="YCBCR", subsampling=(2, 2))
    )


def downsample(rgb: np.ndarray, f: int) -> np.ndarray:
    """Area-average by an integer factor (dimensions must be multiples of f), rounding half up: the slide
    layer's one block mean, so synthetic levels are what a reader averaging the level above would get."""
    return block_mean(rgb, f, f)


def level_sizes(width: int, height: int, step: int) -> list[tuple[int, int]]:
    sizes = [(width, height)]
    while max(sizes[-1]) >= MIN_LEVEL:
        w, h = sizes[-1]
        sizes.append((max(1, -(-w // step)), max(1, -(-h // step))))
    return sizes


@dataclass
class _Level:
    """Collects one lower level row-strip by row-strip, encodes full tile rows, feeds the next level."""

    width: int
    height: int
    tile: int
    step: int
    quality: int
    child: _Level | None
    keep_pixels: bool  # the smallest level keeps its pixels for the thumbnail
    tiles: list[bytes] = field(default_factory=list)
    pixels: list[np.ndarray] = field(default_factory=list)
    _buf: list[np.ndarray] = field(default_factory=list)
    _rows: int = 0
    _done_rows: int = 0

    @property
    def cols(self) -> int:
        return -(-self.width // self.tile)

    def push(self, strip: np.ndarray) -> None:
        """strip: (k, w, 3) rows of this level; cropped or edge-padded to whole tiles."""
        full = self.cols * self.tile
        if strip.shape[1] < full:
            strip = np.pad(strip, ((0, 0), (0, full - strip.shape[1]), (0, 0)), mode="edge")
        self._buf.append(strip[:, :full])
        self._rows += strip.shape[0]
        while self._rows >= self.tile:
            self._emit()

    def _emit(self) -> None:
        buf = np.concatenate(self._buf, axis=0) if len(self._buf) > 1 else self._buf[0]
        row, rest = buf[: self.tile], buf[self.tile :]
        self._buf, self._rows = ([rest] if len(rest) else []), len(rest)
        if self._done_rows * self.tile >= self.height:
            return  # rows past the level's height (padding from the level above)
        if row.shape[0] < self.tile:  # last partial tile row: repeat the edge (never shown, keeps JPEG tidy)
            row = np.concatenate([row, np.repeat(row[-1:], self.tile - row.shape[0], 0)])
        for c in range(self.cols):
            self.tiles.append(
                encode_tile(np.ascontiguousarray(row[:, c * self.tile : (c + 1) * self.tile]), self.quality)
            )
        if self.keep_pixels:
            self.pixels.append(row)
        if self.child is not None:
            self.child.push(downsample(row, self.step))
        self._done_rows += 1

    def finish(self) -> None:
        if self._rows:
            self._emit()
        if self._done_rows * self.tile < self.height:
            raise RuntimeError(f"level {self.width}x{self.height}: only {self._done_rows} tile rows arrived")
        if self.child is not None:
            self.child.finish()

    def image(self) -> np.ndarray:
        return np.concatenate(self.pixels, axis=0)[: self.height, : self.width]


def write_pyramid(
    path: str | Path,
    width: int,
    height: int,
    rows: Iterable[tuple[list[bytes], np.ndarray]],
    *,
    tile: int = 512,
    level_step: int = 4,
    quality: int = 88,
    mpp: float = 0.25,
    app_mag: int = 40,
    extra_desc: str = "",
) -> list[tuple[int, int]]:
    """Write the pyramid. ``rows`` yields, per band of level 0 (one or more whole tile rows), its encoded
    tiles in row-major file order and the band already downsampled by ``level_step`` (shape
    (band/step, >= width/step, 3)). Returns the level sizes."""
    if level_step not in (2, 4):
        raise ValueError("level_step must be 2 or 4")
    sizes = level_sizes(width, height, level_step)
    child: _Level | None = None
    for i in range(len(sizes) - 1, 0, -1):
        w, h = sizes[i]
        child = _Level(w, h, tile, level_step, quality, child, keep_pixels=(i == len(sizes) - 1))
    first = child

    def level0() -> Iterator[bytes]:
        for tiles, strip in rows:
            # Push before yielding: tifffile stops pulling after the last tile it needs.
            if first is not None:
                first.push(strip)
            yield from tiles

    def rest() -> tuple[np.ndarray, list[Level]] | None:
        if first is None:
            return None
        first.finish()
        levels: list[_Level] = []
        lv: _Level | None = first
        while lv is not None:
            levels.append(lv)
            lv = lv.child
        small = levels[-1].image()
        f = max(1, int(np.ceil(max(small.shape[:2]) / THUMB_MAX)))
        th = small[: small.shape[0] // f * f, : small.shape[1] // f * f]
        return (downsample(th, f) if f > 1 else th), [(lv.width, lv.height, lv.tiles) for lv in levels]

    write_aperio(
        path,
        width,
        height,
        level0(),
        rest,
        tile=tile,
        quality=quality,
        mpp=mpp,
        app_mag=app_mag,
        software="zoomgrade-synth",
        extra_desc=extra_desc,
    )
    return sizes
