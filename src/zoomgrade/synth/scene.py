"""Scene layout: everything on a slide as object tables in level-0 px, built from (category, stain, size, seed).

The scene is small (object parameters, not pixels); tiles are rendered from it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter
from shapely.geometry import Polygon

from . import composition as comp
from .groups import group_outline, layout_group
from .objects import Table
from .profiles import PROFILES, SPACING_UM, choose_architecture, sample_nuclei
from .stains import Palette, make_palette
from .stamps import CELL, CRACKED, FLAT, FOAMY, LAMINATED, THICK, THIN, radial_lut

GRID = 256  # px per cell of the coarse fields (plasma tint, blood density): 64 um at 0.25 um/px
N_HARM = 5


@dataclass
class GroupTruth:
    fine: str
    polygon: Polygon  # level-0 px
    cell_count: int
    architecture: str


@dataclass
class Scene:
    width: int
    height: int
    mpp: float
    seed: int
    category: str
    palette: Palette
    tint: np.ndarray  # (gh, gw) plasma OD scale on a GRID-px lattice (thick/thin areas, smear extent)
    nuclei: Table
    discs: Table
    rbcs: Table
    blobs: Table
    blurs: Table
    sheets: Table  # one row per group: its shared cytoplasm (outline in ``outlines``)
    outlines: list[np.ndarray]  # (k, 2) polygon vertices per group, level-0 px
    groups: list[GroupTruth] = field(default_factory=list)


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-9)


def _envelope(rng: np.random.Generator, gh: int, gw: int) -> np.ndarray:
    """Where the smear lies: an irregular ellipse filling most of the slide, feathered edges."""
    yy, xx = np.mgrid[0:gh, 0:gw]
    nx, ny = (xx + 0.5) / gw * 2 - 1, (yy + 0.5) / gh * 2 - 1
    ang = np.arctan2(ny, nx)
    c, phi = rng.normal(0, 0.08, 4), rng.uniform(0, 6.3, 4)
    rf = 1 + sum(c[k] * np.cos((k + 2) * ang + phi[k]) for k in range(4))
    r = np.hypot(nx / rng.uniform(0.85, 0.98), ny / rng.uniform(0.8, 0.95)) / rf
    return np.clip((1 - r) / 0.12, 0, 1)


def _harmonics(rng: np.random.Generator, n: int, amp: float) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(1, N_HARM + 1)
    return rng.normal(0, amp, (n, N_HARM)) / k**1.1, rng.uniform(0, 2 * np.pi, (n, N_HARM))


def _sample_in(weight: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (level-0 px) drawn with probability proportional to a GRID-lattice weight."""
    p = weight.ravel() / weight.sum()
    cells = rng.choice(p.size, n, p=p)
    gy, gx = np.divmod(cells, weight.shape[1])
    return np.stack([(gx + rng.random(n)) * GRID, (gy + rng.random(n)) * GRID], 1)


def build_scene(category: str, stain: str, size_mm: tuple[float, float], seed: int, mpp: float = 0.25) -> Scene:
    ss = np.random.SeedSequence([seed, comp.CATEGORIES.index(category) if category in comp.CATEGORIES else 99])
    r_pal, r_field, r_groups, r_bg, r_rbc = (np.random.default_rng(s) for s in ss.spawn(5))
    width, height = int(round(size_mm[0] * 1000 / mpp)), int(round(size_mm[1] * 1000 / mpp))
    area = size_mm[0] * size_mm[1]
    pal = make_palette(stain, r_pal)
    gh, gw = height // GRID + 2, width // GRID + 2
    um = 1 / mpp  # px per um

    env = _envelope(r_field, gh, gw)
    thick = 1 / (1 + np.exp(-2.0 * _field(r_field, (gh, gw), 12)))  # thick (1) and thin (0) areas
    tint = (env * (0.6 + 0.4 * thick) * r_field.uniform(0.8, 1.25)).astype(np.float32)
    colloid_rate, mac_rate, blood = comp.BACKGROUND[category]
    blood = blood * r_field.uniform(0.6, 1.3)
    # Sparse blood over the whole smear, denser in streaks and thick areas (coverage fraction of glass).
    patches = 1 / (1 + np.exp(-2.5 * (_field(r_field, (gh, gw), 5) + 0.8 * thick - 0.9 + blood)))
    blood_field = env * (0.12 + 0.38 * blood * patches)

    # Follicular groups, placed apart from each other inside the smear.
    mix = comp.group_mix(category, area, r_groups)
    nuc_t, disc_t, groups = [], [], []
    sheets: list[tuple[Polygon, np.ndarray]] = []
    placed: list[tuple[float, float, float]] = []
    weight = env * (0.3 + thick) + 1e-6
    margin = 40 * um
    # Key (most severe) and big groups first, so a crowded small slide keeps what its category needs.
    mix = sorted(mix, key=lambda g: (-comp.TBSRTC.severity(g[0]), -g[1]))
    for fine, n in mix:
        arch = choose_architecture(fine, r_groups)
        lay = layout_group(arch, fine, n, mpp, r_groups)
        reach = float(np.hypot(*lay.xy.T).max()) + 10 * um
        for _ in range(200):
            cx, cy = _sample_in(weight, 1, r_groups)[0]
            inside = margin + reach < cx < width - margin - reach and margin + reach < cy < height - margin - reach
            if inside and all(np.hypot(cx - x, cy - y) > reach + rr + 20 * um for x, y, rr in placed):
                break
        else:
            continue  # no room left (tiny slide); the truth only lists what was drawn
        placed.append((cx, cy, reach))
        xy = lay.xy + [cx, cy]
        nuc = sample_nuclei(fine, len(xy), mpp, r_groups, lay.angles)
        nuc_t.append(Table(cx=xy[:, 0], cy=xy[:, 1], reach=nuc.a + 2, a=nuc.a, b=nuc.b, theta=nuc.theta,
                           density=nuc.density, pallor=nuc.pallor, rim=nuc.rim, texture=nuc.texture,
                           groove=nuc.groove, inclusion=nuc.inclusion, nucleolus=nuc.nucleolus,
                           irregular=nuc.irregular, od=np.tile(pal["nucleus"], (len(xy), 1))))
        s = SPACING_UM * um * PROFILES[fine].spacing
        outline = group_outline(xy, 0.5 * s)
        cyto = pal["cytoplasm"] * r_groups.uniform(0.7, 1.1) * (1 + PROFILES[fine].overlap)
        sheets.append((outline, cyto))
        # Cell borders: crisp in benign honeycomb sheets, faint in crowded (syncytial) groups.
        cr = s * r_groups.uniform(0.5, 0.58, len(xy))
        border = 0.9 if fine == "II" else 0.4
        disc_t.append(_discs(xy, cr, cr * r_groups.uniform(0.85, 1.0, len(xy)), r_groups.uniform(0, 3.2, len(xy)),
                             np.tile(cyto * border, (len(xy), 1)), CELL, 2.0))
        if lay.lumens and fine in ("III", "IV", "V") and r_groups.random() < 0.6:
            lum = np.array(lay.lumens) + [cx, cy, 0]
            disc_t.append(_discs(lum[:, :2], lum[:, 2], lum[:, 2], np.zeros(len(lum)),
                                 np.tile(pal["colloid_thick"] * 0.9, (len(lum), 1)), FLAT, 1.5))
        groups.append(GroupTruth(fine, outline, len(xy), arch))
        if fine == "VI" and r_groups.random() < 0.35:  # psammoma body beside a papillary group
            pr = r_groups.uniform(12, 25) * um
            pxy = np.array([[cx + reach + pr, cy]])
            disc_t.append(_discs(pxy, [pr], [pr], [0.0], pal["psammoma"][None] * 1.2, LAMINATED, 2.0))

    drawn = comp.slide_category([(g.fine, g.cell_count) for g in groups])
    if drawn != category:
        raise ValueError(f"a {size_mm[0]:g} x {size_mm[1]:g} mm slide has no room for a category {category} mix "
                         f"(its groups make it {drawn}); use a larger size")
    nuc_t.append(_lymphocytes(r_bg, weight, area, pal, um))
    disc_t += _macrophages(r_bg, weight, area * mac_rate, pal, um, nuc_t)
    disc_t.append(_debris(r_bg, weight, area, pal, um))
    blobs = _colloid(r_bg, weight, area * colloid_rate, comp.THICK_COLLOID[category], pal, um)
    blurs = _blurs(r_bg, weight * thick, area, um)
    rbcs = _rbcs(r_rbc, blood_field, um)
    outlines = [np.asarray(p.exterior.coords, np.float32) for p, _ in sheets]
    bounds = np.array([p.bounds for p, _ in sheets]).reshape(-1, 4)
    sheet_t = Table(cx=(bounds[:, 0] + bounds[:, 2]) / 2, cy=(bounds[:, 1] + bounds[:, 3]) / 2,
                    reach=np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) / 2 + 8,
                    od=np.array([c for _, c in sheets], np.float32).reshape(-1, 3))
    return Scene(width, height, mpp, seed, category, pal, tint, Table.concat(nuc_t), Table.concat(disc_t),
                 rbcs, blobs, blurs, sheet_t, outlines, groups)


def _discs(xy, a, b, theta, od, profile: int, edge: float) -> Table:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    n = len(a)
    return Table(cx=np.asarray(xy)[:, 0], cy=np.asarray(xy)[:, 1], reach=np.maximum(a, b) + 2, a=a, b=b,
                 theta=np.asarray(theta), od=np.asarray(od, np.float32).reshape(n, 3),
                 profile=np.full(n, profile, np.int8), edge=np.full(n, edge, np.float32))


def _lymphocytes(rng, weight, area, pal, um) -> Table:
    n = int(area * rng.uniform(5, 30))
    xy = _sample_in(weight, n, rng)
    r = rng.uniform(3.0, 3.6, n) * um
    return Table(cx=xy[:, 0], cy=xy[:, 1], reach=r + 2, a=r, b=r * rng.uniform(0.9, 1.0, n),
                 theta=rng.uniform(0, 3.2, n), density=rng.uniform(1.2, 1.5, n), pallor=np.zeros(n),
                 rim=np.zeros(n), texture=np.full(n, 0.2), groove=np.zeros(n), inclusion=np.zeros(n),
                 nucleolus=np.zeros(n), irregular=np.zeros(n), od=np.tile(pal["nucleus"], (n, 1)))


def _macrophages(rng, weight, expected, pal, um, nuc_t: list[Table]) -> list[Table]:
    n = int(rng.poisson(expected))
    if n == 0:
        return []
    xy = _sample_in(weight, n, rng)
    a = rng.uniform(9, 16, n) * um
    out = [_discs(xy, a, a * rng.uniform(0.75, 1.0, n), rng.uniform(0, 3.2, n),
                  np.tile(pal["macrophage"], (n, 1)) * rng.uniform(0.8, 1.3, (n, 1)), FOAMY, 3.0)]
    # An eccentric bean-shaped nucleus each, and hemosiderin granules in some.
    off = a[:, None] * 0.45 * np.stack([np.cos(t := rng.uniform(0, 6.3, n)), np.sin(t)], 1)
    nxy = xy + off
    na = rng.uniform(3.0, 4.0, n) * um
    nuc_t.append(Table(cx=nxy[:, 0], cy=nxy[:, 1], reach=na + 2, a=na, b=na * 0.7, theta=t, density=np.full(n, 0.9),
                       pallor=np.full(n, 0.1), rim=np.zeros(n), texture=np.full(n, 0.2), groove=np.zeros(n),
                       inclusion=np.zeros(n), nucleolus=np.zeros(n), irregular=np.full(n, 0.06),
                       od=np.tile(pal["nucleus"], (n, 1))))
    k = rng.poisson(6, n) * (rng.random(n) < 0.5)
    owner = np.repeat(np.arange(n), k)
    if len(owner):
        gxy = xy[owner] + rng.normal(0, 0.4, (len(owner), 2)) * a[owner, None]
        gr = rng.uniform(0.6, 1.5, len(owner)) * um
        out.append(_discs(gxy, gr, gr, np.zeros(len(owner)), np.tile(pal["hemosiderin"], (len(owner), 1)) * 1.5, FLAT, 1.0))
    return out


def _debris(rng, weight, area, pal, um) -> Table:
    n = int(area * rng.uniform(20, 60))
    xy = _sample_in(weight, n, rng)
    a = rng.uniform(0.5, 5, n) * um
    return _discs(xy, a, a * rng.uniform(0.3, 0.9, n), rng.uniform(0, 3.2, n),
                  np.tile(pal["debris"], (n, 1)) * rng.uniform(0.4, 1.2, (n, 1)), FLAT, 1.0)


def _colloid(rng, weight, expected, thick_share, pal, um) -> Table:
    n = max(1, int(rng.poisson(expected)))
    xy = _sample_in(weight, n, rng)
    R = np.exp(rng.uniform(np.log(30), np.log(250), n)) * um
    kind = np.where(rng.random(n) < thick_share, THICK, np.where(rng.random(n) < 0.5, CRACKED, THIN)).astype(np.int8)
    coef, phi = _harmonics(rng, n, 0.28)
    od = np.where((kind == THICK)[:, None], pal["colloid_thick"] * rng.uniform(0.45, 0.85, (n, 1)),
                  pal["colloid_thin"] * rng.uniform(0.4, 1.1, (n, 1)))
    edge = np.where(kind == THICK, 1.5, rng.uniform(6, 30, n))
    lut = radial_lut(coef, phi)
    return Table(cx=xy[:, 0], cy=xy[:, 1], reach=R * lut.max(1) + 4, R=R, lut=lut, od=od, kind=kind, edge=edge)


def _blurs(rng, weight, area, um) -> Table:
    n = int(rng.poisson(area * 0.12))
    xy = _sample_in(weight + 1e-9, n, rng) if n else np.zeros((0, 2))
    R = rng.uniform(150, 500, n) * um
    return Table(cx=xy[:, 0], cy=xy[:, 1], reach=R, R=R, sigma=rng.uniform(2.5, 6, n))


def _rbcs(rng, density: np.ndarray, um: float) -> Table:
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
