"""What a follicular cell group of each fine category (TBSRTC II-VI) looks like.

The fine categories differ MAINLY in nuclear detail (size, shape, chromatin pallor, grooves,
pseudoinclusions, overlap) that is only resolvable at high power; architecture gives a partial,
overlapping signal at low power (II: flat sheets / macrofollicles; III and IV: microfollicles,
trabeculae, small crowded sheets; V and VI: crowded overlapping sheets and papillary fragments).
Group darkness at low power is kept similar across III-VI: bigger nuclei are paler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Nucleus diameter of a benign follicular cell, about a red cell (um).
NUCLEUS_UM = 7.5
#: Centre-to-centre spacing of cells in a benign flat sheet (um): ~120 um^2 of sheet per cell.
SPACING_UM = 11.8

ARCHITECTURES = ("flat_sheet", "macrofollicle", "microfollicular", "trabecular", "crowded_sheet", "papillary")


@dataclass(frozen=True)
class NuclearProfile:
    size: float  # diameter relative to NUCLEUS_UM (group mean)
    size_sd: float  # cell-to-cell spread (fraction)
    aspect: tuple[float, float]  # major/minor axis ratio range
    density: float  # chromatin OD scale (1 = dark benign nucleus)
    pallor: float  # central clearing (0 none .. 1 empty centre), "powdery" chromatin
    rim: float  # nuclear membrane accent
    texture: float  # chromatin granularity amplitude
    groove_p: float  # fraction of nuclei with a longitudinal groove
    inclusion_p: float  # fraction with an intranuclear pseudoinclusion
    nucleolus_p: float
    irregular: float  # contour irregularity amplitude
    spacing: float  # cell spacing relative to SPACING_UM (crowding)
    overlap: float  # fraction of extra cells in an overlapping second layer
    architecture: dict[str, float]  # architecture -> probability


PROFILES: dict[str, NuclearProfile] = {
    "II": NuclearProfile(
        size=1.0,
        size_sd=0.06,
        aspect=(1.0, 1.12),
        density=1.0,
        pallor=0.05,
        rim=0.0,
        texture=0.12,
        groove_p=0.0,
        inclusion_p=0.0,
        nucleolus_p=0.0,
        irregular=0.0,
        spacing=1.0,
        overlap=0.0,
        architecture={"flat_sheet": 0.6, "macrofollicle": 0.4},
    ),
    "III": NuclearProfile(
        # focal mild atypia: slightly larger, paler nuclei with rare grooves. Density, spacing and overlap
        # are set with IV's so that both put the same nuclear OD on a unit of group area at low power
        # (area share x density x (1 - pallor / 2)): by that estimate IV was 38% darker per area at 0.85
        # spacing and 10% overlap, and the low-power classifier named 80-89% of IV groups
        size=1.28,
        size_sd=0.10,
        aspect=(1.05, 1.3),
        density=0.80,
        pallor=0.3,
        rim=0.25,
        texture=0.25,
        groove_p=0.08,
        inclusion_p=0.0,
        nucleolus_p=0.1,
        irregular=0.06,
        spacing=0.9,
        overlap=0.08,
        # AUS with architectural atypia: mostly microfollicles, like IV at low power (with
        # 30% flat sheets, made a third of III groups looked benign to the low-power coarse grade)
        architecture={"flat_sheet": 0.1, "microfollicular": 0.55, "trabecular": 0.35},
    ),
    "IV": NuclearProfile(
        # monotonous round nuclei with nucleoli, crowded as III is (see III)
        size=1.22,
        size_sd=0.04,
        aspect=(1.0, 1.08),
        density=0.8,
        pallor=0.05,
        rim=0.05,
        texture=0.18,
        groove_p=0.0,
        inclusion_p=0.0,
        nucleolus_p=0.35,
        irregular=0.0,
        spacing=0.9,
        overlap=0.08,
        architecture={"microfollicular": 0.6, "trabecular": 0.4},
    ),
    "V": NuclearProfile(
        # suspicious for PTC: enlarged pale nuclei, but grooves in only a third and rare inclusions.
        # Size, density and pallor are set so that V and VI groups carry the same nuclear OD per area at
        # 8 um/px (with VI at 2.0x and V at 1.45x the low-power classifier named 39/40 VI groups)
        size=1.7,
        size_sd=0.08,
        aspect=(1.25, 1.5),
        density=0.45,
        pallor=0.62,
        rim=0.4,
        texture=0.32,
        groove_p=0.35,
        inclusion_p=0.02,
        nucleolus_p=0.15,
        irregular=0.05,
        spacing=0.88,
        overlap=0.15,
        architecture={"crowded_sheet": 0.5, "papillary": 0.4, "microfollicular": 0.1},
    ),
    "VI": NuclearProfile(
        # the full PTC picture; V has only part of it: VI has grooves in most nuclei, inclusions in more,
        # longer and more irregular nuclei with a sharper rim
        size=1.8,
        size_sd=0.1,
        aspect=(1.4, 1.8),
        density=0.40,
        pallor=0.72,
        rim=0.65,
        texture=0.4,
        groove_p=0.7,
        inclusion_p=0.18,
        nucleolus_p=0.2,
        irregular=0.04,
        spacing=0.9,
        overlap=0.2,
        architecture={"papillary": 0.55, "crowded_sheet": 0.45},
    ),
}


@dataclass
class Nuclei:
    """Per-cell nuclear parameters of one group (arrays of length n), level-0 px."""

    a: np.ndarray  # semi-major axis
    b: np.ndarray  # semi-minor axis
    theta: np.ndarray
    density: np.ndarray
    pallor: np.ndarray
    rim: np.ndarray
    texture: np.ndarray
    groove: np.ndarray  # groove OD (0 = none)
    inclusion: np.ndarray  # inclusion radius relative to b (0 = none)
    nucleolus: np.ndarray  # nucleolus OD (0 = none)
    irregular: np.ndarray


def sample_nuclei(fine: str, n: int, mpp: float, rng: np.random.Generator, angles: np.ndarray | None = None) -> Nuclei:
    """Nuclear parameters for ``n`` cells of a group of fine category ``fine``."""
    p = PROFILES[fine]
    group_size = p.size * rng.uniform(0.95, 1.05)
    d = NUCLEUS_UM / mpp * group_size * np.clip(rng.normal(1.0, p.size_sd, n), 0.7, 1.4)
    aspect = rng.uniform(*p.aspect, n)
    a = d / 2 * np.sqrt(aspect)
    b = d / 2 / np.sqrt(aspect)
    theta = rng.uniform(0, np.pi, n) if angles is None else angles + rng.normal(0, 0.25, n)
    groove = np.where(rng.random(n) < p.groove_p, rng.uniform(0.5, 0.9, n) * p.density, 0.0)
    inclusion = np.where(rng.random(n) < p.inclusion_p, rng.uniform(0.3, 0.45, n), 0.0)
    nucleolus = np.where(rng.random(n) < p.nucleolus_p, rng.uniform(0.4, 0.8, n), 0.0)
    return Nuclei(
        a=a,
        b=b,
        theta=theta,
        density=p.density * rng.uniform(0.9, 1.1) * np.clip(rng.normal(1.0, 0.06, n), 0.7, 1.3),
        pallor=np.full(n, p.pallor) * rng.uniform(0.85, 1.15, n),
        rim=np.full(n, p.rim),
        texture=np.full(n, p.texture),
        groove=groove,
        inclusion=inclusion,
        nucleolus=nucleolus,
        irregular=np.full(n, p.irregular) * rng.uniform(0.5, 1.5, n),
    )


def choose_architecture(fine: str, rng: np.random.Generator) -> str:
    arch = PROFILES[fine].architecture
    names = list(arch)
    return str(names[int(rng.choice(len(names), p=np.array([arch[k] for k in names]) / sum(arch.values())))])
