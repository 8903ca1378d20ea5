"""The nuclear count's per-pixel work, compiled: one pass per step over a window, outside Python's lock.

``cellcount.count_cells`` runs on every high-power window in the reader threads, beside the model thread.
Written as numpy and scipy calls (about 40 a window) it held Python's lock between them, and the cascade
waited on it. Compiled with ``nogil``, the readers count while the model runs: side by side in one process
(8 bench slides, II to VI, three grades each, arms alternating) the cascade took 54.4 against 60.4 s with
the same counts, reads and answers, while the count alone, serially, went from 0.49 to 0.37 s on
2000005's 793 regions (shapely's outline and PIL's mask stay in Python).

Each function does what ``scipy.ndimage`` did before, on flat C-order arrays (tests/cascade/
test_cellcount_kernel.py checks them against it): ``label4`` is ``ndimage.label`` with the cross structure
(labels numbered in raster order of each component's first pixel), ``grow_l1`` is
``ndimage.binary_dilation(iterations=r)``; ``count_mask`` is the count after the nuclear mask, with the
same floating-point arithmetic as the numpy version (tests/cascade/test_cellcount_exact.py).
Compiled once per machine and numba version (about 3 s) into numba's cache (``__pycache__`` beside this
file, or the user's cache folder where that is read-only; ``NUMBA_CACHE_DIR`` moves it) and loaded from it
after: about 0.2 s and 45 MB a process, on the first count, besides numba's import (0.12 s, 55 MB).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import compiled as _compiled


@njit(nogil=True, inline="always")  # inlined into its callers: cached with them
def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression: later finds are one step
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@_compiled
def label4(fg: np.ndarray, h: int, w: int, parent: np.ndarray, lab: np.ndarray) -> int:
    """4-connected components of the flat mask ``fg`` (``h`` x ``w``), into ``lab``: 1..n in raster order
    of each component's first pixel, 0 outside; returns n. ``parent``: scratch of ``h * w`` ints."""
    for y in range(h):
        row = y * w
        for x in range(w):
            i = row + x
            if not fg[i]:
                continue
            left = x > 0 and fg[i - 1]
            up = y > 0 and fg[i - w]
            if left:
                a = _find(parent, i - 1)
                parent[i] = a
                if up:
                    b = _find(parent, i - w)
                    if a < b:  # the root is always a component's first pixel
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
            elif up:
                parent[i] = _find(parent, i - w)
            else:
                parent[i] = i
    n = 0
    for i in range(h * w):
        if not fg[i]:
            lab[i] = 0
        elif parent[i] == i:
            n += 1
            lab[i] = n
        else:
            lab[i] = lab[_find(parent, i)]  # the root comes first: labelled already
    return n


@_compiled
def grow_l1(seed: np.ndarray, h: int, w: int, r: int, out: np.ndarray, dist: np.ndarray) -> None:
    """``out``: the pixels within city-block distance ``r`` of a ``seed`` pixel, inside the ``h`` x ``w``
    image: ``r`` dilations by the cross. The two-pass chamfer distance is exact for that metric, and a
    rectangle holds the shortest path between any two of its pixels. ``dist``: scratch of ``h * w`` ints."""
    big = r + 1
    for y in range(h):
        row = y * w
        for x in range(w):
            i = row + x
            if seed[i]:
                dist[i] = 0
                continue
            d = big
            if y > 0 and dist[i - w] + 1 < d:
                d = dist[i - w] + 1
            if x > 0 and dist[i - 1] + 1 < d:
                d = dist[i - 1] + 1
            dist[i] = d
    for y in range(h - 1, -1, -1):
        row = y * w
        for x in range(w - 1, -1, -1):
            i = row + x
            d = dist[i]
            if y < h - 1 and dist[i + w] + 1 < d:
                d = dist[i + w] + 1
            if x < w - 1 and dist[i + 1] + 1 < d:
                d = dist[i + 1] + 1
            dist[i] = d
            out[i] = d <= r


@_compiled
def nuclear_mask_int(img: np.ndarray, inside: np.ndarray, use_inside: bool, s_max: int, k: int) -> np.ndarray:
    """``r + g + b < s_max`` and ``b - r > k`` of a uint8 RGB image (``cellcount._integer_thresholds``),
    and ``inside`` where ``use_inside``."""
    h, w = img.shape[0], img.shape[1]
    m = np.zeros((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            red = np.int32(img[y, x, 0])
            blue = np.int32(img[y, x, 2])
            if blue - red > k and red + np.int32(img[y, x, 1]) + blue < s_max and (not use_inside or inside[y, x]):
                m[y, x] = True
    return m


@_compiled
def count_mask(
    m: np.ndarray,
    img: np.ndarray,
    px_um2: float,
    min_nucleus_um2: float,
    nucleus_um2: float,
    merged_um2: float,
    core_grey_max: float,
    core_um2: float,
    min_core_um2: float,
    gap_px: int,
    min_per_group: float,
    largest: bool,
) -> int:
    """The cells of the groups of nuclear mask ``m`` over ``img`` (``cellcount.count_cells`` says how)."""
    h0, w0 = m.shape
    r0, r1, c0, c1 = h0, -1, w0, -1
    for y in range(h0):
        for x in range(w0):
            if m[y, x]:
                r0 = min(r0, y)
                r1 = y
                c0 = min(c0, x)
                c1 = max(c1, x)
    if r1 < 0:
        return 0
    # Only the nuclear pixels' bounding box: two nuclei near enough to join are joined by a path inside it.
    h, w = r1 - r0 + 1, c1 - c0 + 1
    size = h * w
    fg = np.empty(size, np.bool_)
    for y in range(h):
        for x in range(w):
            fg[y * w + x] = m[r0 + y, c0 + x]
    parent = np.empty(size, np.int32)
    lab = np.empty(size, np.int32)
    n = label4(fg, h, w, parent, lab)
    area = np.zeros(n + 1, np.int64)
    for i in range(size):
        area[lab[i]] += 1
    cells = np.zeros(n + 1, np.float64)
    keep = np.zeros(n + 1, np.bool_)
    merged = np.zeros(n + 1, np.bool_)
    for c in range(1, n + 1):
        a = area[c] * px_um2
        if a >= min_nucleus_um2:
            keep[c] = True
            cells[c] = max(1.0, np.rint(a / nucleus_um2))  # rint: numpy's round, half to even
            merged[c] = a > merged_um2
    if not keep.any():
        return 0
    if core_grey_max > 0 and merged.any():
        _count_cores(img, r0, c0, h, w, lab, merged, cells, parent, px_um2, core_grey_max, core_um2, min_core_um2)
    seed = np.empty(size, np.bool_)
    for i in range(size):
        seed[i] = keep[lab[i]]
    grown = np.empty(size, np.bool_)
    grow_l1(seed, h, w, gap_px, grown, parent)
    groups = np.empty(size, np.int32)
    n_groups = label4(grown, h, w, parent, groups)
    per_group = np.zeros(n_groups + 1, np.float64)
    seen = np.zeros(n + 1, np.bool_)
    for i in range(size):  # a kept nucleus lies wholly inside one grown blob: any pixel names its group
        c = lab[i]
        if keep[c] and not seen[c]:
            seen[c] = True
            per_group[groups[i]] += cells[c]
    best = 0.0
    total = 0.0
    for g in range(1, n_groups + 1):
        if per_group[g] >= min_per_group:
            total += per_group[g]
            best = max(best, per_group[g])
    return int(best) if largest else int(total)


@_compiled
def _count_cores(
    img: np.ndarray,
    r0: int,
    c0: int,
    h: int,
    w: int,
    lab: np.ndarray,
    merged: np.ndarray,
    cells: np.ndarray,
    parent: np.ndarray,
    px_um2: float,
    core_grey_max: float,
    core_um2: float,
    min_core_um2: float,
) -> None:
    """Each merged component counted by its dark cores where it has any (``cellcount.count_cells``)."""
    size = h * w
    core = np.zeros(size, np.bool_)
    for y in range(h):
        for x in range(w):
            i = y * w + x
            if merged[lab[i]]:
                px = img[r0 + y, c0 + x]
                if (float(px[0]) + float(px[1]) + float(px[2])) / 3.0 < core_grey_max:
                    core[i] = True
    clab = np.empty(size, np.int32)
    cn = label4(core, h, w, parent, clab)
    core_area = np.zeros(cn + 1, np.int64)
    owner = np.zeros(cn + 1, np.int64)
    for i in range(size):
        c = clab[i]
        if c > 0:
            core_area[c] += 1
            owner[c] = lab[i]  # a core lies inside one component
    by_core = np.zeros(cells.size, np.float64)
    for c in range(1, cn + 1):
        a = core_area[c] * px_um2
        if a >= min_core_um2:
            by_core[owner[c]] += max(1.0, np.rint(a / core_um2))
    for c in range(1, cells.size):
        if by_core[c] > 0:  # every real core counts at least one cell
            cells[c] = by_core[c]
