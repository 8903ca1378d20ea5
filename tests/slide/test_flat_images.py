"""Flat PNG/JPEG (a camera field) through the Pillow backend: mpp from the caller, alpha on white."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from zoomgrade.errors import MissingMppError, SlideError
from zoomgrade.slide import open_slide


def test_png_with_alpha(tmp_path):
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:30, :, 3] = 255  # top half opaque red, bottom half transparent
    p = tmp_path / "field.data"  # extension says nothing: the content decides
    Image.fromarray(rgba, "RGBA").save(p, format="PNG")
    with pytest.raises(MissingMppError):
        open_slide(p)
    with open_slide(p, mpp=0.5) as s:
        assert (s.backend_name, s.vendor, s.dimensions, s.mpp_source) == ("pillow", "png", (80, 60), "caller")
        a = s.read_region(0, 0, 80, 60, 0.5)
        assert a[:30].tolist() == [[[200, 0, 0]] * 80] * 30 and (a[30:] == 255).all()
        assert s.read_region(40, 20, 80, 20, 1.0).shape == (10, 40, 3)


def test_jpeg_reads_like_pillow(tmp_path):
    rng = np.random.default_rng(1_000_005)
    img = rng.integers(0, 256, (100, 120, 3), np.uint8)
    p = tmp_path / "field.jpg"
    Image.fromarray(img).save(p, quality=90)
    with open_slide(p, mpp=0.25) as s:
        assert s.backend_name == "pillow"
        assert np.array_equal(s.read_region(0, 0, 120, 100, 0.25), np.asarray(Image.open(p).convert("RGB")))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_cut_flat_image_is_refused_at_open(tmp_path, fmt):
    # A JPEG's header opens whatever follows it; its data was found cut only when the grade first read it
    rng = np.random.default_rng(1_000_006)
    whole = tmp_path / "whole.img"
    Image.fromarray(rng.integers(0, 256, (200, 240, 3), np.uint8)).save(whole, format=fmt)
    p = tmp_path / "cut.img"
    p.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    with pytest.raises(SlideError) as info:
        open_slide(p, mpp=0.5)
    assert "Pillow cannot read it" in str(info.value) and "runcated" in str(info.value)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # a real 8 x 8 PNG whose header claims 30000 x 30000 px: refused from the header, nothing decoded
    p = tmp_path / "bomb.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    data = bytearray(p.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", 30000, 30000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    p.write_bytes(bytes(data))
    with pytest.raises(SlideError, match=r"bomb.png: cannot open as a slide \(pillow: image too large"):
        open_slide(p, mpp=0.5)
