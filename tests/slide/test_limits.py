"""Class 6 (and the read count of class 4) of issue 24: no header makes the tool allocate past the memory
ceiling; failed reads are counted, never silent."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile_files import deflate_tile_bomb, single_strip_bomb, small_tiff

from zoomgrade.errors import SlideError
from zoomgrade.slide import open_slide
from zoomgrade.slide.limits import DEFAULT_MEMORY_MB, ReadLog, decode_limit, failed_reads_warning


def _refused_cheaply(path: Path, **kw) -> str:
    tracemalloc.start()
    try:
        with pytest.raises(SlideError) as err:
            open_slide(path, mpp=0.5, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"refusing took {peak / 2**20:.0f} MB"
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg and "memory ceiling" in msg
    return msg


@pytest.mark.parametrize("side", [30_000, 12_000, 65_000])
def test_single_strip_jpeg_bomb_is_refused_with_how_to_convert(tmp_path, side):
    msg = _refused_cheaply(single_strip_bomb(tmp_path / "strip.tif", side))
    assert "strip" in msg and ("vips" in msg or "tiffcp" in msg)


@pytest.mark.parametrize("backend", [None, "tifffile"])
def test_deflate_tile_bomb_is_refused_before_decoding(tmp_path, backend):
    msg = _refused_cheaply(deflate_tile_bomb(tmp_path / "tile.tif"), backend=backend)
    assert "tile" in msg


def test_the_ceiling_is_configurable_both_ways(tmp_path):
    path = small_tiff(tmp_path / "ok.tif", tiled=False, compression="jpeg")
    with open_slide(path, mpp=0.5) as s:  # a small strip: read as before
        assert s.read_region(0, 0, 64, 64, 0.5).shape == (64, 64, 3)
    # 1200 px square strip: 4.1 MiB decoded, over the share of a 16 MiB ceiling (4 MiB) but not of 32 MiB
    big = single_strip_bomb(tmp_path / "mid.tif", 1200)
    _refused_cheaply(big, memory_mb=16)
    with open_slide(big, mpp=0.5, memory_mb=32) as s:
        assert s.memory_mb == 32  # accepted at open: the header fits


def _png(path: Path, w: int, h: int) -> Path:
    """A valid RGB PNG of zeros, tiny on disk (deflate of zeros)."""
    raw = zlib.compress(b"".join(b"\x00" + bytes(3 * w) for _ in range(h)), 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


def test_flat_image_over_its_share_is_refused(tmp_path):
    path = _png(tmp_path / "flat.png", 3000, 3000)  # 34 MiB as RGBA
    assert path.stat().st_size < 200_000
    msg = _refused_cheaply(path, memory_mb=64)  # share: 16 MiB
    assert "flat PNG image" in msg
    with open_slide(path, mpp=0.5) as s:  # the default ceiling holds it
        assert s.dimensions == (3000, 3000)


def test_a_read_past_the_ceiling_is_refused_not_allocated(tmp_path):
    path = small_tiff(tmp_path / "s.tif", tiled=True, compression="zlib")
    with open_slide(path, mpp=0.5) as s:
        with pytest.raises(SlideError, match="memory ceiling"):
            s.read_region(0, 0, 64, 64, mpp=1e-5)  # 3.2 million px a side
        assert s.read_log.report().reads == 0  # refused before reading, not a failed read


def test_failed_reads_are_counted_and_too_many_refuse(tmp_path):
    path = small_tiff(tmp_path / "d.tif", tiled=True, compression="jpeg")
    data = bytearray(path.read_bytes())
    at = data.find(b"\xff\xd8")  # the tile's JPEG stream: break it
    data[at : at + 8] = b"\x13\x37" * 4
    path.write_bytes(bytes(data))
    with open_slide(path, mpp=0.5) as s:
        for _ in range(3):
            with pytest.raises(SlideError, match="read failed"):
                s.read_region(0, 0, 64, 64, 0.5)
        s.read_region(200, 200, 10, 10, 0.5)  # outside the image: white, nothing decoded
        rep = s.read_log.report()
    assert (rep.reads, rep.failed) == (4, 3) and "read failed" in rep.first_error
    with pytest.raises(SlideError, match="3 of 4 reads failed"):
        failed_reads_warning(rep, 0.5, str(path))
    assert "3 of 4 reads failed" in failed_reads_warning(rep, 0.8, str(path))


def test_read_log_is_thread_safe_and_default_ceiling():
    import threading

    log = ReadLog()
    threads = [threading.Thread(target=lambda: [log.ok() for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.failed("x")
    assert log.report().reads == 4001 and log.report().failed == 1
    assert failed_reads_warning(ReadLog().report(), 0.0, "p") is None
    assert decode_limit(DEFAULT_MEMORY_MB) == 512 * 2**20
    assert np.iinfo(np.int64).max > 65_000**2 * 3
