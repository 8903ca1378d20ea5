"""Fixtures for the viewer: a small results folder graded for real (two synthetic slides, one with a hostile
name, and one failure in summary.csv), and a running viewer over a folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from viewer_helpers import HOSTILE


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory, synth_slide: Callable[..., Path]) -> Path:
    """A batch-like output folder: ``OUT/<slide>/`` per slide (grade + save, the writers of every command),
    ``summary.csv`` with the graded rows and one failed slide."""
    import zoomgrade
    from zoomgrade.outputs import failure_row, write_summary_csv

    root = tmp_path_factory.mktemp("viewer")
    slides = root / "slides"
    slides.mkdir()
    malignant = shutil.copy(synth_slide("VI", size_mm=(3, 3)), slides / "smear-VI.svs")
    benign = shutil.copy(synth_slide("II", size_mm=(3, 3)), slides / HOSTILE)
    out = root / "out"
    results = []
    for path in (malignant, benign):
        r = zoomgrade.grade(path)
        zoomgrade.save_result(r, out / Path(path).stem)
        results.append(r)
    rows = [*results, failure_row(slides / "broken.svs", "SlideError: broken.svs: not a slide file")]
    write_summary_csv(rows, out / "summary.csv")
    return out


@pytest.fixture
def serve() -> Iterator[Callable[[Path], object]]:
    """Factory: ``serve(results_dir) -> ViewerServer`` started on a free local port, stopped after the test."""
    from zoomgrade.viewer import ViewerServer

    servers = []

    def start(folder: Path) -> ViewerServer:
        s = ViewerServer(folder).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
