"""Follicular cell groups: where each cell of a group sits, for each architecture, and the group outline.

Positions are level-0 px relative to the group centre. A flat sheet packs cells on a jittered
hexagonal lattice at ``SPACING_UM`` (~120 um^2 of sheet per cell, the density the cascade assumes
when it estimates cell counts from a polygon area); crowded architectures pack tighter and add an
overlapping second layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import MultiPoint, Polygon

from .profiles import PROFILES, SPACING_UM


@dataclass
class Layout:
    xy: np.ndarray  # (n, 2) cell centres relative to the group centre, px
    angles: np.ndarray | None = None  # preferred nuclear orientation per cell (trabeculae, papillae)
    lumens: list[tuple[float, float, float]] = field(default_factory=list)  # microfollicle lumens (x, y, r)


def _hex(n_side: int, s: float) -> np.ndarray:
    i, j = np.meshgrid(np.arange(-n_side, n_side + 1), np.arange(-n_side, n_side + 1))
    x = (i + 0.5 * (j % 2)) * s
    y = j * s * np.sqrt(3) / 2
    return np.stack([x.ravel(), y.ravel()], 1)


def _radial(rng: np.random.Generator, k: int = 5, amp: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic coefficients of an irregular outline r(t) = 1 + sum c_k cos(k t + phi_k)."""
    c = rng.normal(0, amp, k) / np.arange(1, k + 1) ** 1.2
    return c, rng.uniform(0, 2 * np.pi, k)


def radial_factor(t: np.ndarray, c: np.ndarray, phi: np.ndarray) -> np.ndarray:
    k = np.arange(1, len(c) + 1)
    return np.maximum(0.45, 1 + (c[None, :] * np.cos(k[None, :] * t[..., None] + phi[None, :])).sum(-1))


def _sheet(n: int, s: float, rng: np.random.Generator, jitter: float, elong: float = 1.0) -> np.ndarray:
    pts = _hex(int(np.sqrt(n) * 1.5) + 3, s)
    c, phi = _radial(rng)
    rot = rng.uniform(0, np.pi)
    x, y = pts[:, 0] * np.cos(rot) + pts[:, 1] * np.sin(rot), -pts[:, 0] * np.sin(rot) + pts[:, 1] * np.cos(rot)
    score = np.hypot(x / elong, y) / radial_factor(np.arctan2(y, x), c, phi)
    keep = pts[np.argsort(score)[:n]]
    return keep + rng.normal(0, jitter * s, keep.shape)


def _microfollicles(n: int, s: float, rng: np.random.Generator) -> Layout:
    """Rings of 6-14 cells around small lumens, packed against each other."""
    centres: list[tuple[float, float, float]] = []
    xy: list[np.ndarray] = []
    total = 0
    while total < n:
        m = int(rng.integers(6, 15))
        r = m * s / (2 * np.pi)
        if centres:
            for _ in range(50):
                cx, cy, cr = centres[int(rng.integers(len(centres)))]
                ang = rng.uniform(0, 2 * np.pi)
                d = cr + r + s * rng.uniform(0.6, 1.0)
                px, py = cx + d * np.cos(ang), cy + d * np.sin(ang)
                if all(np.hypot(px - ox, py - oy) > orr + r + 0.5 * s for ox, oy, orr in centres):
                    break
        else:
            px = py = 0.0
        centres.append((px, py, r))
        t = rng.uniform(0, 2 * np.pi) + np.arange(m) * 2 * np.pi / m
        ring = np.stack([px + r * np.cos(t), py + r * np.sin(t)], 1) + rng.normal(0, 0.07 * s, (m, 2))
        xy.append(ring)
        total += m
    pts = np.concatenate(xy)
    centre = pts.mean(0)
    lumens = [(cx - centre[0], cy - centre[1], max(r - 0.55 * s, 0.2 * s)) for cx, cy, r in centres]
    return Layout(pts - centre, None, lumens)


def _path_cells(n: int, s: float, width: int, rng: np.random.Generator, curl: float) -> Layout:
    """Cells along a winding ribbon ``width`` cells wide (trabeculae, papillary fronds)."""
    steps = max(2, int(np.ceil(n / width)))
    ang = rng.uniform(0, 2 * np.pi)
    p = np.zeros(2)
    pts, angs = [], []
    for _ in range(steps):
        ang += rng.normal(0, curl)
        d = np.array([np.cos(ang), np.sin(ang)])
        normal = np.array([-d[1], d[0]])
        for k in range(width):
            off = (k - (width - 1) / 2) * s * 0.9
            pts.append(p + normal * off + rng.normal(0, 0.1 * s, 2))
            angs.append(ang)
        p = p + d * s * 0.85
    xy = np.array(pts[:n])
    return Layout(xy - xy.mean(0), np.array(angs[:n]))


def _papillary(n: int, s: float, rng: np.random.Generator) -> Layout:
    """A finger-like frond with 0-2 side branches, 4-6 cells wide."""
    n_branch = int(rng.integers(0, 3))
    shares = rng.dirichlet(np.ones(n_branch + 1) * 3) if n_branch else np.ones(1)
    sizes = np.maximum(8, (shares * n).astype(int))
    trunk = _path_cells(int(sizes[0]), s, int(rng.integers(4, 7)), rng, 0.12)
    xy, angs = [trunk.xy], [trunk.angles]
    for m in sizes[1:]:
        br = _path_cells(int(m), s, int(rng.integers(3, 5)), rng, 0.15)
        anchor = trunk.xy[int(rng.integers(len(trunk.xy)))]
        xy.append(br.xy - br.xy[0] + anchor)  # the branch starts on the trunk
        angs.append(br.angles)
    pts = np.concatenate(xy)
    return Layout(pts - pts.mean(0), np.concatenate(angs))  # type: ignore[arg-type]  # _path_cells sets angles


def layout_group(architecture: str, fine: str, n: int, mpp: float, rng: np.random.Generator) -> Layout:
    """Cell centres of one group of about ``n`` cells (crowded kinds add an overlapping layer)."""
    prof = PROFILES[fine]
    s = SPACING_UM / mpp * prof.spacing * rng.uniform(0.95, 1.05)
    n_base = max(3, int(round(n / (1 + prof.overlap))))
    if architecture == "flat_sheet":
        lay = Layout(_sheet(n_base, s, rng, 0.08, rng.uniform(1.0, 1.8)))
    elif architecture == "macrofollicle":
        lay = Layout(_sheet(n_base, s, rng, 0.1, rng.uniform(1.0, 1.4)))
        # A folded edge: the cells past a chord lie back over the sheet (a darker double layer).
        ang = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        proj = lay.xy @ d
        cut = np.quantile(proj, 0.8)
        fold = proj > cut
        lay.xy[fold] -= 2 * (proj[fold] - cut)[:, None] * d[None, :]
        lay.xy[fold] += rng.normal(0, 0.2 * s, (int(fold.sum()), 2))
    elif architecture == "microfollicular":
        lay = _microfollicles(n_base, s * 0.85, rng)
    elif architecture == "trabecular":
        lay = _path_cells(n_base, s * 0.85, int(rng.integers(2, 4)), rng, 0.2)
    elif architecture == "crowded_sheet":
        lay = Layout(_sheet(n_base, s * 0.9, rng, 0.18, rng.uniform(1.0, 1.6)))
    elif architecture == "papillary":
        lay = _papillary(n_base, s * 0.85, rng)
    else:
        raise ValueError(f"unknown architecture {architecture!r}")
    extra = n - len(lay.xy)
    if extra > 0 and prof.overlap > 0:
        # Overlap: cells stacked on top of the group (nuclear crowding, 3-D clusters).
        idx = rng.integers(0, len(lay.xy), extra)
        over = lay.xy[idx] + rng.normal(0, 0.45 * s, (extra, 2))
        lay.xy = np.concatenate([lay.xy, over])
        if lay.angles is not None:
            lay.angles = np.concatenate([lay.angles, lay.angles[idx]])
    return lay


def group_outline(xy: np.ndarray, radius: float) -> Polygon:
    """One simple polygon around all cells: union of cell discs, closed so the group is one piece."""
    shape = MultiPoint([tuple(p) for p in xy]).buffer(radius, quad_segs=6)
    for close in (0.6, 1.2, 2.5, 5.0):
        closed = shape.buffer(radius * close, quad_segs=6).buffer(-radius * close, quad_segs=6)
        if isinstance(closed, Polygon) and closed.is_valid:
            return Polygon(closed.exterior).simplify(1.5)
    return MultiPoint([tuple(p) for p in xy]).convex_hull.buffer(radius).simplify(1.5)
