"""``zoomgrade models check DIR``: is this model folder usable, and what does it grade in?
``zoomgrade models fit-stop DIR --slides SLIDES``: fit the early stop's measured values for it."""

from __future__ import annotations

from pathlib import Path

import typer

from ..evaluation.stop_fit import MIN_SLIDES
from .common import fail, guarded, stdout

app = typer.Typer(
    help="Model folders: check one before grading with it; fit its early stop on validation slides.",
    no_args_is_help=True,
)


@app.command("check")
@guarded
def check(folder: Path = typer.Argument(..., help="Model folder (stage1.json/stage2.json and their weights).")) -> None:
    """Load a model folder, run a small test batch through each stage, and print what was found (exit 0)
    or exactly what is wrong (one line, exit 2)."""
    from ..models.check import check_model_folder

    out = stdout()
    for line in check_model_folder(folder):
        out.print(line, highlight=False, soft_wrap=True)


@app.command("fit-stop")
@guarded
def fit_stop(
    folder: Path = typer.Argument(..., help="Model folder whose stage-1 card gets the early stop's record."),
    slides: Path = typer.Option(..., "--slides", help="Folder of validation slides (any the models grade)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the fit; leave the card as it is."),
    out: Path | None = typer.Option(None, "--out", help="Also write each slide's counts and the record (JSON)."),
    min_slides: int = typer.Option(
        MIN_SLIDES,
        "--min-slides",
        min=1,
        help="Fit a coarse grade only from at least this many slides with its regions: fewer cannot say how slides differ, and the stop would trust a rate new slides often exceed (docs/models.md).",
    ),
) -> None:
    """Fit a model folder's early stop on validation slides and write it into its stage-1 card.

    Grades every slide of --slides reading every region, fits the early stop's measured values (how often
    stage 1 under-grades, and how that varies from slide to slide) and writes them into FOLDER's stage-1
    card. A slide that cannot be graded is named and left out; with none graded, or with too few to fit
    anything, the card is left as it was (exit 2)."""
    from ..atomic import atomic_write_json
    from ..evaluation.stop_fit import describe, fit_early_stop, fitted_anything, write_early_stop

    say = stdout()
    fitted = fit_early_stop(
        folder, slides, lambda line: say.print(line, highlight=False, soft_wrap=True), min_slides=min_slides
    )
    for line in describe(fitted.record, fitted.thin, min_slides):
        say.print(line, highlight=False, soft_wrap=True)
    if out is not None:
        atomic_write_json(out, {"rows": fitted.rows, "early_stop": fitted.record})
    if not fitted_anything(fitted.record):
        raise fail(
            f"{slides}: {len(fitted.rows)} slides graded, too few to fit anything (--min-slides {min_slides}); "
            f"{folder}/stage1.json is unchanged"
        )
    if dry_run:
        say.print(f"measured on {fitted.record['measured_on']}; --dry-run: the card is unchanged", highlight=False)
        return
    path = write_early_stop(folder, fitted.record)
    say.print(f"wrote the early stop's record into {path} ({fitted.record['measured_on']})", highlight=False)
