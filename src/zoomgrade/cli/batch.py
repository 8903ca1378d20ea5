"""zoomgrade batch: grade a folder or a list of slides on Dask (thin shell over zoomgrade.batch.batch)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape as esc

from .common import debug_enabled, guarded, stderr, stdout

#: failures listed on the terminal (all of them are in failures.csv)
SHOW_FAILURES = 10


@guarded
def batch(
    input: str = typer.Argument(
        ..., metavar="INPUT", help="A folder (searched recursively for slide files) or a .txt/.csv list of paths."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder: one sub-folder per slide, summary.csv, failures.csv."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, max=1024, help="Local worker processes (default: one per core)."
    ),
    threads_per_worker: int | None = typer.Option(
        None,
        "--threads-per-worker",
        "-t",
        min=1,
        max=1024,
        help="model/BLAS threads per worker (default: cores / workers).",
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786)."
    ),
    retries: int = typer.Option(2, "--retries", min=0, max=100, help="Times a slide is retried after its worker dies."),
    force: bool = typer.Option(False, "--force", help="Regrade slides that are already done."),
    mode: str = typer.Option("cascade", "--mode", help="cascade, exhaustive or both."),
    config: Path | None = typer.Option(None, "--config", help="Grading configuration (TOML)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; only the final line and errors."),
    models: Path | None = typer.Option(
        None,
        "--models",
        help="Model folder (stage1/stage2 weights and cards; "
        "default: the config's models.folder, else the shipped weights).",
    ),
) -> None:
    """Grade many slides on Dask: resumable (done slides are skipped), fault tolerant (failures.csv).

    Exit code 0: every slide graded or skipped; 1: some slides failed (the others are written);
    2: bad usage (no slides found, bad config, unreachable scheduler, OUT busy with another run);
    3: none failed, but some slides were withheld (no category: quality control or outside the models' domain);
    130: interrupted (Ctrl-C; what finished is in summary.csv).
    """
    from ..batch import batch as run_batch

    summary = run_batch(
        input,
        out,
        workers=workers,
        threads_per_worker=threads_per_worker,
        scheduler=scheduler,
        retries=retries,
        force=force,
        config=config,
        mode=mode,
        progress=not quiet,
        models=models,
        debug=debug_enabled(),
    )
    err = stderr()
    for w in summary.warnings:
        err.print(f"[yellow]warning:[/] {esc(w)}", highlight=False, soft_wrap=True)
    failed = [r for r in summary.rows if r.status == "failed"]
    for r in failed[:SHOW_FAILURES]:
        err.print(f"[red]failed:[/] {esc(f'{r.slide}: {r.error_class}: {r.error}')}", highlight=False, soft_wrap=True)
    if len(failed) > SHOW_FAILURES:
        err.print(
            f"... and {len(failed) - SHOW_FAILURES} more in {summary.failures_csv}", highlight=False, markup=False
        )
    rate = (
        f", {summary.slides_per_hour:.0f} slides/h ({summary.steady_slides_per_hour:.0f} after "
        f"{summary.startup_seconds:.1f} s start-up)"
        if summary.graded
        else ""
    )
    lost = f", {summary.lost_attempts} attempt(s) lost to dead workers" if summary.lost_attempts else ""
    stdout().print(
        f"graded {summary.graded}, withheld {summary.withheld}, skipped {summary.skipped}, "
        f"failed {summary.failed} "
        f"in {summary.seconds:.1f} s{rate}{lost}; summary: {summary.summary_csv}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    raise typer.Exit(summary.exit_code)
