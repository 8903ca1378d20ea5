"""Scene objects as struct-of-arrays tables, with a bounding-box query used to find what touches a tile."""

from __future__ import annotations

from typing import Any

import numpy as np


class Table:
    """Columns of equal length; ``cx``, ``cy`` (centre, level-0 px) and ``reach`` (half bbox side) required."""

    def __init__(self, **cols: Any) -> None:
        n = len(cols["cx"])
        self.cols: dict[str, np.ndarray] = {}
        for k, v in cols.items():
            arr = np.asarray(v)
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            if len(arr) != n:
                raise ValueError(f"column {k} has {len(arr)} rows, expected {n}")
            self.cols[k] = arr

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(self.cols["cx"])

    def select(self, x0: float, y0: float, x1: float, y1: float, idx: np.ndarray | None = None) -> np.ndarray:
        """Indices of rows whose bbox meets [x0, x1) x [y0, y1), optionally among ``idx``."""
        cx, cy, r = self.cols["cx"], self.cols["cy"], self.cols["reach"]
        if idx is None:
            hit = (cx + r >= x0) & (cx - r < x1) & (cy + r >= y0) & (cy - r < y1)
            return np.flatnonzero(hit)
        hit = (cx[idx] + r[idx] >= x0) & (cx[idx] - r[idx] < x1) & (cy[idx] + r[idx] >= y0) & (cy[idx] - r[idx] < y1)
        return idx[hit]

    @staticmethod
    def concat(tables: list[Table]) -> Table:
        tables = [t for t in tables if len(t)]
        if not tables:
            raise ValueError("nothing to concatenate")
        keys = tables[0].cols.keys()
        return Table(**{k: np.concatenate([t.cols[k] for t in tables]) for k in keys})


def empty_like_schema(**schema: tuple[int, ...]) -> Table:
    """An empty table with the given column shapes (trailing dims)."""
    return Table(**{k: np.zeros((0, *shape), np.float32) for k, shape in schema.items()})
