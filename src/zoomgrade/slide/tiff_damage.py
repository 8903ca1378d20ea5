"""What the tifffile reader refuses in a TIFF's structure, before any pixel is read: a file cut short (its
directories, its tile index or its tile data past the end) and vendor layouts it does not read.

A copy stopped early is the commonest damaged slide. tifffile parses what it can and drops the rest (a
directory chain that points past the end, an index it cannot read whole), so what it leaves would be
reported as missing tiles or as a wrong image; each check here names the cut instead.
"""

from __future__ import annotations

import struct

import numpy as np
import tifffile


class TruncatedFileError(ValueError):
    """Image data runs past the end of the file: no other reader should be tried either."""


#: Layouts tifffile recognises whose pixels this reader would place or decode wrongly (NDPI's tiles are
#: JPEG restart intervals without a header, SCN and BIF hold several images or overlapping tiles): OpenSlide
#: reads them.
OTHER_LAYOUTS = {
    "is_ndpi": "Hamamatsu NDPI",
    "is_philips": "Philips TIFF",
    "is_scn": "Leica SCN",
    "is_bif": "Ventana BIF",
}


def check_directories(tif: tifffile.TiffFile, file_size: int) -> None:
    """Refuse a file whose last directory tifffile parsed points to a next one past the end of the file."""
    last = tif.pages[-1]
    fmt, fh = tif.tiff, tif.filehandle
    fh.seek(last.offset)
    (n,) = struct.unpack(fmt.tagnoformat, fh.read(fmt.tagnosize))
    fh.seek(last.offset + fmt.tagnosize + n * fmt.tagsize)
    raw = fh.read(fmt.offsetsize)
    nxt = struct.unpack(fmt.offsetformat, raw)[0] if len(raw) == fmt.offsetsize else file_size
    if nxt >= file_size:
        raise TruncatedFileError(
            f"truncated file: image directory {len(tif.pages) + 1} would lie at byte {nxt:,} but the file has "
            f"{file_size:,}"
        )


def refuse_other_layouts(tif: tifffile.TiffFile) -> None:
    for flag, name in OTHER_LAYOUTS.items():
        if getattr(tif, flag, False):
            raise ValueError(f"a {name} file, whose layout the tifffile reader does not read (OpenSlide does)")


def check_segments(
    page: tifffile.TiffPage, offsets: np.ndarray, counts: np.ndarray, grid: tuple[int, int], file_size: int
) -> None:
    """Refuse a level whose tile (or strip) index is missing or cut, or whose data runs past the file's end."""
    cols, rows = grid
    kind = "tile" if page.is_tiled else "strip"
    if len(offsets) < cols * rows or len(counts) < cols * rows:
        # tifffile drops an index it cannot read whole; a file cut inside it is shorter than the index alone
        # (each segment's offset and byte count take at least 4 and 2 bytes): say so, not that it is missing
        need = 6 * cols * rows
        if file_size < need:
            raise TruncatedFileError(
                f"truncated file: the index of its {cols}x{rows} {kind}s alone takes at least {need:,} bytes "
                f"but the file has {file_size:,}"
            )
        if len(offsets) >= cols * rows and int(offsets.max()) >= file_size:  # cut between the two indexes
            raise TruncatedFileError(
                f"truncated file: its {kind}s start as far as byte {int(offsets.max()):,} but the file has {file_size:,}"
            )
        raise ValueError(f"{min(len(offsets), len(counts))} segments for a {cols}x{rows} grid")
    end = int((offsets + counts).max()) if len(offsets) else 0
    if end > file_size:
        raise TruncatedFileError(f"truncated file: image data runs to byte {end:,} but the file has {file_size:,}")
