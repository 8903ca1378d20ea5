"""read_region by mpp on a generated 3-level pyramid: level choice, area averaging, edges, bands, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openslide
import pytest

from zoomgrade.slide import open_slide
from zoomgrade.slide import slide as slide_mod
from zoomgrade.slide.resample import area_resize


@pytest.fixture
def pyr(pyramid):
    path, levels = pyramid
    with open_slide(path) as s:
        yield s, levels, path


def test_metadata(pyr):
    s, _levels, _ = pyr
    assert (s.backend_name, s.vendor, s.mpp, s.mpp_source, s.objective_power) == (
        "tifffile",
        "aperio",
        0.25,
        "file",
        40,
    )
    assert [(lv.width, lv.height) for lv in s.levels] == [(1200, 1000), (300, 250), (75, 62)]
    assert [lv.mpp for lv in s.levels] == pytest.approx([0.25, 1.0, 0.25 * (16 + 1000 / 62) / 2])
    info = s.info()
    assert (info.width, info.height, info.mpp, info.backend, info.name) == (1200, 1000, 0.25, "tifffile", "pyr.svs")


@pytest.mark.parametrize(
    ("mpp", "level"), [(0.1, 0), (0.25, 0), (0.5, 0), (0.999, 0), (1.0, 1), (2.0, 1), (3.9, 1), (4.1, 2), (50.0, 2)]
)
def test_best_level_is_coarsest_at_least_as_fine(pyr, mpp, level):
    s, _, _ = pyr
    assert s.best_level(mpp) == level


def test_native_reads_equal_openslide(pyr):
    s, _, path = pyr
    osr = openslide.OpenSlide(str(path))
    got = s.read_region(300, 200, 700, 500, 0.25)
    assert np.array_equal(got, np.asarray(osr.read_region((300, 200), 0, (700, 500)))[..., :3])
    got = s.read_region(400, 200, 512, 512, 1.0)  # level 1 at its native mpp
    assert np.array_equal(got, np.asarray(osr.read_region((400, 200), 1, (128, 128)))[..., :3])


def test_downsampled_read_averages_the_chosen_level(pyr):
    s, _, _ = pyr
    # 2 um/px: reads level 1 (1 um/px) and halves it by area averaging
    lvl1 = s.read_region(0, 0, 1200, 1000, 1.0)
    got = s.read_region(0, 0, 1200, 1000, 2.0)
    assert got.shape == (125, 150, 3)
    assert np.array_equal(got, area_resize(lvl1, 125, 150))
    # 0.6 um/px (non-integral factor from level 0): output size and closeness to level-0 block means
    got = s.read_region(0, 0, 1200, 1000, 0.6)
    assert got.shape == (round(1000 * 0.25 / 0.6), round(1200 * 0.25 / 0.6), 3)
    lvl0 = s.read_region(0, 0, 1200, 1000, 0.25)
    ref = area_resize(lvl0, got.shape[0], got.shape[1])
    assert np.array_equal(got, ref)


def test_downsampled_read_is_anti_aliased(pyr):
    s, _, _ = pyr
    # an area average of level 0 stays close to the level-0 mean colour over big windows; a point
    # sample (no anti-aliasing) of the noisy texture would not be this smooth
    got = s.read_region(0, 0, 1200, 1000, 0.75).astype(float)  # factor 3 from level 0
    lvl0 = s.read_region(0, 0, 1200, 1000, 0.25).astype(float)
    point = lvl0[1::3, 1::3]
    assert got.shape == point.shape
    assert np.abs(np.diff(got, axis=1)).mean() < 0.8 * np.abs(np.diff(point, axis=1)).mean()


def test_out_of_slide_is_white(pyr):
    s, _levels, _ = pyr
    a = s.read_region(-100, -50, 300, 200, 0.25)
    assert a.shape == (200, 300, 3)
    assert (a[:50] == 255).all() and (a[:, :100] == 255).all()
    assert np.array_equal(a[50:, 100:], s.read_region(0, 0, 200, 150, 0.25))
    assert (s.read_region(5000, 5000, 64, 64, 1.0) == 255).all()


def test_output_size_and_tiny_regions(pyr):
    s, _, _ = pyr
    assert s.read_region(10, 10, 1, 1, 8.0).shape == (1, 1, 3)
    assert s.read_region(0, 0, 1000, 333, 0.5).shape == (166, 500, 3)
    with pytest.raises(ValueError):
        s.read_region(0, 0, 0, 10, 1.0)


def test_thumbnail_shapes(pyr):
    s, _, _ = pyr
    assert s.thumbnail(4.0).shape == (62, 75, 3)  # 1000 x 1200 px at 0.25 -> 4 um/px, rounded
    assert s.thumbnail(8.0).shape == (31, 38, 3)
    t = s.thumbnail(max_size=100)
    assert max(t.shape[:2]) == 100 and t.shape[2] == 3


def test_banded_reads_equal_single_reads(pyr, monkeypatch):
    s, _, _ = pyr
    whole_int = s.read_region(0, 0, 1200, 1000, 0.5)
    whole_frac = s.read_region(13, 7, 1100, 950, 0.7)
    monkeypatch.setattr(slide_mod, "_BAND_PIXELS", 20_000)  # force many bands
    assert np.array_equal(s.read_region(0, 0, 1200, 1000, 0.5), whole_int)
    assert np.array_equal(s.read_region(13, 7, 1100, 950, 0.7), whole_frac)


def test_concurrent_reads_match_serial(pyr):
    s, _, _ = pyr
    rng = np.random.default_rng(1_000_003)
    boxes = [
        (int(rng.integers(-100, 1100)), int(rng.integers(-100, 900)), 300, 200, float(m))
        for m in rng.choice([0.25, 0.5, 1.0, 2.3], 40)
    ]
    serial = [s.read_region(*b) for b in boxes]
    with ThreadPoolExecutor(4) as ex:
        threaded = list(ex.map(lambda b: s.read_region(*b), boxes))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def test_caller_mpp_wins_and_estimate(pyramid, real):
    path, _ = pyramid
    with open_slide(path, mpp=0.3) as s:
        assert (s.mpp, s.mpp_source, s.levels[1].mpp) == (0.3, "caller", pytest.approx(1.2))
    # the 16 px SVS with its MPP line removed: estimated from AppMag = 20 -> 0.5 um/px
    data = (real / "tiny-16px.svs").read_bytes()
    assert b"|MPP = 0.4990" in data
    stripped = data.replace(b"|MPP = 0.4990", b"|XXX = 0.4990")
    p = path.parent / "tiny-no-mpp.svs"
    p.write_bytes(stripped)
    with open_slide(p) as s:
        assert (s.mpp, s.mpp_source, s.objective_power) == (0.5, "estimate", 20)


@pytest.mark.parametrize("workers", [2, 3])
def test_threaded_banded_reads_equal_serial(pyr, monkeypatch, workers):
    s, _, _ = pyr
    serial = [s.read_region(0, 0, 1200, 1000, 0.5), s.read_region(13, 7, 1100, 950, 0.7)]
    monkeypatch.setattr(slide_mod, "_BAND_PIXELS", 60_000)  # several bands per worker
    threaded = [
        s.read_region(0, 0, 1200, 1000, 0.5, workers=workers),
        s.read_region(13, 7, 1100, 950, 0.7, workers=workers),
    ]
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def test_threaded_bands_decode_each_tile_once(pyramid, monkeypatch):
    path, _ = pyramid
    # level 0: 1200 px wide, 256 px tiles; bands may hold 300 rows a thread, cut at 256
    monkeypatch.setattr(slide_mod, "_BAND_PIXELS", 2 * 1200 * 300)
    with open_slide(path) as s:
        s.read_region(0, 0, 1200, 1000, 0.5, workers=2)
        st = s.cache_stats()
    assert st is not None and (st.misses, st.hits) == (5 * 4, 0)  # 5 x 4 tiles, each decoded by one band


def test_workers_must_be_positive(pyr):
    s, _, _ = pyr
    with pytest.raises(ValueError, match="workers >= 1"):
        s.thumbnail(8.0, workers=0)
