"""Periodic noise textures (seamless when indexed modulo their size), made once per slide from its seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEX = 512  # texture period, px


def periodic_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise on a torus (FFT), scaled to unit standard deviation."""
    white = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(white) * g))
    return ((out - out.mean()) / (out.std() + 1e-9)).astype(np.float32)


@dataclass
class Textures:
    fine: np.ndarray  # chromatin granules (~1 px)
    mid: np.ndarray  # foamy cytoplasm, proteinaceous background (~4 px)
    low: np.ndarray  # colloid cracks, watery colloid (~30 px)
    grain: np.ndarray  # sensor noise

    @staticmethod
    def make(seed: int) -> Textures:
        rng = np.random.default_rng([seed, 7])
        return Textures(
            fine=periodic_noise(rng, TEX, 0.9),
            mid=periodic_noise(rng, TEX, 4.0),
            low=periodic_noise(rng, TEX, 30.0),
            grain=periodic_noise(rng, TEX, 0.6),
        )


def window(tex: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """A (h, w) window of a periodic texture starting at (x0, y0), wrapping around (a view when it can)."""
    n = tex.shape[0]
    xs, ys = x0 % n, y0 % n
    if xs + w <= n and ys + h <= n:
        return tex[ys : ys + h, xs : xs + w]
    rows = np.take(tex, np.arange(ys, ys + h), axis=0, mode="wrap")
    return np.take(rows, np.arange(xs, xs + w), axis=1, mode="wrap")
