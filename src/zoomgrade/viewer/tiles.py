"""DeepZoom-style tiles cut on the fly from zoomgrade's own slide reader, by mpp, with bounded caches.

DeepZoom level ``L`` of a slide whose longer side is ``W`` px has scale ``2 ** (L - max_level)`` with
``max_level = ceil(log2(W))``: level ``max_level`` is level 0 of the slide, each level below halves it.
A tile is a ``TILE`` px square of its level; it is read with ``Slide.read_region`` at
``slide.mpp / scale`` um/px, so any format the reader opens is served, from the cheapest pyramid level.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import ZoomgradeError
from ..slide import Slide, open_slide

TILE = 256
JPEG_QUALITY = 80
#: decoded-and-encoded tiles kept (JPEG bytes, ~10-25 KB each): a few screens at every zoom of a few slides
DEFAULT_TILE_CACHE_BYTES = 64 * 1024 * 1024
#: slides held open at once (each holds its reader's own decoded-tile cache)
DEFAULT_OPEN_SLIDES = 4
#: the reader's decoded-file-tile cache per open slide (smaller than grading's: tiles are cached as JPEG here)
SLIDE_CACHE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class DeepZoom:
    """The tile geometry of one slide (level-0 size in px)."""

    width: int
    height: int
    tile: int = TILE

    @property
    def max_level(self) -> int:
        return max(0, math.ceil(math.log2(max(self.width, self.height, 1))))

    def scale(self, level: int) -> float:
        return 2.0 ** (level - self.max_level)

    def level_size(self, level: int) -> tuple[int, int]:
        s = self.scale(level)
        return max(1, math.ceil(self.width * s)), max(1, math.ceil(self.height * s))

    def tile_box(self, level: int, col: int, row: int) -> tuple[int, int, int, int, int, int] | None:
        """(x0, y0, w0, h0) in level-0 px and the tile's (w, h) in its level, or None outside the level."""
        if not 0 <= level <= self.max_level or col < 0 or row < 0:
            return None
        lw, lh = self.level_size(level)
        x, y = col * self.tile, row * self.tile
        if x >= lw or y >= lh:
            return None
        w, h = min(self.tile, lw - x), min(self.tile, lh - y)
        s = self.scale(level)
        x0, y0 = round(x / s), round(y / s)
        x1, y1 = min(self.width, round((x + w) / s)), min(self.height, round((y + h) / s))
        return x0, y0, max(1, x1 - x0), max(1, y1 - y0), w, h

    def to_json(self, mpp: float) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "tileSize": self.tile,
            "tileOverlap": 0,
            "minLevel": 0,
            "maxLevel": self.max_level,
            "mpp": mpp,
        }


class BytesLRU:
    """A thread-safe LRU of bytes values bounded by their total size."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._d: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            v = self._d.get(key)
            if v is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return v

    def put(self, key: tuple, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._d.pop(key, None)
            self._bytes += len(value) - (len(old) if old else 0)
            self._d[key] = value
            while self._bytes > self.max_bytes:
                _, v = self._d.popitem(last=False)
                self._bytes -= len(v)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._d)


class SlideUnavailable(ZoomgradeError):
    """The slide named by a result cannot be shown (missing, unreadable, or not the slide that was graded)."""


class SlidePool:
    """Open slides by key, at most ``max_open`` at once (least recently used closed first, once no read holds it).

    A slide that fails to open is remembered with its error until its file changes, so a page of a missing
    or corrupt slide answers at once with the cause instead of retrying on every tile.
    """

    def __init__(
        self,
        max_open: int = DEFAULT_OPEN_SLIDES,
        opener: Callable[[Path], Slide] = lambda p: open_slide(p, cache_bytes=SLIDE_CACHE_BYTES),
    ) -> None:
        self.max_open = max_open
        self._opener = opener
        self._open: OrderedDict[str, _Held] = OrderedDict()
        self._failed: dict[str, tuple[tuple, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _stamp(path: Path) -> tuple:
        try:
            st = os.stat(path)
            return (st.st_size, st.st_mtime_ns)
        except OSError:
            return ("missing",)

    def _open_new(self, key: str, path: Path | None, expect: tuple[int, int] | None) -> _Held:
        if path is None:
            raise SlideUnavailable("the result names no slide file")
        stamp = self._stamp(path)
        failed = self._failed.get(key)
        if failed and failed[0] == stamp:
            raise SlideUnavailable(failed[1])
        try:
            if stamp == ("missing",):
                raise SlideUnavailable(f"{path.name}: slide file not found (moved or deleted since grading?)")
            slide = self._opener(path)
        except ZoomgradeError as err:
            msg = str(err) if isinstance(err, SlideUnavailable) else f"cannot open the slide: {err}"
            self._failed[key] = (stamp, msg)
            raise SlideUnavailable(msg) from None
        if expect and tuple(slide.dimensions) != tuple(expect):
            slide.close()
            msg = (
                f"{path.name}: this file is {slide.dimensions[0]} x {slide.dimensions[1]} px but was graded as "
                f"{expect[0]} x {expect[1]} px: not the slide that was graded, not shown"
            )
            self._failed[key] = (stamp, msg)
            raise SlideUnavailable(msg)
        self._failed.pop(key, None)
        return _Held(slide, DeepZoom(*slide.dimensions))

    @contextmanager
    def lease(self, key: str, path: Path | None, expect: tuple[int, int] | None) -> Iterator[tuple[Slide, DeepZoom]]:
        """The open slide and its tile geometry for the time of a read; raises SlideUnavailable (one-line cause)."""
        with self._lock:
            held = self._open.get(key)
            if held is None:
                held = self._open[key] = self._open_new(key, path, expect)
            self._open.move_to_end(key)
            held.users += 1
            while len(self._open) > self.max_open:
                _, old = self._open.popitem(last=False)
                old.retired = True
                if old.users == 0:
                    old.slide.close()
        try:
            yield held.slide, held.dz
        finally:
            with self._lock:
                held.users -= 1
                if held.retired and held.users == 0:
                    held.slide.close()

    def close(self) -> None:
        with self._lock:
            for held in self._open.values():
                held.retired = True
                if held.users == 0:
                    held.slide.close()
            self._open.clear()


@dataclass
class _Held:
    slide: Slide
    dz: DeepZoom
    users: int = 0
    retired: bool = False


def encode_jpeg(pixels, size: tuple[int, int]) -> bytes:
    img = Image.fromarray(pixels)
    if img.size != size:  # rounding of the level-0 box may differ by a pixel from the tile's size
        img = img.resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def render_tile(slide: Slide, dz: DeepZoom, level: int, col: int, row: int) -> bytes | None:
    """One JPEG tile, or None for a tile outside the slide's DeepZoom grid."""
    box = dz.tile_box(level, col, row)
    if box is None:
        return None
    x0, y0, w0, h0, w, h = box
    mpp = slide.mpp / dz.scale(level)
    return encode_jpeg(slide.read_region(x0, y0, w0, h0, mpp), (w, h))
