"""Flat PNG/JPEG images (a microscope camera field): one level, no resolution in the file (the caller
passes mpp). The image is decoded once, at open, and kept: flat images are small by nature, Pillow's
decompression-bomb guard refuses absurd sizes before any pixel is decoded, and a cut file is refused at open
(``Image.verify`` checks a PNG's chunks but not a JPEG's data) rather than at the first read."""

from __future__ import annotations

import threading
import warnings

import numpy as np
from PIL import Image

from .base import SlideBackend, to_rgb, white
from .limits import DEFAULT_MEMORY_MB, check_decoded_size, decode_limit


class PillowBackend(SlideBackend):
    name = "pillow"

    def __init__(self, path: str, cache_bytes: int = 0, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        super().__init__(path, 0, memory_mb)  # no tile cache: the one image is decoded once and kept
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:  # lazy: reads the header only
                    im.verify()
                    self._format = im.format
                    size = im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ValueError(f"image too large for a flat image ({err})") from None
        except Exception as err:
            raise ValueError(f"Pillow cannot read it ({err})") from None
        if self._format not in ("PNG", "JPEG", "MPO"):
            raise ValueError(f"{self._format} is not a flat image format this backend reads")
        # decoded as RGBA at worst (4 bytes a pixel), once, and kept: it must fit its share of the ceiling
        check_decoded_size(
            f"flat {self._format} image",
            size[0],
            size[1],
            4,
            decode_limit(memory_mb),
            memory_mb,
            hint="downscale it or convert it to a tiled pyramidal TIFF (e.g. `vips tiffsave IN "
            "OUT.tif --tile --pyramid`)",
        )
        self.vendor = self._format.lower() if self._format else None
        self.level_dimensions = [size]
        self.level_downsamples = [1.0]
        self._pixels: np.ndarray | None = None
        self._lock = threading.Lock()
        try:
            self._load()
        except OSError as err:  # "image file is truncated (45 bytes not processed)"
            raise ValueError(f"Pillow cannot read it ({err})") from None

    def _load(self) -> np.ndarray:
        with self._lock:
            if self._pixels is None:
                with Image.open(self.path) as im:
                    rgb = im.convert("RGBA") if "A" in im.getbands() or im.mode == "P" else im.convert("RGB")
                    self._pixels = to_rgb(np.asarray(rgb))
            return self._pixels

    def read_level(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        px = self._load()
        H, W = px.shape[:2]
        out = white(h, w)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 > x0 and y1 > y0:
            out[y0 - y : y1 - y, x0 - x : x1 - x] = px[y0:y1, x0:x1]
        return out

    def associated_image(self, name: str) -> np.ndarray:
        raise KeyError(name)

    def close(self) -> None:
        self._pixels = None
