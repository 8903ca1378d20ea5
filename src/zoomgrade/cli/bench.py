"""``zoomgrade bench``: the cascade against exhaustive tiling, side by side, and against its own floor."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from ..errors import ZoomgradeError
from .common import freeze_heap, guarded


@guarded
def bench(
    slides: int | None = typer.Option(
        None,
        "--slides",
        help="Slides to grade (default 12; 6 with --quick). With --input: at most this many of the folder's slides.",
    ),
    size_mm: tuple[float, float] | None = typer.Option(
        None, "--size-mm", help="Generated slide width and height in mm (default 20 20; 4 4 with --quick)."
    ),
    seed: int = typer.Option(
        2_000_000,
        "--seed",
        help="First slide seed (>= 2,000,000: held out from training "
        "and evaluation); slide k uses seed + k, categories I-VI in turn.",
    ),
    out: Path = typer.Option(
        Path("out/bench"),
        "--out",
        help="Folder for bench.json, bench.md and slides/ (generated slides are reused when present).",
    ),
    quick: bool = typer.Option(False, "--quick", help="A small run: 6 slides of 4 x 4 mm."),
    input_dir: Path | None = typer.Option(
        None, "--input", help="Benchmark these slides instead (each with OUT.truth.json and OUT.geojson beside it)."
    ),
    weights: Path | None = typer.Option(
        None,
        "--models",
        "--weights",
        help="Model folder (stage1/stage2 weights and cards; default: the shipped weights).",
    ),
    config: Path | None = typer.Option(None, "--config", help="Grading config TOML (default: built-in)."),
    threads: int | None = typer.Option(
        None, "--threads", help="model threads, ONNX Runtime and torch (default: usable cores)."
    ),
    floor_repeats: int = typer.Option(1, "--floor-repeats", help="Repeat the floor measurement, keep the fastest."),
    memory_probe: bool = typer.Option(
        True,
        "--memory-probe/--no-memory-probe",
        help="Measure each mode's peak memory in a fresh process (first slide).",
    ),
    profile: bool = typer.Option(
        False, "--profile", help="Also cProfile one cascade run of the first slide (OUT/cascade-profile.txt)."
    ),
    separability: bool = typer.Option(
        False,
        "--separability",
        help="Also measure how well small classifiers "
        "tell the synthetic grades apart at high vs low power (about 7 minutes).",
    ),
) -> None:
    """Grade held-out slides by the cascade and by exhaustive tiling in one process; write bench.json and bench.md."""
    from ..bench.options import BenchOptions
    from ..bench.report import to_markdown
    from ..bench.run import run_bench

    if slides is not None and slides < 1:
        raise ZoomgradeError(f"--slides {slides}: must be at least 1")
    opts = BenchOptions(
        out=out,
        slides=slides,
        size_mm=(float(size_mm[0]), float(size_mm[1])) if size_mm else None,
        seed=seed,
        quick=quick,
        input_dir=input_dir,
        weights=weights,
        config=config,
        threads=threads,
        floor_repeats=floor_repeats,
        memory_probe=memory_probe,
        profile=profile,
        separability=separability,
        command="zoomgrade " + shlex.join(sys.argv[1:])
        if "bench" in sys.argv[1:]
        else "zoomgrade bench " + shlex.join(sys.argv[1:]),
    )
    freeze_heap()  # as `zoomgrade grade` does once its models are loaded
    record = run_bench(opts)
    typer.echo(to_markdown(record))
    typer.echo(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
