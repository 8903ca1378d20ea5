"""The smear's coarse random fields on a GRID-px lattice (thickness, extent, blood), contour harmonics, and
points drawn from a lattice weight: what the scene and its background objects are laid out with."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

GRID = 256  # px per cell of the coarse fields (plasma tint, blood density): 64 um at 0.25 um/px
N_HARM = 5


def noise_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-9)


def envelope(rng: np.random.Generator, gh: int, gw: int) -> np.ndarray:
    """Where the smear lies: an irregular ellipse filling most of the slide, feathered edges."""
    yy, xx = np.mgrid[0:gh, 0:gw]
    nx, ny = (xx + 0.5) / gw * 2 - 1, (yy + 0.5) / gh * 2 - 1
    ang = np.arctan2(ny, nx)
    c, phi = rng.normal(0, 0.08, 4), rng.uniform(0, 6.3, 4)
    rf = 1 + sum(c[k] * np.cos((k + 2) * ang + phi[k]) for k in range(4))
    r = np.hypot(nx / rng.uniform(0.85, 0.98), ny / rng.uniform(0.8, 0.95)) / rf
    return np.clip((1 - r) / 0.12, 0, 1)


def harmonics(rng: np.random.Generator, n: int, amp: float) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(1, N_HARM + 1)
    return rng.normal(0, amp, (n, N_HARM)) / k**1.1, rng.uniform(0, 2 * np.pi, (n, N_HARM))


def sample_in(weight: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (level-0 px) drawn with probability proportional to a GRID-lattice weight."""
    p = weight.ravel() / weight.sum()
    cells = rng.choice(p.size, n, p=p)
    gy, gx = np.divmod(cells, weight.shape[1])
    return np.stack([(gx + rng.random(n)) * GRID, (gy + rng.random(n)) * GRID], 1)
