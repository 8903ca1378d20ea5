"""``zoomgrade demo``: generate a synthetic slide of a known category and grade it, to see what zoomgrade gives."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..outputs.naming import output_dirs
from .common import EXIT_OK, EXIT_WITHHELD, MODELS_HELP, fail, guarded, stderr
from .grade import Device, run_grade


@guarded
def demo_cmd(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the slide and the results (default: a new temporary folder, kept)."
    ),
    category: str = typer.Option(
        "VI",
        "--category",
        help="Category of the generated slide, in the synthetic generator's label set (TBSRTC I-VI).",
    ),
    seed: int = typer.Option(
        1_000_001, "--seed", help="Random seed of the generated slide (>= 1000000: never seen in training)."
    ),
    size_mm: float = typer.Option(4.0, "--size-mm", help="Side of the generated square smear in mm."),
    device: Device | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda if available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print where the report is."),
    models_dir: Path | None = typer.Option(
        None,
        "--models",
        help=MODELS_HELP,
    ),
) -> None:
    """Generate a synthetic thyroid FNA slide (4 x 4 mm, known category) and grade it: see what zoomgrade gives you."""
    from ..labels import TBSRTC
    from ..synth import write_slide

    if category not in TBSRTC.category_names:
        raise fail(f"--category: {category!r} is not one of {', '.join(TBSRTC.category_names)}")
    if not 0.5 <= size_mm <= 50:
        raise fail(f"--size-mm: expected 0.5 to 50 mm, got {size_mm:g}")
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="zoomgrade-demo-"))
    slide_path = root / "slides" / f"demo-{category}-{seed}.svs"
    slide_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task(f"generating a {size_mm:g} x {size_mm:g} mm category {category} slide", total=None)
        write_slide(
            slide_path,
            category=category,
            size_mm=(size_mm, size_mm),
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if not quiet:
        stderr().print(
            f"slide (true category {category}, seed {seed}) written in {time.perf_counter() - t0:.1f} s: {slide_path}",
            highlight=False,
            soft_wrap=True,
        )
    code = run_grade([slide_path], root, device=device.value if device else None, quiet=quiet, models_dir=models_dir)
    if code in (EXIT_OK, EXIT_WITHHELD):
        typer.echo(f"report: {output_dirs([slide_path], root)[0] / 'report.html'}")
    raise typer.Exit(code)
