"""``Slide``: a whole-slide image read by microns-per-pixel, on top of any backend.

Coordinates are level-0 pixels; resolutions are microns per pixel (mpp). A read picks the cheapest
pyramid level at least as fine as asked and area-averages it down, in bands, so memory stays bounded by
the output size whatever the slide size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import MissingMppError, SlideError
from .bands import band_rows
from .base import Level, SlideBackend
from .info import SlideInfo
from .limits import DEFAULT_MEMORY_MB, ImageTooLargeError, ReadLog, check_decoded_size, decode_limit
from .probe import open_backend
from .resample import apply_weights, area_resize, area_weights
from .segment_cache import DEFAULT_CACHE_BYTES, CacheStats
from .tiles import Tile, tile_grid

#: level pixels decoded at once before resizing; larger reads go in bands of output rows (24 MB RGB,
#: ~100 MB as float32 on the fractional-factor path)
_BAND_PIXELS = 8 * 1024 * 1024
#: a level counts as "at least as fine" as asked when within this relative tolerance (float noise)
_MPP_TOL = 1e-6


class Slide:
    """A slide opened for reading. Use ``open_slide``; close it (or use ``with``) when done."""

    def __init__(
        self, path: str | Path, backend: SlideBackend, mpp: float | None = None, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> None:
        self.path = str(path)
        self._b = backend
        self.memory_mb = int(memory_mb)
        #: every read_region, and the ones that failed (decode or I/O errors): see slide.limits
        self.read_log = ReadLog()
        self.backend_name = backend.name
        self.vendor = backend.vendor
        self.properties = dict(backend.properties)
        self.objective_power = backend.objective_power
        self.dimensions: tuple[int, int] = tuple(backend.level_dimensions[0])  # type: ignore[assignment]
        self.mpp_source: Literal["file", "caller", "estimate"]
        if mpp is not None:
            if not (mpp > 0 and math.isfinite(mpp)):
                raise SlideError(self.path, f"mpp must be a positive number, got {mpp}")
            self.mpp_xy, self.mpp_source = (float(mpp), float(mpp)), "caller"
        elif backend.mpp_xy is not None:
            self.mpp_xy, self.mpp_source = backend.mpp_xy, "file"
        elif self.objective_power:
            # the usual scanner optics: 40x -> 0.25 um/px, 20x -> 0.5 um/px
            est = 10.0 / self.objective_power
            self.mpp_xy, self.mpp_source = (est, est), "estimate"
        else:
            raise MissingMppError(self.path)
        self.mpp = (self.mpp_xy[0] + self.mpp_xy[1]) / 2.0
        self.levels = [
            Level(int(w), int(h), float(ds), self.mpp * float(ds))
            for (w, h), ds in zip(backend.level_dimensions, backend.level_downsamples)
        ]
        self.associated_images = list(backend.associated_names)

    # -- metadata ------------------------------------------------------------------------------------
    def associated_image(self, name: str) -> np.ndarray:
        if name not in self.associated_images:
            have = ", ".join(self.associated_images) or "none"
            raise SlideError(self.path, f"no associated image {name!r} (has: {have})")
        return self._b.associated_image(name)

    def info(self) -> SlideInfo:
        st = os.stat(self.path)
        return SlideInfo(
            path=self.path,
            name=Path(self.path).name,
            backend=self.backend_name,
            vendor=self.vendor,
            width=self.dimensions[0],
            height=self.dimensions[1],
            mpp=self.mpp,
            mpp_source=self.mpp_source,
            objective_power=self.objective_power,
            size_bytes=st.st_size,
            mtime=st.st_mtime,
        )

    def best_level(self, mpp: float) -> int:
        """Index of the coarsest level whose resolution is at least as fine as ``mpp``."""
        best = 0
        for i, lv in enumerate(self.levels):
            if lv.mpp <= mpp * (1 + _MPP_TOL) and lv.downsample > self.levels[best].downsample:
                best = i
        return best

    # -- pixels --------------------------------------------------------------------------------------
    def read_region(self, x: int, y: int, w: int, h: int, mpp: float, *, workers: int = 1) -> np.ndarray:
        """Region (x, y, w, h) in level-0 px at ``mpp`` um/px as (H, W, 3) uint8; outside = white.
        ``workers``: threads that decode a large read's bands at once (file decoders and numpy release the
        GIL); the bands in flight hold no more pixels than one thread's band (the threads' allocator arenas
        keep some memory of their own, docs/benchmark.md)."""
        if w <= 0 or h <= 0 or not mpp > 0:
            raise ValueError(f"need w, h > 0 and mpp > 0, got w={w}, h={h}, mpp={mpp}")
        if workers < 1:
            raise ValueError(f"need workers >= 1, got {workers}")
        f = self.mpp / mpp
        out_w, out_h = max(1, int(round(w * f))), max(1, int(round(h * f)))
        try:
            check_decoded_size(
                f"a read at {mpp:g} um/px",
                out_w,
                out_h,
                3,
                decode_limit(self.memory_mb),
                self.memory_mb,
                hint="read at a coarser resolution or raise the ceiling",
            )
        except ImageTooLargeError as err:
            raise SlideError(self.path, str(err)) from None
        li = self.best_level(mpp)
        ds = self.levels[li].downsample
        lx, ly = int(round(x / ds)), int(round(y / ds))
        lw, lh = max(1, int(round(w / ds))), max(1, int(round(h / ds)))
        try:
            if lw * lh <= _BAND_PIXELS // workers:
                img = area_resize(self._b.read_level(li, lx, ly, lw, lh), out_h, out_w)
            else:
                img = self._read_banded(li, lx, ly, lw, lh, out_w, out_h, workers)
        except (OSError, ValueError, RuntimeError) as err:
            cause = f"read failed at level {li} ({lx}, {ly}, {lw}x{lh}): {err}"
            self.read_log.failed(cause)
            raise SlideError(self.path, cause) from None
        self.read_log.ok()
        return img

    def _read_banded(
        self, li: int, lx: int, ly: int, lw: int, lh: int, out_w: int, out_h: int, workers: int
    ) -> np.ndarray:
        out = np.empty((out_h, out_w, 3), dtype=np.uint8)
        bands = band_rows(out_h, ly, lh, lw, self._b.segment_rows(li), workers, _BAND_PIXELS)
        if lh % out_h == 0 and lw % out_w == 0:
            k = lh // out_h  # integral factor: exact block means per band

            def one(r0: int, r1: int) -> None:
                img = self._b.read_level(li, lx, ly + r0 * k, lw, (r1 - r0) * k)
                out[r0:r1] = area_resize(img, r1 - r0, out_w)

        else:
            wy, wx = area_weights(lh, out_h), area_weights(lw, out_w)

            def one(r0: int, r1: int) -> None:
                sub = wy[r0:r1]
                c0, c1 = int(sub.indices.min()), int(sub.indices.max()) + 1
                img = self._b.read_level(li, lx, ly + c0, lw, c1 - c0)
                out[r0:r1] = apply_weights(img, sub[:, c0:c1], wx)

        if workers == 1 or len(bands) == 1:
            for r0, r1 in bands:
                one(r0, r1)
        else:
            with ThreadPoolExecutor(min(workers, len(bands))) as pool:
                try:
                    for done in [pool.submit(one, r0, r1) for r0, r1 in bands]:
                        done.result()  # re-raises a band's read error here
                except BaseException:
                    pool.shutdown(cancel_futures=True)  # a failed read (or Ctrl-C) reads no more bands
                    raise
        return out

    def will_need(self, boxes: Iterable[tuple[int, int, int, int]], mpp: float) -> int:
        """Hint that the regions ``boxes`` (x, y, w, h in level-0 px) will soon be read at ``mpp``, in this order,
        so the OS can fetch their file bytes all at once (see ``slide.readahead``); returns the bytes hinted
        (0 where the backend cannot locate them, e.g. OpenSlide's formats)."""
        li = self.best_level(mpp)
        ds = self.levels[li].downsample
        level_boxes = (
            (
                int(x // ds),
                int(y // ds),
                int(math.ceil((x + w) / ds)) - int(x // ds) + 1,
                int(math.ceil((y + h) / ds)) - int(y // ds) + 1,
            )
            for x, y, w, h in boxes
        )
        return self._b.will_need(li, level_boxes)

    def thumbnail(self, mpp: float | None = None, max_size: int = 1024, *, workers: int = 1) -> np.ndarray:
        """The whole slide at ``mpp`` (default: the resolution that fits in ``max_size`` px)."""
        w, h = self.dimensions
        if mpp is None:
            mpp = max(self.mpp, self.mpp * max(w, h) / max_size)
        return self.read_region(0, 0, w, h, mpp, workers=workers)

    def tiles(
        self,
        size: int,
        mpp: float,
        overlap: int = 0,
        mask: np.ndarray | None = None,
        mask_mpp: float | None = None,
    ) -> Iterator[Tile]:
        """Tiles of ``size`` px at ``mpp`` over the slide, in level-0 px (see ``tiles.tile_grid``)."""
        return tile_grid(self.dimensions[0], self.dimensions[1], self.mpp, size, mpp, overlap, mask, mask_mpp)

    def cache_stats(self) -> CacheStats | None:
        """Hits, misses and bytes of the backend's decoded-tile cache (tifffile backend); None if it has none."""
        return self._b.cache.stats() if self._b.cache is not None else None

    # -- lifetime ------------------------------------------------------------------------------------
    def close(self) -> None:
        self._b.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.dimensions
        return f"Slide({self.path!r}, {self.backend_name}, {w}x{h}, {len(self.levels)} levels, {self.mpp:.4g} um/px)"


def open_slide(
    path: str | Path,
    mpp: float | None = None,
    backend: str | None = None,
    *,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Slide:
    """Open a slide; ``backend`` forces one of tifffile / openslide / pillow, else the file is probed.
    ``cache_bytes`` bounds the cache of decoded file tiles (default 128 MiB; 0 disables it). ``memory_mb``:
    the memory ceiling no header can make a read exceed (``slide.limits``; default 2048)."""
    b = open_backend(path, backend, cache_bytes, memory_mb)
    try:
        return Slide(path, b, mpp, memory_mb)
    except BaseException:
        b.close()
        raise
