import numpy as np
import pytest

from zoomgrade.labels import TBSRTC
from zoomgrade.models.regions import maps_to_regions
from zoomgrade.models.runners import Stage1Maps


def _maps():
    g = np.zeros((30, 40), np.float32)
    c = np.zeros((30, 40, 3), np.float32)
    c[..., 0] = 1
    g[2:6, 3:9] = 0.9  # benign block, 24 px
    g[20:25, 10:30] = 0.6  # malignant band, 100 px
    c[20:25, 10:30] = [0.1, 0.2, 0.7]
    g[12, 35] = 0.8  # one pixel
    return Stage1Maps(g, c, g.copy(), 2)


def test_components_become_regions_in_level0_pixels():
    regions = maps_to_regions(_maps(), map_mpp=16.0, slide_mpp=0.25)
    assert len(regions) == 3
    by_area = sorted(regions, key=lambda r: r.area_um2)
    one, benign, malig = by_area
    s = 16.0 / 0.25  # level-0 px per map px
    assert benign.polygon.bounds == pytest.approx((3 * s, 2 * s, 9 * s, 6 * s))
    assert benign.polygon.area == pytest.approx(24 * s * s)
    assert benign.coarse_grade == "benign" and malig.coarse_grade == "malignant"
    assert malig.coarse_probs == pytest.approx([0.1, 0.2, 0.7], abs=1e-6)
    assert malig.confidence == pytest.approx(0.7 * 0.6, abs=1e-6)
    assert malig.area_um2 == pytest.approx(100 * 256)
    assert malig.est_cells == round(100 * 256 / 120)
    assert one.polygon.contains(one.polygon.centroid)
    assert [r.id for r in regions] == list(range(3))


def test_thresholds_and_min_area():
    m = _maps()
    assert len(maps_to_regions(m, 16.0, 0.25, group_threshold=0.7)) == 2
    assert len(maps_to_regions(m, 16.0, 0.25, min_area_um2=300)) == 2

    class Cfg:
        group_threshold = 0.95

    assert maps_to_regions(m, 16.0, 0.25, TBSRTC, Cfg()) == []


def test_grade_weighted_by_group_probability():
    g = np.zeros((5, 5), np.float32)
    g[1, 1:3] = [0.9, 0.5]
    c = np.zeros((5, 5, 3), np.float32)
    c[1, 1] = [1, 0, 0]
    c[1, 2] = [0, 0, 1]
    (r,) = maps_to_regions(Stage1Maps(g, c, g, 2), 16.0, 0.5, min_area_um2=0)
    assert r.coarse_probs == pytest.approx([0.9 / 1.4, 0, 0.5 / 1.4], abs=1e-6)


def test_origin_shift_and_mismatched_maps():
    m = _maps()
    r0 = maps_to_regions(m, 16.0, 0.25)[0]
    r1 = maps_to_regions(m, 16.0, 0.25, origin=(100.0, 50.0))[0]
    assert r1.polygon.bounds[0] == pytest.approx(r0.polygon.bounds[0] + 100)
    assert r1.polygon.bounds[1] == pytest.approx(r0.polygon.bounds[1] + 50)
    bad = Stage1Maps(m.group, m.grade[..., :2], m.attention, 2)
    with pytest.raises(ValueError):
        maps_to_regions(bad, 16.0, 0.25)
