"""TIFF-based slides (Aperio SVS, generic tiled TIFF, OME-TIFF, flat TIFF) read with tifffile + imagecodecs.

Only the tiles (or strips) a region touches are read, with ``os.pread`` on one file descriptor (no shared
file position, so reads are thread-safe) and decoded here, which is about twice as fast as going through
OpenSlide and gives the same pixels: JPEG tiles are decoded by libjpeg-turbo with the same colour handling
libtiff/OpenSlide use (see ``_jpeg_colorspace``). Decoded compressed segments are kept in a bounded LRU
cache (``segment_cache``), so windows smaller than a tile, or overlapping ones, decode each tile once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import imagecodecs
import numpy as np
import tifffile

from ..errors import SlideError
from . import readahead
from .base import SlideBackend, openslide_downsamples, to_rgb, white
from .limits import DEFAULT_MEMORY_MB, ImageTooLargeError, check_decoded_size, decode_limit
from .segment_cache import DEFAULT_CACHE_BYTES, SegmentCache
from .tiff_damage import TruncatedFileError, check_directories, check_segments, refuse_other_layouts
from .tiff_metadata import float_or_none, parse_aperio, parse_ome, resolution_mpp
from .tifffile_log import first_said, quiet_tifffile

_JPEG = 7
_NONE = 1
_RGB = 2
#: A read touching more segments than this is a bulk read (a thumbnail, a band of one): it keeps only its
#: last row of segments in the cache, the row the next band of the same read shares. Whole-level scans
#: would otherwise flush the tiles that small high-power windows share, and swell the memory peak of the
#: low-power pass for nothing.
_BULK_SEGMENTS = 16


@dataclass
class _LevelIndex:
    """Where each segment (tile or strip) of one level lies in the file and how to decode it."""

    width: int
    height: int
    seg_w: int
    seg_h: int
    cols: int
    samples: int
    offsets: np.ndarray
    counts: np.ndarray
    compression: int
    photometric: int
    jpegtables: bytes | None
    decode: Callable[..., Any]  # tifffile's page.decode, for everything that is not JPEG


def _jpeg_colorspace(data: bytes, photometric: int) -> str | None:
    """Aperio writes JPEG tiles whose components are already RGB, with TIFF Photometric=RGB and no JFIF or
    Adobe APP14 marker: libjpeg would guess YCbCr and shift the colours. Like libtiff (which OpenSlide uses),
    trust Photometric=RGB unless an APP14 marker states the transform itself; YCbCr is libjpeg's default."""
    if photometric == _RGB and b"\xff\xeeAdobe" not in data[:4096]:
        return "RGB"
    return None


def _check_segment(page: tifffile.TiffPage, seg_w: int, seg_h: int, samples: int, memory_mb: int) -> None:
    """A compressed segment is decoded whole: its decoded size (from the header) must fit both its share of
    the memory ceiling and the decoded-segment cache; a bigger one could not be kept and would be decoded
    again for every band and window that touches it (a 30,000 px square single-strip JPEG took 168 s and
    3.1 GB). Refused before any byte of it is decoded."""
    if int(page.compression) == _NONE:
        return  # read row by row, never decoded whole
    limit = min(decode_limit(memory_mb), DEFAULT_CACHE_BYTES)
    kind = "tile" if page.is_tiled else "strip"
    check_decoded_size(f"one compressed {kind}", seg_w, seg_h, samples, limit, memory_mb)


def _index(page: tifffile.TiffPage, file_size: int, memory_mb: int = DEFAULT_MEMORY_MB) -> _LevelIndex:
    if page.dtype != np.uint8:
        raise ValueError(f"pixel type {page.dtype} (only 8-bit images are read)")
    samples = int(page.samplesperpixel)
    if samples > 1 and int(page.planarconfig) != 1:
        raise ValueError("separate colour planes (PlanarConfiguration=2) are not supported")
    if page.imagedepth > 1:
        raise ValueError("3-D (tiled depth) images are not supported")
    h, w = int(page.imagelength), int(page.imagewidth)
    if page.is_tiled:
        seg_w, seg_h = int(page.tilewidth), int(page.tilelength)
    else:
        seg_w, seg_h = w, min(int(page.rowsperstrip or h), h)
    _check_segment(page, seg_w, seg_h, samples, memory_mb)
    offsets = np.asarray(page.dataoffsets, dtype=np.int64)
    counts = np.asarray(page.databytecounts, dtype=np.int64)
    cols, rows = -(-w // seg_w), -(-h // seg_h)
    check_segments(page, offsets, counts, (cols, rows), file_size)
    return _LevelIndex(
        w,
        h,
        seg_w,
        seg_h,
        cols,
        samples,
        offsets,
        counts,
        int(page.compression),
        int(page.photometric),
        page.jpegtables,
        page.decode,
    )


class TifffileBackend(SlideBackend):
    name = "tifffile"
    cache: SegmentCache  # always present here (the base class allows none)
    _fd: int | None = None

    def __init__(self, path: str, cache_bytes: int = DEFAULT_CACHE_BYTES, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        super().__init__(path, cache_bytes, memory_mb)
        self.cache = SegmentCache(cache_bytes)
        with quiet_tifffile() as said:  # what tifffile finds wrong is told with the error it leads to
            try:
                self._tif = tifffile.TiffFile(path)
                try:
                    self._setup()
                    self._fd = os.open(path, os.O_RDONLY)
                except BaseException:
                    self._tif.close()
                    raise
            except TruncatedFileError as err:
                raise TruncatedFileError(f"{err}{first_said(said)}") from None
            except ValueError as err:
                if not said or isinstance(err, ImageTooLargeError):
                    raise
                raise ValueError(f"{err}{first_said(said)}") from err  # one line: open_backend joins its whitespace

    def _setup(self) -> None:
        tif = self._tif  # parsed lazily here too: still within __init__'s quiet_tifffile
        if not tif.pages or not tif.series:
            raise TruncatedFileError("truncated or damaged TIFF: no readable image directory")
        size = os.path.getsize(self.path)
        check_directories(tif, size)
        refuse_other_layouts(tif)
        self._assoc: dict[str, Any] = {}
        pages = self._svs_pages() if tif.is_svs else [lv.keyframe for lv in tif.series[0].levels]
        self._levels = [_index(p, size, self.memory_mb) for p in pages]
        self.level_dimensions = [(lv.width, lv.height) for lv in self._levels]
        self.level_downsamples = openslide_downsamples(self.level_dimensions)
        page0 = pages[0]
        if tif.is_svs:
            self.vendor = "aperio"
            self.properties = parse_aperio(page0.description)
            mpp = float_or_none(self.properties.get("aperio.MPP"))
            self.mpp_xy = (mpp, mpp) if mpp else None
            self.objective_power = float_or_none(self.properties.get("aperio.AppMag"))
        elif tif.is_ome and tif.ome_metadata:
            self.vendor = "ome-tiff"
            self.properties, self.mpp_xy, self.objective_power = parse_ome(tif.ome_metadata)
        else:
            self.vendor = "generic-tiff" if page0.is_tiled else "flat-tiff"
            self.mpp_xy = resolution_mpp(page0)
        for key, tag in (("tiff.ImageDescription", "ImageDescription"), ("tiff.Software", "Software")):
            t = page0.tags.get(tag)
            if t is not None and isinstance(t.value, str):
                self.properties[key] = t.value
        self.associated_names = sorted(self._assoc)

    def _svs_pages(self) -> list[tifffile.TiffPage]:
        """Aperio layout, as OpenSlide reads it: every tiled directory is a pyramid level; of the
        untiled ones the second directory is the thumbnail, and 'label'/'macro' are named in their
        ImageDescription."""
        levels = []
        for i, page in enumerate(self._tif.pages):
            if not isinstance(page, tifffile.TiffPage):
                continue  # a TiffFrame only appears when frames are asked for, which this reader never does
            if page.is_tiled:
                levels.append(page)
                continue
            desc = (page.description or "").lower()
            name = "thumbnail" if i == 1 else "label" if "label" in desc else "macro" if "macro" in desc else None
            if name:
                self._assoc[name] = page
        return sorted(levels, key=lambda p: -int(p.imagewidth))

    def _open_fd(self) -> int:
        if self._fd is None:
            raise SlideError(self.path, "the slide is closed")
        return self._fd

    def _segment(
        self, level: int, lv: _LevelIndex, index: int, row0: int, row1: int, keep: bool = True
    ) -> np.ndarray | None:
        """Rows [row0, row1) of segment ``index`` as (rows, seg_w, samples) uint8; None if it is empty."""
        off, count = int(lv.offsets[index]), int(lv.counts[index])
        if count <= 0 or off <= 0:
            return None  # sparse TIFF: never-written tile
        if lv.compression == _NONE:
            # uncompressed: read only the needed rows (a flat TIFF may be one strip of the whole image);
            # nothing to decode, so nothing worth caching beyond the OS page cache
            stride = lv.seg_w * lv.samples
            data = os.pread(self._open_fd(), (row1 - row0) * stride, off + row0 * stride)
            rows = len(data) // stride
            return np.frombuffer(data[: rows * stride], np.uint8).reshape(rows, lv.seg_w, lv.samples)
        seg = self.cache.get_or_decode((level, index), lambda: self._decode(lv, index, off, count), keep)
        return None if seg is None else seg[row0:row1]

    def _decode(self, lv: _LevelIndex, index: int, off: int, count: int) -> np.ndarray:
        """The whole compressed segment ``index``, decoded, as (seg_h, seg_w, samples) uint8."""
        data = os.pread(self._open_fd(), count, off)
        if lv.compression == _JPEG:
            seg = imagecodecs.jpeg8_decode(
                data, tables=lv.jpegtables, colorspace=_jpeg_colorspace(data, lv.photometric)
            )
        else:
            seg = lv.decode(data, index, jpegtables=lv.jpegtables)[0][0]
        return seg[..., None] if seg.ndim == 2 else seg

    def segment_rows(self, level: int) -> int:
        lv = self._levels[level]
        return 0 if lv.compression == _NONE else lv.seg_h  # uncompressed rows are read as needed, not decoded

    def read_level(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        lv = self._levels[level]
        out = white(h, w)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, lv.width), min(y + h, lv.height)
        if x1 <= x0 or y1 <= y0:
            return out
        r0, r1 = y0 // lv.seg_h, (y1 - 1) // lv.seg_h + 1
        c0, c1 = x0 // lv.seg_w, (x1 - 1) // lv.seg_w + 1
        bulk = (r1 - r0) * (c1 - c0) > _BULK_SEGMENTS
        for r in range(r0, r1):
            ty = r * lv.seg_h
            iy0, iy1 = max(y0, ty), min(y1, ty + lv.seg_h)
            keep = not bulk or r == r1 - 1
            for c in range(c0, c1):
                tx = c * lv.seg_w
                seg = self._segment(level, lv, r * lv.cols + c, iy0 - ty, iy1 - ty, keep)
                if seg is None:
                    continue
                ix0, ix1 = max(x0, tx), min(x1, tx + seg.shape[1])
                part = seg[: iy1 - iy0, ix0 - tx : ix1 - tx]
                out[iy0 - y : iy0 - y + part.shape[0], ix0 - x : ix1 - x] = to_rgb(part)
        return out

    def will_need(self, level: int, boxes: Iterable[tuple[int, int, int, int]]) -> int:
        """Hint the compressed bytes of the segments under ``boxes`` (see ``slide.readahead``)."""
        fd = self._fd
        if fd is None or not readahead.HAVE_FADVISE:
            return 0
        lv = self._levels[level]
        idx = readahead.segment_indices(boxes, lv.width, lv.height, lv.seg_w, lv.seg_h, lv.cols)
        return readahead.advise(fd, readahead.byte_ranges(lv.offsets, lv.counts, idx))

    def associated_image(self, name: str) -> np.ndarray:
        if name not in self._assoc:
            raise KeyError(name)
        page = self._assoc[name]
        check_decoded_size(
            f"associated image {name!r}",
            int(page.imagewidth),
            int(page.imagelength),
            max(int(page.samplesperpixel), 3),
            decode_limit(self.memory_mb),
            self.memory_mb,
            hint="",
        )
        return to_rgb(page.asarray())

    def close(self) -> None:
        if self.cache is not None:
            self.cache.clear()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self._tif.close()
