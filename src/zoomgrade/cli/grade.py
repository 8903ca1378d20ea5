"""zoomgrade grade / zoomgrade demo: grade slides and write what a person checks (a thin shell over
``zoomgrade.grade`` and ``zoomgrade.outputs.save_result``)."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape as esc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
    check_number,
    fail,
    guarded,
    set_torch_threads,
    stderr,
    stdout,
)
from .progress import progress_callback

#: --mpp: no scanner resolves finer than 0.05 um/px; a level 0 coarser than 100 um/px is not a slide
MPP_RANGE = (0.05, 100.0)
MAX_THREADS = 1024



#: The CLI's choice of mode, made from the one definition (zoomgrade.types.Mode).
Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class Outcome:
    path: str
    out_dir: Path | None = None
    row: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    bad_input: bool = False  # the slide itself was the problem (exit 2 if every slide is like that)


def _config(config: Path | None, no_fallback: bool, budget_mpx: float | None, read_all: bool = False) -> Any:
    """The one resolver (``cascade.config.resolve_config``), then the options that override it, validated
    again as a whole: a bad file or value is one line and exit 2 before any slide is opened."""
    from ..cascade.config import resolve_config, validate

    cfg = resolve_config(config)
    if read_all:
        cfg.early_stop.enabled = False
    if no_fallback:
        cfg.fallback.enabled = False
    if budget_mpx is not None:
        check_number("--budget-mpx", budget_mpx, 0.0)
        cfg.budget.high_power_megapixels = budget_mpx
    return validate(cfg, str(config) if config else "options")


def check_config_labels(cfg: Any, models: Any, source: Path | None) -> None:
    """A config naming a grade the models' label set lacks: refused before any slide is read."""
    from ..cascade.labelled import config_for_labels
    from ..models.folder import agreed_label_set

    config_for_labels(cfg, agreed_label_set(*models), str(source) if source else "config")


def grade_one(path: Path, out_dir: Path, *, cfg: Any, mode: RunMode, mpp: float | None, backend: str | None,
              models: Any, show_progress: bool, force_out_of_domain: bool = False) -> Outcome:
    """Open, grade and save one slide; a failure is returned (one line), never raised."""
    from ..batch.fingerprint import clear_done
    from ..cascade import grade
    from ..outputs import save_result, summary_row
    from ..slide import open_slide

    outcome = Outcome(str(path))
    console = stderr()
    show_progress = show_progress and console.is_terminal  # no bars (nor their blank lines) in logs/pipes
    try:
        # A batch's record in this folder would describe the result being replaced: forget it first, so a
        # later batch regrades the slide instead of skipping it with a stale summary.
        clear_done(out_dir)
        t0 = time.perf_counter()
        with open_slide(path, mpp=mpp, backend=backend, memory_mb=cfg.limits.memory_mb) as slide:
            t_open = time.perf_counter() - t0
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True,
                          disable=not show_progress) as progress:
                report = progress_callback(progress, path.name)
                t0, c0 = time.perf_counter(), time.process_time()
                result = grade(slide, cfg, mode=mode, models=models, progress=report,
                               force_out_of_domain=force_out_of_domain)
                t_grade, c_grade = time.perf_counter() - t0, time.process_time() - c0
                report("write", 0, 1)
                # the whole command's split (open, grade, write) goes to timings.json beside the outputs
                save_result(result, out_dir, slide=slide, timings={"open": t_open, "grade": t_grade,
                                                                      "grade_cpu": c_grade})
                report("write", 1, 1)
    except ZoomgradeError as err:
        outcome.error, outcome.bad_input = str(err), True
        return outcome
    except OSError as err:
        outcome.error, outcome.bad_input = f"{getattr(err, 'filename', None) or path}: {err.strerror or err}", True
        return outcome
    except Exception as err:
        outcome.error = f"{path}: {err.__class__.__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        return outcome
    outcome.out_dir = out_dir
    outcome.row = summary_row(result, out_dir)
    return outcome


def _line(o: Outcome) -> str:
    """The one-line summary of a graded slide (rich markup; every value escaped)."""
    r = o.row
    if r.get("status") == "withheld":  # no category to show: say why, plainly
        return (f"[bold]{esc(Path(o.path).name)}[/]  [bold]WITHHELD[/] (not graded): {esc(r.get('withheld_reasons', ''))}"
                f", {r['wall_seconds']:.1f} s -> {esc(str(o.out_dir))}/report.html")
    counts = " ".join(f"{k[2:]}:{v}" for k, v in r.items() if k.startswith("n_") and k != "n_regions" and v)
    adequacy = "adequate" if r["adequate"] else "NOT adequate"
    n = r["n_regions"]
    forced = "[bold red]FORCED outside the models' domain[/] " if r.get("forced_out_of_domain") else ""
    text = (f"[bold]{esc(Path(o.path).name)}[/]  {forced}[bold]{esc(r['category'])}[/] {esc(r['category_name'])} "
            f"(risk {r['risk_of_malignancy']:.0%}), {adequacy}, {n} region{'' if n == 1 else 's'} "
            f"{esc('[' + (counts or 'none') + ']')}, {r['wall_seconds']:.1f} s")
    if r.get("exhaustive_category"):
        same = "same" if r.get("category_agreement") is True else "DIFFERENT"
        text += f"; exhaustive: {esc(str(r['exhaustive_category']))} ({same})"
    return text + f" -> {esc(str(o.out_dir))}/report.html"


def run_grade(slides: list[Path], out: Path, *, mode: RunMode = "cascade", mpp: float | None = None,
              backend: str | None = None, config: Path | None = None, device: str | None = None,
              quiet: bool = False, as_json: bool = False, no_fallback: bool = False,
              budget_mpx: float | None = None, threads: int | None = None, models_dir: Path | None = None,
              read_all: bool = False, force_out_of_domain: bool = False) -> int:
    """Grade ``slides`` into ``out``; returns the exit code (0 all graded, 1 some failed, 2 all bad input,
    3 none failed but some withheld)."""
    from ..models import load_models
    from ..outputs import failure_row, write_summary_csv

    check_number("--mpp", mpp, MPP_RANGE[0], MPP_RANGE[1], "um/px")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise ZoomgradeError(f"--threads: must be 1 to {MAX_THREADS}, got {threads}")
    cfg = _config(config, no_fallback, budget_mpx, read_all)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ZoomgradeError(f"--device cuda: no CUDA device usable by this torch ({torch.__version__}); "
                                 "use --device cpu")
    set_torch_threads(cfg.stage2.torch_threads or threads)  # the config's setting wins, as it always did
    # once for every slide: --models, else the config's models.folder, else the shipped weights
    models = load_models(models_dir or cfg.models.folder or None, device, cfg.models.label_set or None)
    check_config_labels(cfg, models, config)  # a grade the label set lacks: refused before any slide
    err, con = stderr(), stdout()
    slides, duplicates = unique_inputs(list(slides))
    for d in duplicates:
        err.print(f"note: {esc(str(d))} is a file already given (same file or a link to it): graded once",
                  highlight=False, soft_wrap=True)
    outcomes = []
    with output_lock(out):
        for path, out_dir in zip(slides, output_dirs(slides, out)):
            o = grade_one(path, out_dir, cfg=cfg, mode=mode, mpp=mpp, backend=backend, models=models,
                          show_progress=not quiet and not as_json,
                          force_out_of_domain=force_out_of_domain)
            outcomes.append(o)
            if o.error:
                err.print(f"[bold red]failed:[/] {esc(o.error)}", highlight=False, soft_wrap=True)
            elif not quiet and not as_json:
                con.print(_line(o), highlight=False, soft_wrap=True)
        summary = None
        if len(slides) > 1:
            rows = [o.row if not o.error else failure_row(o.path, o.error) for o in outcomes]
            summary = write_summary_csv(rows, out / "summary.csv")
    failed = [o for o in outcomes if o.error]
    withheld = [o for o in outcomes if not o.error and o.row.get("status") == "withheld"]
    code = (EXIT_WITHHELD if withheld else EXIT_OK) if not failed else (EXIT_BAD_INPUT if len(failed) == len(
        outcomes) and all(o.bad_input for o in failed) else EXIT_PARTIAL)
    if as_json:
        doc = {"out": str(out), "summary_csv": str(summary) if summary else None, "exit_code": code,
               "slides": [{**(o.row or failure_row(o.path, o.error or "")),
                           "report": str(o.out_dir / "report.html") if o.out_dir else None} for o in outcomes]}
        print(json.dumps(doc, indent=2, default=str))
    elif not quiet and (failed or withheld) and len(outcomes) > 1:
        n_graded = len(outcomes) - len(failed) - len(withheld)
        err.print(f"{n_graded} of {len(outcomes)} slides graded; {len(withheld)} withheld; {len(failed)} failed")
    return code


@guarded
def grade_cmd(
    slides: list[Path] = typer.Argument(..., help="Slide files (SVS, NDPI, MRXS, TIFF/OME-TIFF, DICOM, PNG/JPEG).",
                                        show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: OUT/<slide>/ per slide, OUT/summary.csv."),
    mode: Mode = typer.Option("cascade", "--mode", help="cascade (coarse-to-fine), exhaustive (tile all "
                              "tissue at high power) or both (the two side by side, with their agreement)."),
    mpp: float | None = typer.Option(None, "--mpp", help="Microns per pixel of level 0, for files that do not "
                                        "carry it (flat PNG/JPEG); overrides the file's value."),
    backend: str | None = typer.Option(None, "--backend", help="Force a reader: tifffile, openslide or pillow "
                                          "(default: probe the file's content)."),
    config: Path | None = typer.Option(None, "--config", help="TOML file overriding the default settings."),
    device: Device | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda if available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary lines (errors only)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary of the run on stdout."),
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Do not tile undecided regions; keep the "
                                     "stage-2 grade whatever its confidence."),
    budget_mpx: float | None = typer.Option(None, "--budget-mpx", help="Stop reading at high power after this "
                                               "many megapixels; later regions keep their stage-1 grade."),
    threads: int | None = typer.Option(None, "--threads", min=1, max=MAX_THREADS,
                                       help="Torch CPU threads (default: torch's choice)."),
    models_dir: Path | None = typer.Option(None, "--models", help="Model folder (stage1/stage2 weights and "
                                           "cards, docs/models.md; default: the config's models.folder, else "
                                           "the shipped weights). The label set comes from its cards."),
    read_all: bool = typer.Option(False, "--read-all", help="Read every region at high power, even once no unread "
                                  "region can change the slide's answer (early_stop.enabled = false)."),
    force_out_of_domain: bool = typer.Option(False, "--force-out-of-domain", help="Research only: grade slides the "
                                             "quality control or the domain gate would withhold; every output "
                                             "is marked as forced."),
) -> None:
    """Grade whole-slide images: low power first, then high power where it matters.

    Writes OUT/<slide>/result.json, regions.geojson (QuPath: File > Import objects), overlay.png, heatmap.png and report.html; OUT/summary.csv for several slides.

    Exit code 0: all graded; 1: some slides failed (the others are written); 2: bad usage or input
    (every slide bad, a bad option or config, the output folder busy); 3: none failed, but at least one
    was withheld (no category: see its report); 130: interrupted (Ctrl-C).
    """
    code = run_grade(slides, out, mode=mode.value, mpp=mpp, backend=backend, config=config,
                     device=device.value if device else None, quiet=quiet, as_json=as_json,
                     no_fallback=no_fallback, budget_mpx=budget_mpx, threads=threads, models_dir=models_dir,
                     read_all=read_all, force_out_of_domain=force_out_of_domain)
    raise typer.Exit(code)


@guarded
def demo_cmd(
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the slide and the results "
                                       "(default: a new temporary folder, kept)."),
    category: str = typer.Option("VI", "--category", help="Category of the generated slide, in the synthetic "
                                 "generator's label set (TBSRTC I-VI)."),
    seed: int = typer.Option(1_000_001, "--seed", help="Random seed of the generated slide (>= 1000000: "
                             "never seen in training)."),
    size_mm: float = typer.Option(4.0, "--size-mm", help="Side of the generated square smear in mm."),
    device: Device | None = typer.Option(None, "--device", help="cpu or cuda (default: cuda if available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print where the report is."),
    models_dir: Path | None = typer.Option(None, "--models", help="Model folder (stage1/stage2 weights and "
                                           "cards, docs/models.md; default: the config's models.folder, else "
                                           "the shipped weights). The label set comes from its cards."),
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
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stderr(), transient=True, disable=quiet) as progress:
        task = progress.add_task(f"generating a {size_mm:g} x {size_mm:g} mm category {category} slide", total=None)
        write_slide(slide_path, category=category, size_mm=(size_mm, size_mm), seed=seed,
                    progress=lambda done, total: progress.update(task, completed=done, total=total))
    if not quiet:
        stderr().print(f"slide (true category {category}, seed {seed}) written in "
                       f"{time.perf_counter() - t0:.1f} s: {slide_path}", highlight=False, soft_wrap=True)
    code = run_grade([slide_path], root, device=device.value if device else None, quiet=quiet, models_dir=models_dir)
    if code in (EXIT_OK, EXIT_WITHHELD):
        typer.echo(f"report: {output_dirs([slide_path], root)[0] / 'report.html'}")
    raise typer.Exit(code)
