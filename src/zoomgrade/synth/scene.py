"""Scene layout: everything on a slide as object tables in level-0 px, built from (category, stain, size, seed).

The scene is small (object parameters, not pixels); tiles are rendered from it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon

from . import composition as comp
from .background import colloid, debris, discs, focus_blurs, lymphocytes, macrophages, red_cells
from .fields import GRID, envelope, noise_field, sample_in
from .groups import group_outline, layout_group
from .objects import Table
from .profiles import PROFILES, SPACING_UM, choose_architecture, sample_nuclei
from .stains import Palette, make_palette
from .stamps import CELL, FLAT, LAMINATED


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


def build_scene(category: str, stain: str, size_mm: tuple[float, float], seed: int, mpp: float = 0.25) -> Scene:
    ss = np.random.SeedSequence([seed, comp.CATEGORIES.index(category) if category in comp.CATEGORIES else 99])
    r_pal, r_field, r_groups, r_bg, r_rbc = (np.random.default_rng(s) for s in ss.spawn(5))
    width, height = int(round(size_mm[0] * 1000 / mpp)), int(round(size_mm[1] * 1000 / mpp))
    area = size_mm[0] * size_mm[1]
    pal = make_palette(stain, r_pal)
    gh, gw = height // GRID + 2, width // GRID + 2
    um = 1 / mpp  # px per um

    env = envelope(r_field, gh, gw)
    thick = 1 / (1 + np.exp(-2.0 * noise_field(r_field, (gh, gw), 12)))  # thick (1) and thin (0) areas
    tint = (env * (0.6 + 0.4 * thick) * r_field.uniform(0.8, 1.25)).astype(np.float32)
    colloid_rate, mac_rate, blood = comp.BACKGROUND[category]
    blood = blood * r_field.uniform(0.6, 1.3)
    # Sparse blood over the whole smear, denser in streaks and thick areas (coverage fraction of glass).
    patches = 1 / (1 + np.exp(-2.5 * (noise_field(r_field, (gh, gw), 5) + 0.8 * thick - 0.9 + blood)))
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
            cx, cy = sample_in(weight, 1, r_groups)[0]
            inside = margin + reach < cx < width - margin - reach and margin + reach < cy < height - margin - reach
            if inside and all(np.hypot(cx - x, cy - y) > reach + rr + 20 * um for x, y, rr in placed):
                break
        else:
            continue  # no room left (tiny slide); the truth only lists what was drawn
        placed.append((cx, cy, reach))
        xy = lay.xy + [cx, cy]
        nuc = sample_nuclei(fine, len(xy), mpp, r_groups, lay.angles)
        nuc_t.append(
            Table(
                cx=xy[:, 0],
                cy=xy[:, 1],
                reach=nuc.a + 2,
                a=nuc.a,
                b=nuc.b,
                theta=nuc.theta,
                density=nuc.density,
                pallor=nuc.pallor,
                rim=nuc.rim,
                texture=nuc.texture,
                groove=nuc.groove,
                inclusion=nuc.inclusion,
                nucleolus=nuc.nucleolus,
                irregular=nuc.irregular,
                od=np.tile(pal["nucleus"], (len(xy), 1)),
            )
        )
        s = SPACING_UM * um * PROFILES[fine].spacing
        outline = group_outline(xy, 0.5 * s)
        cyto = pal["cytoplasm"] * r_groups.uniform(0.7, 1.1) * (1 + PROFILES[fine].overlap)
        sheets.append((outline, cyto))
        # Cell borders: crisp in benign honeycomb sheets, faint in crowded (syncytial) groups.
        cr = s * r_groups.uniform(0.5, 0.58, len(xy))
        border = 0.9 if fine == "II" else 0.4
        disc_t.append(
            discs(
                xy,
                cr,
                cr * r_groups.uniform(0.85, 1.0, len(xy)),
                r_groups.uniform(0, 3.2, len(xy)),
                np.tile(cyto * border, (len(xy), 1)),
                CELL,
                2.0,
            )
        )
        if lay.lumens and fine in ("III", "IV", "V") and r_groups.random() < 0.6:
            lum = np.array(lay.lumens) + [cx, cy, 0]
            disc_t.append(
                discs(
                    lum[:, :2],
                    lum[:, 2],
                    lum[:, 2],
                    np.zeros(len(lum)),
                    np.tile(pal["colloid_thick"] * 0.9, (len(lum), 1)),
                    FLAT,
                    1.5,
                )
            )
        groups.append(GroupTruth(fine, outline, len(xy), arch))
        if fine == "VI" and r_groups.random() < 0.35:  # psammoma body beside a papillary group
            pr = r_groups.uniform(12, 25) * um
            pxy = np.array([[cx + reach + pr, cy]])
            disc_t.append(discs(pxy, [pr], [pr], [0.0], pal["psammoma"][None] * 1.2, LAMINATED, 2.0))

    drawn = comp.slide_category([(g.fine, g.cell_count) for g in groups])
    if drawn != category:
        raise ValueError(
            f"a {size_mm[0]:g} x {size_mm[1]:g} mm slide has no room for a category {category} mix "
            f"(its groups make it {drawn}); use a larger size"
        )
    nuc_t.append(lymphocytes(r_bg, weight, area, pal, um))
    disc_t += macrophages(r_bg, weight, area * mac_rate, pal, um, nuc_t)
    disc_t.append(debris(r_bg, weight, area, pal, um))
    blobs = colloid(r_bg, weight, area * colloid_rate, comp.THICK_COLLOID[category], pal, um)
    blurs = focus_blurs(r_bg, weight * thick, area, um)
    rbcs = red_cells(r_rbc, blood_field, um)
    outlines = [np.asarray(p.exterior.coords, np.float32) for p, _ in sheets]
    bounds = np.array([p.bounds for p, _ in sheets]).reshape(-1, 4)
    sheet_t = Table(
        cx=(bounds[:, 0] + bounds[:, 2]) / 2,
        cy=(bounds[:, 1] + bounds[:, 3]) / 2,
        reach=np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) / 2 + 8,
        od=np.array([c for _, c in sheets], np.float32).reshape(-1, 3),
    )
    return Scene(
        width,
        height,
        mpp,
        seed,
        category,
        pal,
        tint,
        Table.concat(nuc_t),
        Table.concat(disc_t),
        rbcs,
        blobs,
        blurs,
        sheet_t,
        outlines,
        groups,
    )
