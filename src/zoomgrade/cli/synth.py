"""``zoomgrade synth`` and ``zoomgrade synth-set``: synthetic thyroid FNA slides with ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.markup import escape as esc
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ZoomgradeError
from .common import guarded, stderr, stdout


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    )


def _size(size_mm: list[float] | None) -> tuple[float, float]:
    if not size_mm:
        return (4.0, 4.0)
    if len(size_mm) != 2:
        raise ZoomgradeError(f"--size-mm takes two numbers (width height), got {len(size_mm)}")
    return float(size_mm[0]), float(size_mm[1])


@guarded
def synth(
    out: Path = typer.Argument(..., help="Output slide path (OUT.svs); OUT.geojson and OUT.truth.json go beside it."),
    category: str = typer.Option("II", "--category", "-c", help="TBSRTC category: I, II, III, IV, V or VI."),
    stain: str = typer.Option("pap", "--stain", help="pap or diffquik."),
    size_mm: tuple[float, float] | None = typer.Option((4.0, 4.0), "--size-mm", help="Slide width and height in mm."),
    seed: int = typer.Option(0, "--seed", help="Random seed (training < 100000; evaluation >= 1000000)."),
    level_step: int = typer.Option(4, "--level-step", help="Downsample between pyramid levels: 4 (Aperio) or 2."),
    workers: int | None = typer.Option(None, "--workers", help="Render processes (default: up to 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print the truth record as JSON."),
) -> None:
    """Write one synthetic thyroid FNA slide (pyramidal Aperio TIFF) with its QuPath GeoJSON and truth."""
    from ..synth import write_slide

    size = _size(list(size_mm) if size_mm else None)
    t0 = time.perf_counter()
    try:
        with _progress() as bar:
            task = bar.add_task(f"rendering {esc(out.name)}", total=None)
            truth = write_slide(
                out,
                category.upper(),
                stain.lower(),
                size,
                seed,
                level_step,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ValueError as err:
        raise ZoomgradeError(f"{out}: {err}") from None
    secs = time.perf_counter() - t0
    if as_json:
        stdout().print_json(json.dumps(truth))
        return
    counts = ", ".join(f"{k}:{v}" for k, v in truth["counts"].items() if v)
    stdout().print(
        f"[bold]{esc(str(out))}[/] {truth['width']}x{truth['height']} px, {len(truth['levels'])} levels, category "
        f"[bold]{truth['category']}[/] ({truth['category_name']}), {truth['n_groups']} groups ({counts}), "
        f"{secs:.1f} s",
        highlight=False,
    )


@guarded
def synth_set(
    out_dir: Path = typer.Argument(..., help="Folder for the slides and manifest.json."),
    n: int = typer.Option(12, "--n", help="Number of slides (balanced over I-VI)."),
    seed: int = typer.Option(0, "--seed", help="First slide seed; slide k uses seed + k."),
    size_mm: tuple[float, float] | None = typer.Option((4.0, 4.0), "--size-mm", help="Slide width and height in mm."),
    level_step: int = typer.Option(4, "--level-step", help="Downsample between pyramid levels: 4 or 2."),
    workers: int | None = typer.Option(None, "--workers", help="Render processes per slide (default: up to 2)."),
) -> None:
    """Write a balanced set of synthetic slides with manifest.json (train/val/test split by seed)."""
    from ..synth import write_set

    if n < 1:
        raise ZoomgradeError(f"{out_dir}: --n must be at least 1")
    size = _size(list(size_mm) if size_mm else None)
    t0 = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("slides", total=n)
        manifest = write_set(
            out_dir,
            n,
            seed,
            size,
            level_step=level_step,
            workers=workers,
            progress=lambda k, total, name: bar.update(task, completed=k, description=esc(name) if name else "done"),
        )
    splits = ", ".join(f"{k}: {len(v)}" for k, v in manifest["splits"].items())
    stdout().print(
        f"[bold]{esc(str(out_dir))}[/]: {n} slides ({esc(splits)}) in {time.perf_counter() - t0:.1f} s; "
        f"manifest {esc(str(Path(out_dir) / 'manifest.json'))}",
        highlight=False,
    )
