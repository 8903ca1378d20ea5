"""The slides ``zoomgrade bench`` grades: those of ``--input`` (each with its truth beside it), or held-out
synthetic slides generated once into OUT/slides and reused."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ZoomgradeError
from .options import MIN_SEED, BenchOptions, Log

SLIDE_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".mrxs", ".dcm", ".png", ".jpg", ".jpeg")


def planned_slides(n: int, size_mm: tuple[float, float], seed: int) -> list[tuple[str, str, int, str]]:
    """(file name, category, seed, stain) of each generated slide: categories I-VI in turn, stains
    alternating every six slides, consecutive seeds."""
    from ..synth import CATEGORIES, STAINS

    w, h = size_mm
    out = []
    for i in range(n):
        cat, stain, s = CATEGORIES[i % len(CATEGORIES)], STAINS[(i // len(CATEGORIES)) % len(STAINS)], seed + i
        out.append((f"{s}-{cat}-{stain}-{w:g}x{h:g}mm.svs", cat, s, stain))
    return out


def prepare_slides(opts: BenchOptions, log: Log) -> list[Path]:
    """Slides with truth: those in ``--input`` or generated once into OUT/slides (reused when present)."""
    from ..synth import truth_paths, write_slide

    if opts.input_dir is not None:
        d = Path(opts.input_dir)
        if not d.is_dir():
            raise ZoomgradeError(f"{d}: not a folder")
        found = sorted(
            p for p in d.iterdir() if p.suffix.lower() in SLIDE_SUFFIXES and all(q.exists() for q in truth_paths(p))
        )
        if not found:
            raise ZoomgradeError(f"{d}: no slides with truth beside them (OUT.truth.json + OUT.geojson)")
        return found[: opts.slides] if opts.slides else found
    if opts.seed < MIN_SEED:
        raise ZoomgradeError(
            f"--seed {opts.seed}: bench seeds must be >= {MIN_SEED:,} (held out from training "
            "and from the cascade's evaluation slides)"
        )
    d = Path(opts.out) / "slides"
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, cat, seed, stain in planned_slides(opts.n_slides, opts.size, opts.seed):
        p = d / name
        if not (p.exists() and all(q.exists() for q in truth_paths(p))):
            t = time.perf_counter()
            write_slide(p, cat, stain, opts.size, seed)
            log(f"generated {name} in {time.perf_counter() - t:.1f} s")
        paths.append(p)
    return paths
