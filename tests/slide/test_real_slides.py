"""Real scanner files: what each reads as (vs /work/shared/data/real-slides/README.md) and pixel identity
of the tifffile backend with OpenSlide's own read_region, alpha-composited on white."""

from __future__ import annotations

import numpy as np
import openslide
import pytest

from zoomgrade.errors import MissingMppError
from zoomgrade.slide import open_slide

# file: (backend, vendor, level sizes (first, last), n levels, mpp, objective, associated)
EXPECTED = {
    "CMU-1-small-region.svs": ("tifffile", "aperio", [(2220, 2967)], 1, 0.499, 20, ["label", "macro", "thumbnail"]),
    "fluorescence-DAPI.ndpi": ("openslide", "hamamatsu", [(3968, 4864), (62, 76)], 7, 0.2281, 40, ["macro"]),
    "camelyon-lowres.dcm": ("openslide", "dicom", [(1152, 700)], 1, 28.97, None, []),
    "boxes-generic.tiff": ("tifffile", "generic-tiff", [(300, 250), (37, 31)], 4, None, None, []),
    "tiny-16px.svs": ("tifffile", "aperio", [(16, 16)], 1, 0.499, 20, ["thumbnail"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_as_the_table_says(real, name):
    backend, vendor, sizes, n_levels, mpp, objective, assoc = EXPECTED[name]
    with open_slide(real / name) as s:
        assert s.backend_name == backend
        assert s.vendor == vendor
        assert len(s.levels) == n_levels
        assert (s.levels[0].width, s.levels[0].height) == sizes[0] == s.dimensions
        assert (s.levels[-1].width, s.levels[-1].height) == sizes[-1]
        assert s.mpp_source == "file"
        if mpp is not None:
            assert s.mpp == pytest.approx(mpp, rel=1e-3)  # the table rounds to 4 digits
        assert s.objective_power == objective
        assert s.associated_images == assoc
        for name_ in assoc:
            img = s.associated_image(name_)
            assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        # level metadata agrees with OpenSlide's own
        osr = openslide.OpenSlide(str(real / name))
        assert [(lv.width, lv.height) for lv in s.levels] == list(osr.level_dimensions)
        assert [lv.downsample for lv in s.levels] == pytest.approx(list(osr.level_downsamples))
        assert [lv.mpp for lv in s.levels] == pytest.approx([s.mpp * d for d in osr.level_downsamples])


def test_flat_tiff_needs_mpp(real):
    with pytest.raises(MissingMppError, match=r"kidney-flat\.tif: .*--mpp"):
        open_slide(real / "kidney-flat.tif")
    with open_slide(real / "kidney-flat.tif", mpp=0.5) as s:
        assert (s.backend_name, s.vendor, s.dimensions, s.mpp_source) == (
            "tifffile",
            "flat-tiff",
            (1493, 901),
            "caller",
        )
        a = s.read_region(100, 200, 300, 100, 0.5)
        assert a.shape == (100, 300, 3) and a.std() > 5  # real tissue, not a blank


def _openslide_rgb(osr, li, x, y, w, h):
    ds = osr.level_downsamples[li]
    rgba = np.asarray(osr.read_region((int(round(x * ds)), int(round(y * ds))), li, (w, h))).astype(np.uint16)
    a = rgba[..., 3:]
    return ((rgba[..., :3] * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["CMU-1-small-region.svs", "boxes-generic.tiff", "tiny-16px.svs"])
def test_tifffile_pixels_equal_openslide(real, name):
    osr = openslide.OpenSlide(str(real / name))
    rng = np.random.default_rng(1_000_002)
    with open_slide(real / name, backend="tifffile") as s:
        for li, lv in enumerate(s.levels):
            # whole level plus a margin (white outside), then random regions, some crossing the edges
            boxes = [(0, 0, lv.width + 7, lv.height + 5)]
            # OpenSlide takes level-0 corners; with a non-integral downsample (boxes: 4.016) it paints
            # level pixels at a sub-pixel offset (interpolated), so only the origin lines up exactly there
            n_random = 6 if float(lv.downsample).is_integer() else 0
            for _ in range(n_random):
                w, h = int(rng.integers(1, 600)), int(rng.integers(1, 600))
                boxes.append((int(rng.integers(-50, lv.width)), int(rng.integers(-50, lv.height)), w, h))
            for x, y, w, h in boxes:
                ref = _openslide_rgb(osr, li, x, y, w, h)
                got = s.read_region(x * lv.downsample, y * lv.downsample, w * lv.downsample, h * lv.downsample, lv.mpp)
                assert got.shape == ref.shape
                assert np.array_equal(got, ref), (name, li, x, y, w, h)


def test_openslide_backend_reads_ndpi_levels(real):
    osr = openslide.OpenSlide(str(real / "fluorescence-DAPI.ndpi"))
    with open_slide(real / "fluorescence-DAPI.ndpi") as s:
        lv = s.levels[2]
        got = s.read_region(400 * 4, 300 * 4, 256 * 4, 200 * 4, lv.mpp)
        assert np.array_equal(got, _openslide_rgb(osr, 2, 400, 300, 256, 200))
        # 8 um/px reads level 5 (7.3 um/px), the coarsest at least as fine
        assert s.best_level(8.0) == 5


def test_forced_backends_agree_on_svs(real):
    with (
        open_slide(real / "CMU-1-small-region.svs", backend="openslide") as a,
        open_slide(real / "CMU-1-small-region.svs", backend="tifffile") as b,
    ):
        assert a.backend_name == "openslide" and b.backend_name == "tifffile"
        assert a.mpp == b.mpp and a.objective_power == b.objective_power
        assert np.array_equal(a.read_region(500, 700, 900, 600, 2.0), b.read_region(500, 700, 900, 600, 2.0))
        assert np.array_equal(a.associated_image("label"), b.associated_image("label"))
