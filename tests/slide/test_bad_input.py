"""Every bad input gives one SlideError line "<path>: <cause>"; nothing else escapes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from refusals import refusal

from zoomgrade.errors import SlideError
from zoomgrade.slide import open_slide
from zoomgrade.slide import slide as slide_mod


def test_missing_file(tmp_path):
    assert "no such file" in refusal(tmp_path / "nope.svs")


def test_text_renamed_svs(tmp_path):
    p = tmp_path / "notes.svs"
    p.write_text("patient list\nnot a slide\n")
    msg = refusal(p)
    assert "not a slide" in msg and "tried tifffile, openslide, pillow" in msg


def test_truncated_real_svs(tmp_path, real):
    data = (real / "CMU-1-small-region.svs").read_bytes()
    p = tmp_path / "half.svs"
    p.write_bytes(data[: len(data) // 2])
    assert "truncated" in refusal(p)


def test_truncated_real_dicom(tmp_path, real):
    # OpenSlide opens a cut DICOM (its frames are read lazily) and failed only at the first read past the cut
    data = (real / "camelyon-lowres.dcm").read_bytes()
    p = tmp_path / "cut.dcm"
    p.write_bytes(data[: int(len(data) * 0.9)])
    msg = refusal(p)
    assert "cannot read the last tile of level 0" in msg and "end of filehandle" in msg


def test_truncated_tile_data(tmp_path, pyramid):
    # every directory intact, the last level's tile data cut: refused at open, not by a decoder crash later
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:
        last = tif.pages[-1]
        assert last.offset < min(last.dataoffsets)  # its directory comes before its data
        cut = min(last.dataoffsets) + 100
    p = tmp_path / "cut.svs"
    p.write_bytes(path.read_bytes()[:cut])
    for backend in ("tifffile", None):  # probing must not fall back to OpenSlide's lazy open
        msg = refusal(p, backend=backend)
        assert "truncated file" in msg and f"the file has {cut:,}" in msg


@pytest.mark.parametrize(
    ("tag", "said"),
    [
        (324, "the index of its 128x128 tiles alone takes at least 98,304 bytes"),  # inside TileOffsets
        (325, "its tiles start as far as byte"),  # inside TileByteCounts, every offset read
    ],
)
def test_cut_inside_the_tile_index(tmp_path, tag, said):
    # A file cut inside its tile index (a copy stopped early: a 20 x 20 mm scan's index alone is 1.2 MB):
    # tifffile drops the index it cannot read, and the line must still say what happened.
    p = tmp_path / "many.tif"
    pixels = np.zeros((2048, 2048, 3), np.uint8)
    tifffile.imwrite(p, pixels, tile=(16, 16), compression="zlib", photometric="rgb", bigtiff=True)
    with tifffile.TiffFile(p) as tif:
        page = tif.pages[0]
        assert len(page.dataoffsets) == 128 * 128 and page.tags[324].valueoffset < page.tags[325].valueoffset
        assert page.tags[325].valueoffset < min(page.dataoffsets)  # the index before the tiles
        cut = page.tags[tag].valueoffset + 1000
    cut_file = tmp_path / "cut.tif"
    cut_file.write_bytes(p.read_bytes()[:cut])
    for backend in ("tifffile", None):
        msg = refusal(cut_file, backend=backend)
        assert "truncated file" in msg and said in msg and f"the file has {cut:,}" in msg


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.svs"
    p.write_bytes(b"")
    assert "empty file" in refusal(p)


def test_directory(tmp_path):
    assert "is a directory" in refusal(tmp_path)


def test_unreadable_file(real):
    # a world-traversable folder, so that an unprivileged user (below) reaches the file itself
    folder = Path(tempfile.mkdtemp(prefix="zoomgrade-locked-"))
    folder.chmod(0o755)
    p = folder / "locked.svs"
    p.write_bytes((real / "tiny-16px.svs").read_bytes())
    p.chmod(0)
    try:
        if not os.access(p, os.R_OK):
            assert "permission denied" in refusal(p)
            return
        # root reads anything: check the same path as an unprivileged user instead, where possible
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or setpriv is None:
            pytest.skip("chmod 000 does not stop reads here and no way to drop privileges")
        code = f"from zoomgrade.slide import open_slide\nopen_slide({str(p)!r})"
        r = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
        )
        if "SlideError" not in r.stderr:
            pytest.skip(f"the unprivileged user cannot run this environment: {r.stderr.strip()[-200:]}")
        assert r.returncode != 0
        assert r.stderr.splitlines()[-1].endswith(f"SlideError: {p}: permission denied (file is not readable)")
    finally:
        shutil.rmtree(folder)


def test_unknown_backend_and_wrong_forced_backend(real):
    assert "unknown backend 'vips'" in refusal(real / "tiny-16px.svs", backend="vips")
    assert "pillow:" in refusal(real / "fluorescence-DAPI.ndpi", backend="pillow")


def test_bad_caller_mpp(real):
    assert "mpp must be a positive number" in refusal(real / "tiny-16px.svs", mpp=-1.0)


def test_damaged_tile_fails_at_read_with_one_line(tmp_path, pyramid):
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:
        off = int(tif.pages[0].dataoffsets[0])
    data = bytearray(path.read_bytes())
    data[off : off + 64] = b"\x00" * 64  # no JPEG SOI marker any more
    p = tmp_path / "damaged.svs"
    p.write_bytes(bytes(data))
    with open_slide(p, backend="tifffile") as s:
        assert s.read_region(600, 600, 100, 100, 0.25).shape == (100, 100, 3)  # other tiles still read
        with pytest.raises(SlideError) as info:
            s.read_region(0, 0, 100, 100, 0.25)
    msg = str(info.value)
    assert msg.startswith(f"{p}: read failed at level 0") and "\n" not in msg


def test_damaged_tile_in_a_threaded_band_fails_with_one_line(tmp_path, pyramid, monkeypatch):
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:
        off = int(tif.pages[0].dataoffsets[0])
    data = bytearray(path.read_bytes())
    data[off : off + 64] = b"\x00" * 64
    p = tmp_path / "damaged.svs"
    p.write_bytes(bytes(data))
    monkeypatch.setattr(slide_mod, "_BAND_PIXELS", 100_000)  # many bands over two threads
    with open_slide(p, backend="tifffile") as s:
        reads = []
        read_level = s._b.read_level

        def counted(*args):
            reads.append(args)
            time.sleep(0.1)  # each band read takes a while, so the first failure is answered before the next
            return read_level(*args)

        monkeypatch.setattr(s._b, "read_level", counted)
        with pytest.raises(SlideError) as info:
            s.read_region(0, 0, 1200, 1000, 0.5, workers=2)
    msg = str(info.value)
    assert msg.startswith(f"{p}: read failed at level 0") and "\n" not in msg
    # the damaged tile is in the first band: the queued bands are not read after it failed
    bands = slide_mod.band_rows(500, 0, 1000, 1200, s._b.segment_rows(0), 2, 100_000)
    assert len(bands) == 25 and len(reads) <= 6  # before: all 25


def test_what_tifffile_says_of_a_damaged_file_is_in_the_one_line(tmp_path, real, capsys):
    """tifffile logs what it finds wrong (some at ERROR, on a file it still parses): not printed, but told with
    the error it leads to. Cut inside the first directory's tag values, and before the directory."""
    data = (real / "CMU-1-small-region.svs").read_bytes()
    with tifffile.TiffFile(real / "CMU-1-small-region.svs") as tif:
        tags = tif.pages[0].tags.values()
        ifd = tif.pages[0].offset
        end = ifd + 2 + 12 * len(tags) + 4  # the directory's entries: values beyond it are pointed at
        values = sorted(t.valueoffset for t in tags if t.valueoffset >= end)
    for cut in (values[0] + 8, ifd - 100):
        p = tmp_path / f"cut-{cut}.svs"
        p.write_bytes(data[:cut])
        msg = refusal(p)
        assert "tifffile reported: " in msg, msg
        assert capsys.readouterr().err == ""
