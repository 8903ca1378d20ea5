"""Fixtures for slide tests: the real slides folder (skip if absent) and a small generated pyramid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoomgrade.bench.slide_io import write_aperio_from_array


@pytest.fixture(scope="session")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A 1200 x 1000 px Aperio-style SVS, 0.25 um/px, levels /4 (1200, 300, 75 px wide), 256 px JPEG tiles."""
    rng = np.random.default_rng(1_000_001)
    yy, xx = np.mgrid[0:1000, 0:1200]
    img = 128 + 80 * np.sin(xx / 37.0)[..., None] * np.cos(yy / 23.0)[..., None] * np.array([1.0, 0.5, -0.7])
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("pyramid") / "pyr.svs"
    levels = write_aperio_from_array(path, img, tile=256, step=4, n_levels=3, mpp=0.25, mag=40)
    return path, levels
