"""Shared test fixtures: small synthetic slides, generated once per session and cached per arguments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

#: Real scanner files, read in place beside the repository (never copied in).
REAL_SLIDES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-slides"


@pytest.fixture(scope="session")
def real() -> Path:
    """The real slides folder; tests that need it skip with the reason where it is absent."""
    if not (REAL_SLIDES / "README.md").exists():
        pytest.skip(f"real slides not found at {REAL_SLIDES}")
    return REAL_SLIDES


@pytest.fixture(scope="session")
def synth_slide(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``synth_slide(category, seed=1_000_000 + k, size_mm=(4, 4), stain="pap") -> Path`` of an
    Aperio-style .svs with its .geojson and .truth.json beside it (see ``zoomgrade.synth.truth_paths``)."""
    from zoomgrade.synth import write_slide

    root = tmp_path_factory.mktemp("synth")
    cache: dict[tuple, Path] = {}

    def make(
        category: str = "II",
        seed: int | None = None,
        size_mm: tuple[float, float] = (4, 4),
        stain: str = "pap",
        level_step: int = 4,
    ) -> Path:
        seed = 1_000_000 + ("I", "II", "III", "IV", "V", "VI").index(category) if seed is None else seed
        key = (category, seed, (float(size_mm[0]), float(size_mm[1])), stain, level_step)
        if key not in cache:
            name = f"{category}-{seed}-{size_mm[0]:g}x{size_mm[1]:g}-{stain}-{level_step}.svs"
            path = root / name
            write_slide(path, category, stain, size_mm, seed, level_step)
            cache[key] = path
        return cache[key]

    return make
