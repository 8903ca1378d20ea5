"""The planner's window cover, clipped in compiled code, against GEOS's intersections."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from zoomgrade.cascade.window_overlap import covered_fraction
from zoomgrade.cascade.windows import region_windows


def _geos(outline, bx: np.ndarray, by: np.ndarray, size: float) -> np.ndarray:
    cand = shapely.box(bx, by, bx + size, by + size)
    return np.asarray(shapely.area(shapely.intersection(outline, cand)) / (size * size))


def _grid(x0: float, y0: float, n: int, size: float) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid of squares from (x0, y0), row by row, a little wider than the outlines below."""
    xs = x0 + size * np.arange(n)
    return np.tile(xs, n), np.repeat(y0 + size * np.arange(n), n)


def _staircase(rng: np.random.Generator) -> Polygon:
    """A region's outline as stage 1 makes it: the union of row runs of map pixels (64 level-0 px each)."""
    runs = []
    start = int(rng.integers(0, 6))
    for r in range(int(rng.integers(2, 9))):
        start = max(0, start + int(rng.integers(-2, 3)))
        runs.append(box(64 * start, 64 * r, 64 * (start + int(rng.integers(1, 7))), 64 * (r + 1)))
    out = shapely.union_all(runs)
    return out if isinstance(out, Polygon) else max(out.geoms, key=lambda g: g.area)


def test_axis_aligned_outlines_cover_exactly_what_geos_says() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        outline = shapely.affinity.translate(_staircase(rng), 80_000 - 1000, 40_000 + 500)
        x0, y0, _, _ = outline.bounds
        bx, by = _grid(x0 - 200, y0 - 170, 5, 256.0)
        got = covered_fraction(outline, bx, by, 256.0)
        assert np.array_equal(got, _geos(outline, bx, by, 256.0))  # integer corners: exact, to the bit
        assert got.max() > 0


@pytest.mark.parametrize("tolerance", [32.0, 90.0])
def test_slanted_outlines_cover_what_geos_says_to_the_last_bits(tolerance: float) -> None:
    rng = np.random.default_rng(5)
    worst, n = 0.0, 0
    for _ in range(60):
        outline = _staircase(rng).simplify(tolerance)  # slanted edges, as a simplified outline has
        bx, by = _grid(-100.0, -90.0, 6, 128.0)
        got, want = covered_fraction(outline, bx, by, 128.0), _geos(outline, bx, by, 128.0)
        worst = max(worst, float(np.abs(got - want).max()))
        assert np.array_equal(got > 0, want > 0)  # the same windows are windows
        n += int(((want > 0) & (want < 1)).sum())
    assert n > 100  # many windows cut by the outline, not just empty or full ones
    assert worst < 1e-12


def test_holes_parts_and_the_edge_cases() -> None:
    ring = box(0, 0, 300, 300)
    holed = Polygon(ring.exterior.coords, [box(100, 100, 200, 200).exterior.coords])
    parts = MultiPolygon([box(0, 0, 50, 50), Polygon([(400, 0), (500, 0), (400, 100)])])
    bx = np.array([0.0, 100.0, 600.0, 300.0, 50.0, 380.0])
    by = np.array([0.0, 100.0, 0.0, 0.0, 50.0, -20.0])
    for outline in (holed, parts, ring):
        assert np.allclose(covered_fraction(outline, bx, by, 100.0), _geos(outline, bx, by, 100.0), atol=1e-15)
    got = covered_fraction(holed, bx, by, 100.0)
    assert got[0] == 1.0 and got[1] == 0.0  # a window inside the outline; one inside its hole
    assert got[2] == 0.0 and got[3] == 0.0  # one far off; one touching only the outline's edge
    small = box(10, 10, 30, 20)  # an outline inside one window: its own area
    assert covered_fraction(small, np.array([0.0]), np.array([0.0]), 100.0)[0] == small.area / 100.0**2
    assert covered_fraction(Polygon(), bx, by, 100.0).tolist() == [0.0] * len(bx)


def test_region_windows_plans_the_windows_geos_would() -> None:
    rng = np.random.default_rng(11)
    for lattice in (False, True):
        for _ in range(20):
            outline = shapely.affinity.translate(_staircase(rng).simplify(32.0), 5_000, 7_000)
            w = region_windows(outline, 0.25, 0.5, 128, 128, lattice=lattice)
            bx = np.array([b[0] for b in w.boxes], float)
            by = np.array([b[1] for b in w.boxes], float)
            assert w.boxes and all(b[2] == b[3] == 256 for b in w.boxes)
            assert np.allclose(w.overlap, _geos(outline, bx, by, 256.0), rtol=0, atol=1e-12)
            assert (w.overlap > 0).all()
            assert w.overlap.sum() * 256.0**2 == pytest.approx(outline.area, rel=1e-12)  # the windows tile it
