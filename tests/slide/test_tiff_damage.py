"""A TIFF's structure checked before any pixel: directories past the end, and layouts left to OpenSlide."""

from __future__ import annotations

import tifffile
from refusals import refusal

from zoomgrade.slide import open_slide


def test_a_cut_between_two_directories_is_a_truncated_file(tmp_path, pyramid):
    # the first level whole (its directory, index and tiles), the file stopped where the next directory starts:
    # tifffile parses one level and drops the chain, which read as a one-level slide before
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:
        first, second = tif.pages[0], tif.pages[1]
        assert max(first.dataoffsets) < second.offset
        cut = second.offset
    p = tmp_path / "cut.svs"
    p.write_bytes(path.read_bytes()[:cut])
    for backend in ("tifffile", None):
        msg = refusal(p, backend=backend)
        assert f"truncated file: image directory 2 would lie at byte {cut:,} but the file has {cut:,}" in msg


def test_an_intact_slide_passes(pyramid):
    with open_slide(pyramid[0]) as s:
        assert len(s.levels) == 3


def test_ndpi_is_left_to_openslide(real):
    ndpi = real / "fluorescence-DAPI.ndpi"
    msg = refusal(ndpi, backend="tifffile")  # its tiles are JPEG restart intervals, unreadable as plain tiles
    assert "Hamamatsu NDPI" in msg and "OpenSlide" in msg
    with open_slide(ndpi) as s:
        assert s.backend_name == "openslide"


def test_a_cut_ndpi_that_openslide_no_longer_knows_is_a_truncated_file(tmp_path, real):
    data = (real / "fluorescence-DAPI.ndpi").read_bytes()
    p = tmp_path / "cut.ndpi"
    p.write_bytes(data[: int(len(data) * 0.9)])  # three of its six directories left
    msg = refusal(p)
    assert "truncated file: image directory 4 would lie at byte" in msg
