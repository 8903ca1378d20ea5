"""One slide of ``zoomgrade grade``: the config it is graded with, open -> grade -> save into its folder
(a failure is returned as one line, never raised), and the summary line printed for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape as esc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ZoomgradeError
from ..types import Mode as RunMode
from .common import check_number, stderr
from .progress import progress_callback


@dataclass
class Outcome:
    path: str
    out_dir: Path | None = None
    row: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    bad_input: bool = False  # the slide itself was the problem (exit 2 if every slide is like that)


def config_from_options(
    config: Path | None, no_fallback: bool, budget_mpx: float | None, read_all: bool = False
) -> Any:
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


def grade_one(
    path: Path,
    out_dir: Path,
    *,
    cfg: Any,
    mode: RunMode,
    mpp: float | None,
    backend: str | None,
    models: Any,
    show_progress: bool,
    force_out_of_domain: bool = False,
) -> Outcome:
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
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=not show_progress,
            ) as progress:
                report = progress_callback(progress, path.name)
                t0, c0 = time.perf_counter(), time.process_time()
                result = grade(
                    slide, cfg, mode=mode, models=models, progress=report, force_out_of_domain=force_out_of_domain
                )
                t_grade, c_grade = time.perf_counter() - t0, time.process_time() - c0
                report("write", 0, 1)
                # the whole command's split (open, grade, write) goes to timings.json beside the outputs
                save_result(
                    result, out_dir, slide=slide, timings={"open": t_open, "grade": t_grade, "grade_cpu": c_grade}
                )
                report("write", 1, 1)
    except ZoomgradeError as err:
        outcome.error, outcome.bad_input = str(err), True
        return outcome
    except OSError as err:
        outcome.error, outcome.bad_input = f"{getattr(err, 'filename', None) or path}: {err.strerror or err}", True
        return outcome
    except Exception as err:
        outcome.error = (
            f"{path}: {err.__class__.__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        )
        return outcome
    outcome.out_dir = out_dir
    outcome.row = summary_row(result, out_dir)
    return outcome


def summary_line(o: Outcome) -> str:
    """The one-line summary of a graded slide (rich markup; every value escaped)."""
    r = o.row
    if r.get("status") == "withheld":  # no category to show: say why, plainly
        return (
            f"[bold]{esc(Path(o.path).name)}[/]  [bold]WITHHELD[/] (not graded): {esc(r.get('withheld_reasons', ''))}"
            f", {r['wall_seconds']:.1f} s -> {esc(str(o.out_dir))}/report.html"
        )
    counts = " ".join(f"{k[2:]}:{v}" for k, v in r.items() if k.startswith("n_") and k != "n_regions" and v)
    adequacy = "adequate" if r["adequate"] else "NOT adequate"
    n = r["n_regions"]
    forced = "[bold red]FORCED outside the models' domain[/] " if r.get("forced_out_of_domain") else ""
    text = (
        f"[bold]{esc(Path(o.path).name)}[/]  {forced}[bold]{esc(r['category'])}[/] {esc(r['category_name'])} "
        f"(risk {r['risk_of_malignancy']:.0%}), {adequacy}, {n} region{'' if n == 1 else 's'} "
        f"{esc('[' + (counts or 'none') + ']')}, {r['wall_seconds']:.1f} s"
    )
    if r.get("exhaustive_category"):
        same = "same" if r.get("category_agreement") is True else "DIFFERENT"
        text += f"; exhaustive: {esc(str(r['exhaustive_category']))} ({same})"
    return text + f" -> {esc(str(o.out_dir))}/report.html"
