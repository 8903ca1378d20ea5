"""Small files whose headers lie: helpers for the memory-ceiling tests (classic little-endian TIFF only)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import tifffile

_SIZES = {3: 2, 4: 4}  # SHORT, LONG


def patch_tags(path: Path, values: dict[int, int]) -> None:
    """Overwrite single-valued SHORT/LONG tags of the first IFD in place (the file keeps its size)."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\x00", "classic little-endian TIFF expected"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    done = set()
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag, typ, count = struct.unpack_from("<HHI", data, at)
        if tag in values:
            assert count == 1 and typ in _SIZES, (tag, typ, count)
            struct.pack_into("<H" if typ == 3 else "<I", data, at + 8, values[tag])
            done.add(tag)
    assert done == set(values), f"tags not found: {set(values) - done}"
    path.write_bytes(bytes(data))


def small_tiff(path: Path, *, tiled: bool, compression: str) -> Path:
    img = np.full((64, 64, 3), 200, np.uint8)
    kw = {"tile": (64, 64)} if tiled else {"rowsperstrip": 64}
    tifffile.imwrite(path, img, photometric="rgb", compression=compression, metadata=None, **kw)
    return path


def single_strip_bomb(path: Path, side: int = 30_000) -> Path:
    """A 64 px JPEG single-strip TIFF whose header says ``side`` px square (one strip of it all)."""
    small_tiff(path, tiled=False, compression="jpeg")
    patch_tags(path, {256: side, 257: side, 278: side})
    return path


def deflate_tile_bomb(path: Path, side: int = 60_000) -> Path:
    """A deflate-tiled TIFF whose one tile the header says is ``side`` px square (about 11 GB decoded)."""
    small_tiff(path, tiled=True, compression="zlib")
    patch_tags(path, {256: side, 257: side, 322: side, 323: side})
    return path
