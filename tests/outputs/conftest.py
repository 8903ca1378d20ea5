"""Fixtures for the writers: a real slide file drawn in tmp_path and a real SlideResult over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from result_factory import draw_slide, make_result

from zoomgrade.types import SlideResult


@pytest.fixture(scope="session")
def flat_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return draw_slide(tmp_path_factory.mktemp("slide") / "smear.png")


@pytest.fixture
def result(flat_slide: Path) -> SlideResult:
    return make_result(flat_slide)
