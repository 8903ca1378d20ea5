"""What lies on the smear besides the follicular groups: lymphocytes, macrophages (with hemosiderin),
debris, colloid, out-of-focus patches and red cells, as object tables in level-0 px; and the disc table
the groups' cell borders and lumens are drawn with too."""

from __future__ import annotations

import numpy as np

from .fields import GRID, harmonics, sample_in
from .objects import Table
from .stamps import CRACKED, FLAT, FOAMY, THICK, THIN, radial_lut


def discs(xy, a, b, theta, od, profile: int, edge: float) -> Table:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    n = len(a)
    return Table(
        cx=np.asarray(xy)[:, 0],
        cy=np.asarray(xy)[:, 1],
        reach=np.maximum(a, b) + 2,
        a=a,
        b=b,
        theta=np.asarray(theta),
        od=np.asarray(od, np.float32).reshape(n, 3),
        profile=np.full(n, profile, np.int8),
        edge=np.full(n, edge, np.float32),
    )


def lymphocytes(rng, weight, area, pal, um) -> Table:
    n = int(area * rng.uniform(5, 30))
    xy = sample_in(weight, n, rng)
    r = rng.uniform(3.0, 3.6, n) * um
    return Table(
        cx=xy[:, 0],
        cy=xy[:, 1],
        reach=r + 2,
        a=r,
        b=r * rng.uniform(0.9, 1.0, n),
        theta=rng.uniform(0, 3.2, n),
        density=rng.uniform(1.2, 1.5, n),
        pallor=np.zeros(n),
        rim=np.zeros(n),
        texture=np.full(n, 0.2),
        groove=np.zeros(n),
        inclusion=np.zeros(n),
        nucleolus=np.zeros(n),
        irregular=np.zeros(n),
        od=np.tile(pal["nucleus"], (n, 1)),
    )


def macrophages(rng, weight, expected, pal, um, nuc_t: list[Table]) -> list[Table]:
    n = int(rng.poisson(expected))
    if n == 0:
        return []
    xy = sample_in(weight, n, rng)
    a = rng.uniform(9, 16, n) * um
    out = [
        discs(
            xy,
            a,
            a * rng.uniform(0.75, 1.0, n),
            rng.uniform(0, 3.2, n),
            np.tile(pal["macrophage"], (n, 1)) * rng.uniform(0.8, 1.3, (n, 1)),
            FOAMY,
            3.0,
        )
    ]
    # An eccentric bean-shaped nucleus each, and hemosiderin granules in some.
    off = a[:, None] * 0.45 * np.stack([np.cos(t := rng.uniform(0, 6.3, n)), np.sin(t)], 1)
    nxy = xy + off
    na = rng.uniform(3.0, 4.0, n) * um
    nuc_t.append(
        Table(
            cx=nxy[:, 0],
            cy=nxy[:, 1],
            reach=na + 2,
            a=na,
            b=na * 0.7,
            theta=t,
            density=np.full(n, 0.9),
            pallor=np.full(n, 0.1),
            rim=np.zeros(n),
            texture=np.full(n, 0.2),
            groove=np.zeros(n),
            inclusion=np.zeros(n),
            nucleolus=np.zeros(n),
            irregular=np.full(n, 0.06),
            od=np.tile(pal["nucleus"], (n, 1)),
        )
    )
    k = rng.poisson(6, n) * (rng.random(n) < 0.5)
    owner = np.repeat(np.arange(n), k)
    if len(owner):
        gxy = xy[owner] + rng.normal(0, 0.4, (len(owner), 2)) * a[owner, None]
        gr = rng.uniform(0.6, 1.5, len(owner)) * um
        out.append(
            discs(gxy, gr, gr, np.zeros(len(owner)), np.tile(pal["hemosiderin"], (len(owner), 1)) * 1.5, FLAT, 1.0)
        )
    return out


def debris(rng, weight, area, pal, um) -> Table:
    n = int(area * rng.uniform(20, 60))
    xy = sample_in(weight, n, rng)
    a = rng.uniform(0.5, 5, n) * um
    return discs(
        xy,
        a,
        a * rng.uniform(0.3, 0.9, n),
        rng.uniform(0, 3.2, n),
        np.tile(pal["debris"], (n, 1)) * rng.uniform(0.4, 1.2, (n, 1)),
        FLAT,
        1.0,
    )


def colloid(rng, weight, expected, thick_share, pal, um) -> Table:
    n = max(1, int(rng.poisson(expected)))
    xy = sample_in(weight, n, rng)
    R = np.exp(rng.uniform(np.log(30), np.log(250), n)) * um
    kind = np.where(rng.random(n) < thick_share, THICK, np.where(rng.random(n) < 0.5, CRACKED, THIN)).astype(np.int8)
    coef, phi = harmonics(rng, n, 0.28)
    od = np.where(
        (kind == THICK)[:, None],
        pal["colloid_thick"] * rng.uniform(0.45, 0.85, (n, 1)),
        pal["colloid_thin"] * rng.uniform(0.4, 1.1, (n, 1)),
    )
    edge = np.where(kind == THICK, 1.5, rng.uniform(6, 30, n))
    lut = radial_lut(coef, phi)
    return Table(cx=xy[:, 0], cy=xy[:, 1], reach=R * lut.max(1) + 4, R=R, lut=lut, od=od, kind=kind, edge=edge)


def focus_blurs(rng, weight, area, um) -> Table:
    n = int(rng.poisson(area * 0.12))
    xy = sample_in(weight + 1e-9, n, rng) if n else np.zeros((0, 2))
    R = rng.uniform(150, 500, n) * um
    return Table(cx=xy[:, 0], cy=xy[:, 1], reach=R, R=R, sigma=rng.uniform(2.5, 6, n))


def red_cells(rng, density: np.ndarray, um: float) -> Table:
    """Red cells: Poisson per GRID cell, coverage up to ~60% where the smear is thick and bloody."""
    r_mean = 3.75 * um
    lam = np.clip(density, 0, 0.7) * GRID * GRID / (np.pi * r_mean**2)
    counts = rng.poisson(lam).ravel()
    cells = np.repeat(np.arange(counts.size), counts)
    gy, gx = np.divmod(cells, density.shape[1])
    n = len(cells)
    cx = (gx + rng.random(n)) * GRID
    cy = (gy + rng.random(n)) * GRID
    r = np.clip(rng.normal(r_mean, 0.35 * um, n), 2.8 * um, 4.6 * um)
    return Table(cx=cx, cy=cy, reach=r + 3, r=r, scale=rng.uniform(0.75, 1.15, n))
