"""Everything OpenSlide reads (NDPI, MRXS, SCN, BIF, Philips TIFF, DICOM, ...) and the fallback for TIFFs
the tifffile backend declines. OpenSlide returns un-premultiplied RGBA; we composite it on white.
OpenSlide keeps its own decoded-tile cache in the C library; we give it the same byte bound as the tifffile
backend's (``cache_bytes``; 0 disables it)."""

from __future__ import annotations

import numpy as np
import openslide

from .base import SlideBackend, to_rgb
from .limits import DEFAULT_MEMORY_MB
from .segment_cache import DEFAULT_CACHE_BYTES


def _float(value: str | None) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None


class OpenSlideBackend(SlideBackend):
    name = "openslide"

    def __init__(self, path: str, cache_bytes: int = DEFAULT_CACHE_BYTES, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        # OpenSlide decodes the vendor formats' tiles itself, bounded by their tile sizes; the regions asked of
        # it are bounded by Slide.read_region's own check.
        super().__init__(path, cache_bytes, memory_mb)
        try:
            self._osr = openslide.OpenSlide(path)
        except openslide.OpenSlideUnsupportedFormatError:
            raise ValueError("not a format OpenSlide reads") from None
        except openslide.OpenSlideError as err:
            raise ValueError(f"OpenSlide: {err}") from None
        # the cache object must outlive the slide's use of it: keep a reference
        self._cache = openslide.OpenSlideCache(max(0, int(cache_bytes)))
        self._osr.set_cache(self._cache)
        props = self._osr.properties
        self.properties = dict(props)
        self.vendor = props.get(openslide.PROPERTY_NAME_VENDOR)
        self.level_dimensions = [tuple(map(int, d)) for d in self._osr.level_dimensions]  # type: ignore[misc]
        self.level_downsamples = [float(d) for d in self._osr.level_downsamples]
        mx = _float(props.get(openslide.PROPERTY_NAME_MPP_X))
        my = _float(props.get(openslide.PROPERTY_NAME_MPP_Y))
        if mx or my:
            self.mpp_xy = (mx or my, my or mx)  # type: ignore[assignment]
        self.objective_power = _float(props.get(openslide.PROPERTY_NAME_OBJECTIVE_POWER))
        self.associated_names = sorted(self._osr.associated_images.keys())
        self._read_last_tiles()

    def _read_last_tiles(self) -> None:
        """A file cut short opens (OpenSlide reads tiles lazily) and fails at the first read past the cut; each
        level's last pixel lies in its last tile, which a raster-ordered file (DICOM) stores last: one tile a
        level, read here, refuses such a file at open rather than mid-grade."""
        for level, ((w, h), ds) in enumerate(zip(self.level_dimensions, self.level_downsamples)):
            try:
                self._osr.read_region((int((w - 1) * ds), int((h - 1) * ds)), level, (1, 1))
            except openslide.OpenSlideError as err:
                self._osr.close()
                raise ValueError(f"OpenSlide cannot read the last tile of level {level}: {err}") from None

    def read_level(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        ds = self.level_downsamples[level]
        # OpenSlide takes the top-left corner in level-0 pixels
        loc = (int(round(x * ds)), int(round(y * ds)))
        try:
            img = self._osr.read_region(loc, level, (int(w), int(h)))
        except openslide.OpenSlideError as err:
            raise OSError(f"OpenSlide read failed: {err}") from None
        return to_rgb(np.asarray(img))

    def associated_image(self, name: str) -> np.ndarray:
        # OpenSlide decodes associated images whole, and does not say their size first: they are labels and
        # macro photos, small by nature
        return to_rgb(np.asarray(self._osr.associated_images[name]))

    def close(self) -> None:
        self._osr.close()
