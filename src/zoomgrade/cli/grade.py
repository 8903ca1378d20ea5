"""``zoomgrade grade``: grade slides and write what a person checks (a thin shell over ``zoomgrade.grade``
and ``zoomgrade.outputs.save_result``; one slide's run is ``cli/grade_slide.py``)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.markup import escape as esc

from ..errors import ZoomgradeError
from ..outputs.lock import output_lock
from ..outputs.naming import output_dirs, unique_inputs
from ..types import MODES
from ..types import Mode as RunMode
from .common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_WITHHELD,
    MAX_THREADS,
    MODELS_HELP,
    check_number,
    freeze_heap,
    guarded,
    stderr,
    stdout,
    threads_option,
)
from .grade_slide import check_config_labels, config_from_options, grade_one, summary_line

#: --mpp: no scanner resolves finer than 0.05 um/px; a level 0 coarser than 100 um/px is not a slide
MPP_RANGE = (0.05, 100.0)

#: The CLI's choice of mode, made from the one definition (zoomgrade.types.Mode).
Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


def run_grade(
    slides: list[Path],
    out: Path,
    *,
    mode: RunMode = "cascade",
    mpp: float | None = None,
    backend: str | None = None,
    config: Path | None = None,
    device: str | None = None,
    quiet: bool = False,
    as_json: bool = False,
    no_fallback: bool = False,
    budget_mpx: float | None = None,
    threads: int | None = None,
    models_dir: Path | None = None,
    read_all: bool = False,
    force_out_of_domain: bool = False,
) -> int:
    """Grade ``slides`` into ``out``; returns the exit code (0 all graded, 1 some failed, 2 all bad input,
    3 none failed but some withheld)."""
    from ..models import load_models
    from ..models.inference import set_threads_where_torch_runs
    from ..outputs import failure_row, write_summary_csv

    check_number("--mpp", mpp, MPP_RANGE[0], MPP_RANGE[1], "um/px")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise ZoomgradeError(f"--threads: must be 1 to {MAX_THREADS}, got {threads}")
    cfg = config_from_options(config, no_fallback, budget_mpx, read_all)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ZoomgradeError(
                f"--device cuda: no CUDA device usable by this torch ({torch.__version__}); use --device cpu"
            )
    n_threads = cfg.stage2.torch_threads or threads  # the config's setting wins, as it always did
    # once for every slide: --models, else the config's models.folder, else the shipped weights
    models = load_models(
        models_dir or cfg.models.folder or None, device, cfg.models.label_set or None, threads=n_threads
    )
    set_threads_where_torch_runs(models, n_threads)  # torch has one setting a process
    check_config_labels(cfg, models, config)  # a grade the label set lacks: refused before any slide
    freeze_heap()
    err, con = stderr(), stdout()
    slides, duplicates = unique_inputs(list(slides))
    for d in duplicates:
        err.print(
            f"note: {esc(str(d))} is a file already given (same file or a link to it): graded once",
            highlight=False,
            soft_wrap=True,
        )
    outcomes = []
    with output_lock(out):
        for path, out_dir in zip(slides, output_dirs(slides, out)):
            o = grade_one(
                path,
                out_dir,
                cfg=cfg,
                mode=mode,
                mpp=mpp,
                backend=backend,
                models=models,
                show_progress=not quiet and not as_json,
                force_out_of_domain=force_out_of_domain,
            )
            outcomes.append(o)
            if o.error:
                err.print(f"[bold red]failed:[/] {esc(o.error)}", highlight=False, soft_wrap=True)
            elif not quiet and not as_json:
                con.print(summary_line(o), highlight=False, soft_wrap=True)
        summary = None
        if len(slides) > 1:
            rows = [o.row if not o.error else failure_row(o.path, o.error) for o in outcomes]
            summary = write_summary_csv(rows, out / "summary.csv")
    failed = [o for o in outcomes if o.error]
    withheld = [o for o in outcomes if not o.error and o.row.get("status") == "withheld"]
    code = (
        (EXIT_WITHHELD if withheld else EXIT_OK)
        if not failed
        else (EXIT_BAD_INPUT if len(failed) == len(outcomes) and all(o.bad_input for o in failed) else EXIT_PARTIAL)
    )
    if as_json:
        doc = {
            "out": str(out),
            "summary_csv": str(summary) if summary else None,
            "exit_code": code,
            "slides": [
                {
                    **(o.row or failure_row(o.path, o.error or "")),
                    "report": str(o.out_dir / "report.html") if o.out_dir else None,
                }
                for o in outcomes
            ],
        }
        print(json.dumps(doc, indent=2, default=str))
    elif not quiet and (failed or withheld) and len(outcomes) > 1:
        n_graded = len(outcomes) - len(failed) - len(withheld)
        err.print(f"{n_graded} of {len(outcomes)} slides graded; {len(withheld)} withheld; {len(failed)} failed")
    return code


@guarded
def grade_cmd(
    slides: list[Path] = typer.Argument(
        ..., help="Slide files (SVS, NDPI, MRXS, TIFF/OME-TIFF, DICOM, PNG/JPEG).", show_default=False
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: OUT/<slide>/ per slide, OUT/summary.csv."),
    mode: Mode = typer.Option(
        "cascade",
        "--mode",
        help="cascade (coarse-to-fine), exhaustive (tile all "
        "tissue at high power) or both (the two side by side, with their agreement).",
    ),
    mpp: float | None = typer.Option(
        None,
        "--mpp",
        help="Microns per pixel of level 0, for files that do not "
        "carry it (flat PNG/JPEG); overrides the file's value.",
    ),
    backend: str | None = typer.Option(
        None, "--backend", help="Force a reader: tifffile, openslide or pillow (default: probe the file's content)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML file overriding the default settings."),
    device: Device | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda if available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary lines (errors only)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary of the run on stdout."),
    no_fallback: bool = typer.Option(
        False, "--no-fallback", help="Do not tile undecided regions; keep the stage-2 grade whatever its confidence."
    ),
    budget_mpx: float | None = typer.Option(
        None,
        "--budget-mpx",
        help="Stop reading at high power after this many megapixels; regions are read most likely severe first (stage 1), the rest keep their stage-1 grade.",
    ),
    threads: int | None = threads_option(),
    models_dir: Path | None = typer.Option(
        None,
        "--models",
        help=MODELS_HELP,
    ),
    read_all: bool = typer.Option(
        False,
        "--read-all",
        help="Read every region at high power, even once no unread "
        "region can change the slide's answer (early_stop.enabled = false).",
    ),
    force_out_of_domain: bool = typer.Option(
        False,
        "--force-out-of-domain",
        help="Research only: grade slides the "
        "quality control or the domain gate would withhold; every output "
        "is marked as forced.",
    ),
) -> None:
    """Grade whole-slide images: low power first, then high power where it matters.

    Writes OUT/<slide>/result.json, regions.geojson (QuPath: File > Import objects), overlay.png, heatmap.png and report.html; OUT/summary.csv for several slides.

    Exit code 0: all graded; 1: some slides failed (the others are written); 2: bad usage or input
    (every slide bad, a bad option or config, the output folder busy); 3: none failed, but at least one
    was withheld (no category: see its report); 130: interrupted (Ctrl-C).
    """
    code = run_grade(
        slides,
        out,
        mode=mode.value,
        mpp=mpp,
        backend=backend,
        config=config,
        device=device.value if device else None,
        quiet=quiet,
        as_json=as_json,
        no_fallback=no_fallback,
        budget_mpx=budget_mpx,
        threads=threads,
        models_dir=models_dir,
        read_all=read_all,
        force_out_of_domain=force_out_of_domain,
    )
    raise typer.Exit(code)
