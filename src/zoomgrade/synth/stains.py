"""Stain palettes: what each stained thing absorbs, as optical density (OD) per RGB channel.

Rendering works in OD space (Beer-Lambert): every object adds its OD and the pixel is
``background * exp(-OD)``. Overlapping cells therefore darken the way stacked stained material does,
and the result does not depend on drawing order (deterministic and parallel-safe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Reference illumination that palette colours are defined against.
_REF = 245.0

# Target RGB at unit density on clear glass, per stain (from the usual look of Pap and Diff-Quik smears).
_COLOURS: dict[str, dict[str, tuple[int, int, int]]] = {
    "pap": {
        "nucleus": (62, 58, 118),  # blue-purple to dark blue
        "cytoplasm": (196, 214, 206),  # pale green / blue-grey
        "rbc": (232, 142, 118),  # orange-red
        "colloid_thin": (200, 222, 214),  # watery green-blue
        "colloid_thick": (226, 160, 110),  # dense, orange
        "plasma": (206, 206, 224),  # proteinaceous background
        "macrophage": (214, 200, 196),  # foamy pinkish-grey
        "hemosiderin": (150, 110, 60),  # golden-brown granules
        "debris": (150, 140, 160),
        "psammoma": (150, 130, 170),
    },
    "diffquik": {
        "nucleus": (78, 38, 112),  # dark purple
        "cytoplasm": (172, 176, 210),  # blue-grey
        "rbc": (214, 128, 150),  # salmon pink
        "colloid_thin": (218, 178, 218),  # lilac
        "colloid_thick": (168, 86, 170),  # magenta-violet
        "plasma": (212, 200, 224),
        "macrophage": (190, 180, 214),
        "hemosiderin": (60, 60, 110),  # blue-black granules in Romanowsky stains
        "debris": (130, 110, 150),
        "psammoma": (120, 90, 160),
    },
}

STAINS = tuple(_COLOURS)


def _od(rgb: np.ndarray) -> np.ndarray:
    return np.log(_REF / np.clip(rgb, 1.0, _REF)).astype(np.float32)


@dataclass(frozen=True)
class Palette:
    """OD vectors (3,) per material, plus the slide's glass colour and overall stain strength."""

    stain: str
    background: np.ndarray  # (3,) float32, glass colour 0-255
    od: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.od[name]


def make_palette(stain: str, rng: np.random.Generator) -> Palette:
    """The slide's palette: the stain's colours with per-slide hue jitter and intensity (strength) jitter."""
    if stain not in _COLOURS:
        raise ValueError(f"unknown stain {stain!r}; expected one of {', '.join(STAINS)}")
    strength = float(rng.uniform(0.8, 1.2))  # stain batch / staining time
    od = {}
    for name, rgb in _COLOURS[stain].items():
        jitter = rng.normal(0.0, 7.0, 3)
        od[name] = _od(np.asarray(rgb, np.float64) + jitter) * strength
    background = np.clip(np.array([244.0, 242.0, 240.0]) + rng.normal(0.0, 3.0, 3), 230, 252).astype(np.float32)
    return Palette(stain=stain, background=background, od=od)
