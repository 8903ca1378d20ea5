"""TIFF variants read by the tifffile backend: OME-TIFF pyramid (SubIFDs, OME physical size), generic
tiled TIFF with resolution in inches, RGBA and greyscale samples."""

from __future__ import annotations

import numpy as np
import openslide
import pytest
import tifffile

from zoomgrade.slide import open_slide


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(1_000_006)
    return rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)


def test_ome_tiff_pyramid(tmp_path, image):
    p = tmp_path / "field.ome.tif"
    half = image[::2, ::2]
    with tifffile.TiffWriter(p, bigtiff=True) as tw:
        tw.write(
            image,
            tile=(128, 128),
            compression="zlib",
            subifds=1,
            photometric="rgb",
            metadata={
                "axes": "YXS",
                "PhysicalSizeX": 0.325,
                "PhysicalSizeY": 0.325,
                "PhysicalSizeXUnit": "µm",
                "PhysicalSizeYUnit": "µm",
            },
        )
        tw.write(half, tile=(128, 128), compression="zlib", subfiletype=1, photometric="rgb")
    with open_slide(p) as s:
        assert (s.backend_name, s.vendor, s.mpp_source) == ("tifffile", "ome-tiff", "file")
        assert s.mpp == pytest.approx(0.325)
        assert [(lv.width, lv.height, lv.downsample) for lv in s.levels] == [(420, 300, 1.0), (210, 150, 2.0)]
        assert np.array_equal(s.read_region(0, 0, 420, 300, 0.325), image)
        assert np.array_equal(s.read_region(0, 0, 420, 300, 0.65), half)  # level 1, not averaged level 0
        assert np.array_equal(s.read_region(50, 60, 200, 100, 0.325), image[60:160, 50:250])


def test_generic_tiff_inch_resolution_rgba(tmp_path, image):
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    rgba[:10, :, 3] = 0  # transparent strip -> white
    p = tmp_path / "generic.tif"
    dpi = 25400 / 0.5  # 0.5 um/px
    tifffile.imwrite(
        p,
        rgba,
        tile=(64, 64),
        compression="zlib",
        photometric="rgb",
        extrasamples=[2],
        resolution=(dpi, dpi),
        resolutionunit="INCH",
        metadata=None,
    )
    with open_slide(p) as s:
        assert (s.backend_name, s.vendor, s.mpp, s.mpp_source) == (
            "tifffile",
            "generic-tiff",
            pytest.approx(0.5),
            "file",
        )
        a = s.read_region(0, 0, 420, 300, 0.5)
        assert (a[:10] == 255).all() and np.array_equal(a[10:], image[10:])
        if openslide.OpenSlide.detect_format(str(p)) == "generic-tiff":  # OpenSlide agrees, pixel for pixel
            o = np.asarray(openslide.OpenSlide(str(p)).read_region((0, 0), 0, (420, 300))).astype(np.uint16)
            ref = (o[..., :3] * o[..., 3:] + 255 * (255 - o[..., 3:]) + 127) // 255
            assert np.array_equal(a[10:], ref[10:].astype(np.uint8))


def test_greyscale_strips(tmp_path, image):
    grey = image[..., 1].copy()
    p = tmp_path / "grey.tif"
    tifffile.imwrite(p, grey, rowsperstrip=37, compression="zlib", metadata=None)
    with open_slide(p, mpp=1.0) as s:
        assert s.vendor == "flat-tiff"
        a = s.read_region(30, 20, 200, 100, 1.0)
        assert np.array_equal(a, np.repeat(grey[20:120, 30:230, None], 3, axis=2))
