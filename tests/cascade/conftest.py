"""Fixtures for the cascade tests (builders in cascade_builders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomgrade.labels import TBSRTC

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "zoomgrade" / "weights"


def have_weights() -> bool:
    return (WEIGHTS / "stage1.safetensors").exists() and (WEIGHTS / "stage2.safetensors").exists()


@pytest.fixture
def labels():
    return TBSRTC


@pytest.fixture(scope="session")
def shipped_models():
    """The shipped weights; tests of accuracy and cost skip without them."""
    if not have_weights():
        pytest.skip(f"shipped weights not found in {WEIGHTS}")
    from zoomgrade.models.folder import load_default_models

    return load_default_models("cpu")


@pytest.fixture(scope="session")
def any_models():
    """Shipped weights when present, else real networks with untrained weights: enough for tests that
    check the cascade never crashes and accounts what it reads, whatever the grades."""
    if have_weights():
        from zoomgrade.models.folder import load_default_models

        return load_default_models("cpu")
    from cascade_builders import untrained_runners

    return untrained_runners()
