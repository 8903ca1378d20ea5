"""``Components`` lists a label image's pixels once; what it gives must be what the per-component
construction it replaced gives (``regionprops`` coordinates, one union of row runs per component), to the bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon
from skimage.measure import label, regionprops

from zoomgrade.models.components import Components
from zoomgrade.models.regions import split_components


def _reference_polygon(rp: Any, scale: float, origin: tuple[float, float]) -> Polygon:
    """The per-component outline (one crop, one union, one transform, one simplify per component)."""
    r0, c0, _, _ = rp.bbox
    d = np.diff(np.pad(rp.image.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(d == 1)
    ends = np.nonzero(d == -1)[1]
    shape = shapely.union_all(shapely.box(c0 + starts, r0 + rows, c0 + ends, r0 + rows + 1))
    if shape.geom_type != "Polygon":
        shape = shape.buffer(0.02, join_style="mitre")
    if shape.geom_type != "Polygon":
        shape = max(shape.geoms, key=lambda g: g.area)
    poly = affinity.affine_transform(Polygon(shape.exterior), [scale, 0, 0, scale, origin[0], origin[1]])
    simple = poly.simplify(0.5 * scale, preserve_topology=True)
    if simple.geom_type == "Polygon" and simple.is_valid and simple.area >= 0.9 * poly.area:
        return simple
    return poly


def _busy_map(seed: int) -> np.ndarray:
    """A small stage-1 group map: random blobs and speckle, two groups joined by a valley (split by the
    watershed), a ring (a hole to fill) and pixels touching only at corners."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(0.0, 0.53, (70, 90)).astype(np.float32)
    yy, xx = np.mgrid[:70, :90]

    def blob(cy: float, cx: float, r: float, peak: float) -> None:
        g[:] = np.maximum(g, peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))

    for cy, cx, r, peak in zip(*(rng.uniform(lo, hi, 12) for lo, hi in ((5, 50), (5, 60), (1, 4), (0.6, 1)))):
        blob(cy, cx, r, peak)
    blob(60, 20, 3, 0.99)
    blob(60, 27, 3, 0.99)
    d = np.hypot(yy - 35, xx - 78)
    g[d < 7] = 0.0
    g[(d >= 4) & (d < 6)] = 0.95
    g[62:66, 62:66] = np.eye(4, dtype=np.float32) * 0.8
    return g


def test_coords_and_sizes_are_regionprops():
    for seed in range(3):
        lab = split_components(_busy_map(seed), 0.5, 0.9)
        comps = Components(lab)
        props = regionprops(lab)
        assert len(props) > 10
        assert len(props) > label(_busy_map(seed) >= 0.5, connectivity=2).max()  # the watershed split some
        assert [int(k) for k in np.flatnonzero(comps.sizes)] == [rp.label for rp in props]
        for rp in props:
            rr, cc = comps.coords(rp.label)
            assert np.array_equal(np.stack([rr, cc], 1), rp.coords)
            assert comps.sizes[rp.label] == rp.area


def test_row_runs_rebuild_the_label_image():
    lab = split_components(_busy_map(4), 0.5, 0.9)
    rebuilt = np.zeros_like(lab)
    for r, a, b, k in zip(*Components(lab).row_runs()):
        assert a < b and np.all(lab[r, a:b] == k)
        rebuilt[r, a:b] = k
    assert np.array_equal(rebuilt, lab)


def test_polygons_are_the_per_component_outlines_to_the_bit():
    for seed, scale, origin in ((0, 64.0, (0.0, 0.0)), (1, 63.7, (100.3, 50.7)), (2, 64.0, (0.0, 0.0))):
        lab = split_components(_busy_map(seed), 0.5, 0.9)
        props = regionprops(lab)
        keys = [rp.label for rp in props if rp.area >= 2]
        got = Components(lab).polygons(keys, scale, origin)
        want = [_reference_polygon(rp, scale, origin) for rp in props if rp.area >= 2]
        assert len(got) == len(want) == len(keys)
        for g, w in zip(got, want):
            assert np.array_equal(shapely.get_coordinates(g), shapely.get_coordinates(w))


def test_no_components():
    comps = Components(np.zeros((5, 7), np.int32))
    assert comps.sizes.tolist() == [0]
    assert comps.polygons([], 64.0, (0.0, 0.0)) == []
    assert all(len(a) == 0 for a in comps.row_runs())
