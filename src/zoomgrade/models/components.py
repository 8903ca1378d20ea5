"""The labelled components of a stage-1 map, all at once: their sizes, their pixels and their outlines
(``models.regions``).

A slide's map holds hundreds of components on a mostly empty image: per-component work (a bounding-box
crop, its padding, one shapely call per step) and whole-image passes cost more than the geometry itself.
So the labelled pixels are listed once, the row runs and each component's pixels come from that list, and
the shapely steps run on arrays. The outlines are the per-component construction's, to the bit: the same
boxes go into each union in the same order, and the same arithmetic places them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon


class Components:
    """The non-zero labels of a label image ``lab`` (h, w): ``sizes[k]`` pixels of label k, their
    coordinates (``coords(k)``, row-major) and their outlines (``polygons``)."""

    def __init__(self, lab: NDArray[np.integer]) -> None:
        self.width = int(lab.shape[1])
        flat = lab.ravel()
        self.idx = np.flatnonzero(flat)  # row-major
        self.vals = flat[self.idx]
        self.sizes = np.bincount(self.vals, minlength=1)
        self._ends = np.cumsum(self.sizes)
        by_label = self.idx[np.argsort(self.vals, kind="stable")]  # stable: row-major within a label
        self._rows, self._cols = np.divmod(by_label, self.width)

    def coords(self, k: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(rows, columns) of label k's pixels, in row-major order (as ``regionprops``' coords list them)."""
        a, b = self._ends[k] - self.sizes[k], self._ends[k]
        return self._rows[a:b], self._cols[a:b]

    def row_runs(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.integer]]:
        """Maximal runs of one label along a row: (row, first column, end column, label), row-major."""
        idx, vals, w = self.idx, self.vals, self.width
        if not len(idx):
            none = np.zeros(0, np.intp)
            return none, none, none, vals
        col = idx % w
        # a run ends between two listed pixels that are not neighbours in one row or differ in label
        cut = np.flatnonzero((np.diff(idx) != 1) | (np.diff(vals) != 0) | (col[1:] == 0))
        first = np.concatenate([[0], cut + 1])
        last = np.concatenate([cut, [len(idx) - 1]])
        return idx[first] // w, col[first], col[last] + 1, vals[first]

    def polygons(self, keys: Sequence[int], scale: float, origin: tuple[float, float]) -> list[Polygon]:
        """Outline of each label in ``keys`` (holes filled) along its pixel edges, in level-0 px (map pixel
        (r, c) covers [origin + c * scale, origin + (c + 1) * scale)), simplified by up to half a map
        pixel where that keeps it valid and at least 90% of its area. Built as the union of the label's
        row runs: exact, and fast for components of group size."""
        if not keys:
            return []
        rows, starts, ends, run_lab = self.row_runs()
        by_label = np.argsort(run_lab, kind="stable")  # stable: a label's runs stay row-major
        sorted_lab = run_lab[by_label]
        lo = np.searchsorted(sorted_lab, keys, side="left")
        hi = np.searchsorted(sorted_lab, keys, side="right")
        boxes = shapely.box(starts, rows, ends, rows + 1)[by_label]
        shapes = np.empty(len(keys), dtype=object)
        for i, (a, b) in enumerate(zip(lo, hi)):
            shape = shapely.union_all(boxes[a:b])
            if shape.geom_type != "Polygon":  # pixels touching only at corners: bridge them with a hair's buffer
                shape = shape.buffer(0.02, join_style="mitre")
            if shape.geom_type != "Polygon":
                shape = max(shape.geoms, key=lambda g: g.area)
            shapes[i] = shape
        ox, oy = origin

        def affine(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            # shapely.affinity.affine_transform(p, [scale, 0, 0, scale, ox, oy])'s arithmetic, for all at once
            x, y = xy.T
            return np.stack([scale * x + 0 * y + ox, 0 * x + scale * y + oy]).T

        polys = shapely.transform(shapely.polygons(shapely.get_exterior_ring(shapes)), affine)
        simple = shapely.simplify(polys, 0.5 * scale, preserve_topology=True)
        good = (
            (shapely.get_type_id(simple) == shapely.GeometryType.POLYGON)
            & shapely.is_valid(simple)
            & (shapely.area(simple) >= 0.9 * shapely.area(polys))
        )
        return list(np.where(good, simple, polys))
