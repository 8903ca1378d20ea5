"""The cascade's floor: the seconds needed just to decode the pixels it read and to run the models on them.

``RecordingSlide`` wraps an open slide and records every read the grader makes (``read_region`` windows
and ``thumbnail`` calls, with their mpp), so the floor replays exactly what the cascade read instead of
re-deriving windows from the result (regions dismissed at high power are not in the result but were read).

``measure_floor`` then times, from a fresh open of the same file:
- decode: the same reads, one after the other, no model;
- inference: stage 1 on the thumbnail and stage 2 on as many windows as the cascade's models graded
  (stage 2 and the fallback; fewer than it read: a region's count may read windows it does not grade, and a
  region the count dismisses gets no forward pass), from an in-memory batch, no reading.
The serial floor is decode + inference; with reading overlapped by inference (the cascade's reader
thread) the best a 2-core machine could do is about max(decode, inference), reported beside it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cascade.stage1 import MIN_SIDE, pad_white

Read = tuple[str, tuple[float, ...]]  # ("region", (x, y, w, h, mpp)) or ("thumbnail", (mpp,))


class RecordingSlide:
    """An open slide that records the reads made through it (thread-safe); everything else delegates."""

    def __init__(self, slide: Any) -> None:
        self._slide = slide
        self._lock = threading.Lock()
        self.reads: list[Read] = []

    def read_region(self, x: int, y: int, w: int, h: int, mpp: float) -> np.ndarray:
        with self._lock:
            self.reads.append(("region", (int(x), int(y), int(w), int(h), float(mpp))))
        return self._slide.read_region(x, y, w, h, mpp)

    def thumbnail(self, mpp: float, *, workers: int = 1) -> np.ndarray:
        with self._lock:
            self.reads.append(("thumbnail", (float(mpp),)))
        return self._slide.thumbnail(mpp, workers=workers)

    def __getattr__(self, name: str) -> Any:  # path, mpp, dimensions, levels, info(), close(), ...
        return getattr(self._slide, name)

    def region_reads(self) -> list[tuple[int, int, int, int, float]]:
        return [tuple(a) for k, a in self.reads if k == "region"]  # type: ignore[misc]

    def thumbnail_reads(self) -> list[float]:
        return [a[0] for k, a in self.reads if k == "thumbnail"]


@dataclass
class FloorRecord:
    n_windows: int  # windows read
    window_px: int
    decode_thumbnail_s: float
    decode_windows_s: float
    stage1_infer_s: float
    stage2_infer_s: float
    decode_s: float = 0.0
    infer_s: float = 0.0
    serial_s: float = 0.0  # decode + inference
    overlapped_s: float = 0.0  # max(decode, inference): reading fully hidden behind the model
    mpix_decoded: float = 0.0
    notes: list[str] = field(default_factory=list)
    n_graded: int | None = None  # windows the models graded (None: as many as read)

    def __post_init__(self) -> None:
        self.decode_s = self.decode_thumbnail_s + self.decode_windows_s
        self.infer_s = self.stage1_infer_s + self.stage2_infer_s
        self.serial_s = self.decode_s + self.infer_s
        self.overlapped_s = max(self.decode_s, self.infer_s)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == size and w == size:
        return img
    out = np.full((size, size, 3), 255, np.uint8)
    out[: min(h, size), : min(w, size)] = img[:size, :size]
    return out


@dataclass
class TileDecodeRecord:
    """What the windows cost in compressed-tile decodes: ``read_region`` decodes every file tile a window
    touches, so overlapping or unaligned windows decode the same tile again. ``unique_s`` is the time to
    decode each touched tile once: the physical floor of reading those windows from this file."""

    tile_px: tuple[int, int]  # file tile (w, h) at the level read
    decodes: int  # tile decodes the windows cause (a tile counted once per window touching it)
    unique_tiles: int
    unique_s: float

    @property
    def amplification(self) -> float:
        return self.decodes / self.unique_tiles if self.unique_tiles else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "amplification": self.amplification}


def file_tile_size(path: str | Path, level_width: int) -> tuple[int, int] | None:
    """(tile w, tile h) of the TIFF page holding a level of this width; None for untiled or non-TIFF files."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tf:
            for page in tf.pages:
                if isinstance(page, tifffile.TiffPage) and int(page.imagewidth) == level_width and page.is_tiled:
                    return int(page.tilewidth), int(page.tilelength)
    except Exception:
        return None
    return None


def tile_decodes(path: str | Path, windows: list[tuple[int, int, int, int, float]]) -> TileDecodeRecord | None:
    """Count the file-tile decodes ``windows`` cause and time decoding each touched tile once (each read
    tile-aligned, at the level's own resolution)."""
    from ..slide import open_slide

    if not windows:
        return None
    with open_slide(path) as slide:
        li = slide.best_level(windows[0][4])
        lv = slide.levels[li]
        size = file_tile_size(path, lv.width)
        if size is None:
            return None
        tw, th = size
        ds = lv.downsample
        touched: set[tuple[int, int]] = set()
        decodes = 0
        for x, y, w, h, m in windows:
            if slide.best_level(m) != li:
                continue
            lx0, ly0 = max(0, int(round(x / ds))), max(0, int(round(y / ds)))
            lx1 = min(lv.width, lx0 + max(1, int(round(w / ds))))
            ly1 = min(lv.height, ly0 + max(1, int(round(h / ds))))
            tiles = [
                (c, r) for r in range(ly0 // th, (ly1 - 1) // th + 1) for c in range(lx0 // tw, (lx1 - 1) // tw + 1)
            ]
            decodes += len(tiles)
            touched.update(tiles)
        t0 = time.perf_counter()
        for c, r in sorted(touched, key=lambda t: (t[1], t[0])):
            slide.read_region(int(c * tw * ds), int(r * th * ds), int(tw * ds), int(th * ds), lv.mpp)
        dt = time.perf_counter() - t0
    return TileDecodeRecord((tw, th), decodes, len(touched), dt)


def measure_floor(
    path: str | Path,
    thumbnails: list[float],
    windows: list[tuple[int, int, int, int, float]],
    stage1: Any,
    stage2: Any,
    window_px: int,
    batch_size: int,
    repeats: int = 1,
    graded: int | None = None,
) -> FloorRecord:
    """Time decoding ``thumbnails`` + ``windows`` from a fresh open of ``path`` (no model) and the models
    on the same inputs from memory (no reading): stage 2 on ``graded`` of the windows (None: all of them).
    With ``repeats`` > 1 the fastest run of each part counts (a shared machine adds noise, never removes it)."""
    from ..slide import open_slide

    best = {"thumb": np.inf, "win": np.inf, "s1": np.inf, "s2": np.inf}
    mpix = 0.0
    for _ in range(max(1, repeats)):
        with open_slide(path) as slide:
            t0 = time.perf_counter()
            thumbs = [np.asarray(slide.thumbnail(m)) for m in thumbnails]
            t1 = time.perf_counter()
            # Decoded windows are kept only as a bounded in-memory batch for the model timing below.
            batch = np.empty((min(len(windows), batch_size), window_px, window_px, 3), np.uint8)
            px = 0
            for i, (x, y, w, h, m) in enumerate(windows):
                a = np.asarray(slide.read_region(x, y, w, h, m))
                px += a.shape[0] * a.shape[1]
                if i < len(batch):
                    batch[i] = _fit(a, window_px)
            t2 = time.perf_counter()
        best["thumb"] = min(best["thumb"], t1 - t0)
        best["win"] = min(best["win"], t2 - t1)
        mpix = (sum(t.shape[0] * t.shape[1] for t in thumbs) + px) / 1e6
        t0 = time.perf_counter()
        for t in thumbs:
            stage1.predict(pad_white(t, MIN_SIDE))
        t1 = time.perf_counter()
        # As many windows as the models graded, through the same batch size, from memory.
        n = len(windows) if graded is None else min(graded, len(windows))
        done = 0
        while done < n and len(batch):
            k = min(batch_size, n - done)
            stage2.predict(batch[:k])  # k <= len(batch): the batch holds min(n, batch_size) windows
            done += k
        t2 = time.perf_counter()
        best["s1"] = min(best["s1"], t1 - t0)
        best["s2"] = min(best["s2"], t2 - t1)
    return FloorRecord(
        n_windows=len(windows),
        n_graded=graded,
        window_px=window_px,
        decode_thumbnail_s=float(best["thumb"]),
        decode_windows_s=float(best["win"]),
        stage1_infer_s=float(best["s1"]),
        stage2_infer_s=float(best["s2"]),
        mpix_decoded=mpix,
    )
