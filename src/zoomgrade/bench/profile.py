"""A cProfile of one cascade grading, written beside the benchmark's report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text


def profile_cascade(path: Path, models: tuple[Any, Any], cfg: Any, dest: Path, top: int = 40) -> Path:
    """cProfile of one cascade grading (reader thread not included: cProfile sees the calling thread),
    sorted by cumulative and by own time."""
    import cProfile
    import io
    import pstats

    from ..cascade import grade

    prof = cProfile.Profile()
    prof.enable()
    grade(path, cfg, mode="cascade", models=models)
    prof.disable()
    buf = io.StringIO()
    for key in ("cumulative", "tottime"):
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
    atomic_write_text(dest, buf.getvalue())
    return dest
