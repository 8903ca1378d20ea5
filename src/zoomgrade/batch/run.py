"""The batch driver: decide what is already done, send one Dask task per remaining slide, collect rows
as they finish (progress bar + ETA), and write summary.csv and failures.csv.

Failures come in two kinds and are handled where they belong:
- a slide that raises (bad file, ZoomgradeError, MemoryError, ...) is caught inside its task and
  comes back as a "failed" row: retrying a corrupt file would fail the same way;
- a worker that dies under a slide (killed, out of memory, segfault) is Dask's business: the
  scheduler reschedules the task on another worker up to ``allowed-failures`` times, then reports
  ``KilledWorker``. ``retries`` sets that number on the local cluster; the attempts are read back
  from the scheduler's own count and written to summary.csv.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any, cast

from ..errors import ZoomgradeError
from ..outputs.lock import output_lock
from ..types import MODES, Mode
from .cluster import ClusterHandle, ClusterPlan, open_cluster, plan_local
from .fingerprint import SlideKey, config_hash, input_fingerprint, model_versions, read_done
from .inputs import SlideInput, resolve_inputs
from .progress import BatchProgress, say
from .report import FAILURES_FILE, SUMMARY_FILE, write_failures, write_summary
from .summary import BatchSummary
from .worker import PLUGIN_NAME, ModelPlugin, SlideJob, SlideRow, grade_slide, one_line


def _load_config(config: Any):
    """The one resolver ``grade`` uses too: a bad config is one error (exit 2) before any slide is sent."""
    from ..cascade.config import resolve_config

    return resolve_config(config)


def _check_models(cfg: Any, source: str) -> None:
    """The model files against their cards, in the driver: a changed file is one error (exit 2) before any
    worker starts, not a failure per slide; so is a model folder whose label set does not hold together, or
    a config naming a grade that label set lacks."""
    from importlib import resources

    from ..cascade.labelled import config_for_labels
    from ..models.folder import folder_label_set
    from ..models.hashes import verify_folder

    config_for_labels(cfg, folder_label_set(cfg.models.folder or None, cfg.models.label_set or None), source)
    if cfg.models.folder:
        verify_folder(cfg.models.folder)
        return
    with resources.as_file(resources.files("zoomgrade").joinpath("weights")) as folder:
        verify_folder(folder)


def _skipped_row(s: SlideInput, slide_dir: Path, record: dict[str, Any], mode: str) -> SlideRow:
    saved = dict(record.get("result_row") or {})
    counts = {k[2:]: int(v) for k, v in saved.items() if k.startswith("n_") and k != "n_regions"}
    return SlideRow(
        slide=str(s.path),
        name=s.name,
        status="skipped",
        mode=mode,
        output_dir=str(slide_dir),
        category=str(saved.get("category", "")),
        category_name=str(saved.get("category_name", "")),
        counts=counts,
        n_regions=int(saved.get("n_regions", 0) or 0),
        seconds=0.0,
        attempts=0,
        result_row=saved,
    )


def _failed_row(s: SlideInput, slide_dir: Path, mode: str, err: BaseException, attempts: int) -> SlideRow:
    return SlideRow(
        slide=str(s.path),
        name=s.name,
        status="failed",
        mode=mode,
        output_dir=str(slide_dir),
        attempts=attempts,
        error_class=err.__class__.__name__,
        error=one_line(err),
    )


def _suspicious(client, keys: list[str]) -> dict[str, int]:
    """How many workers died under each task (the scheduler's own count); {} if it will not say."""

    def count(dask_scheduler, keys=keys):
        return {k: dask_scheduler.tasks[k].suspicious for k in keys if k in dask_scheduler.tasks}

    try:
        return client.run_on_scheduler(count)
    except Exception:
        return {}


def _load_models(handle: ClusterHandle, cfg: Any) -> None:
    """Every worker loads the models now (and any worker that joins later, on joining)."""
    handle.client.register_plugin(
        ModelPlugin(
            torch_threads=handle.plan.threads_per_worker, folder=cfg.models.folder, label_set=cfg.models.label_set
        ),
        name=PLUGIN_NAME,
    )


def _run_tasks(
    handle: ClusterHandle, jobs: list[tuple[SlideInput, SlideJob, int]], bar: BatchProgress, out: dict[str, SlideRow]
) -> int:
    """Submit one task per slide, collect rows as they finish; returns the attempts lost to dead workers."""
    from distributed import as_completed

    client = handle.client
    tag = uuid.uuid4().hex[:8]  # keys unique even when several batches share one scheduler
    futures = {}
    # Biggest files first (higher priority runs first): the long slides do not end up last, alone.
    for rank, (s, job, _) in enumerate(sorted(jobs, key=lambda j: -j[2])):
        fut = client.submit(grade_slide, job, key=f"zoomgrade-{tag}-{s.name}", pure=False, priority=len(jobs) - rank)
        futures[fut] = (s, job)
    held = []  # finished futures are kept until the end so the scheduler still knows their attempts
    try:
        for fut in as_completed(list(futures)):
            s, job = futures[fut]
            try:
                row = fut.result()
            except Exception as err:
                row = _failed_row(s, Path(job.out_dir) / s.name, job.mode, err, attempts=1)
                if err.__class__.__name__ == "KilledWorker":
                    row.error = "worker died while grading it on every attempt (killed or out of memory)"
            held.append(fut)
            out[s.name] = row
            bar.advance(row)
        deaths = _suspicious(client, [f.key for f in held])
        for fut in held:
            row = out[futures[fut][0].name]
            died = deaths.get(fut.key, 0)
            # A KilledWorker failure is all deaths; a finished task is its deaths plus the run that worked.
            row.attempts = max(1, died) if row.error_class == "KilledWorker" else 1 + died
        return sum(deaths.values())
    finally:
        client.cancel(list(futures))


def batch(
    inputs: Any,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    force: bool = False,
    config: Any = None,
    mode: str = "cascade",
    progress: bool = True,
    models: str | Path | None = None,
    debug: bool = False,
) -> BatchSummary:
    """Grade many slides on Dask; see the module doc and docs/cluster.md.

    ``inputs``: a folder (recursive), a .txt/.csv list, one slide, or a list of paths. Results go to
    ``out_dir/<slide name>/``; ``out_dir/summary.csv`` and ``out_dir/failures.csv`` at the end.
    Bad usage (no inputs, bad config or mode, unreachable scheduler) raises ZoomgradeError; bad slides
    do not raise, they are counted in ``failed``. ``debug``: keep the workers' own logs (tracebacks).
    """
    t0 = time.perf_counter()
    if mode not in MODES:
        raise ZoomgradeError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    if retries < 0:
        raise ZoomgradeError(f"retries: must be >= 0, got {retries}")
    out = Path(out_dir).expanduser().resolve()
    slides = resolve_inputs(inputs, out_dir=out)
    cfg = _load_config(config)
    if models is not None:  # a model folder (else the config's models.folder, else the shipped weights)
        cfg = dataclasses.replace(cfg, models=dataclasses.replace(cfg.models, folder=str(Path(models).resolve())))
    _check_models(cfg, str(config) if isinstance(config, (str, Path)) else "config")
    plan = (
        plan_local(workers, threads_per_worker)
        if scheduler is None
        else ClusterPlan(0, threads_per_worker, None, "the existing cluster's workers")
    )
    with output_lock(out):
        return _batch(slides, out, cfg, plan, scheduler, retries, force, mode, progress, t0, debug)


def _batch(
    slides: list[SlideInput],
    out: Path,
    cfg: Any,
    plan: ClusterPlan,
    scheduler: str | None,
    retries: int,
    force: bool,
    mode: str,
    progress: bool,
    t0: float,
    debug: bool = False,
) -> BatchSummary:
    """The batch inside OUT's lock: what is done, the cluster, the tasks, the CSVs."""
    chash = config_hash(cfg.to_dict())
    models_seen = model_versions(cfg.models.folder or None)

    rows: dict[str, SlideRow] = {}
    jobs: list[tuple[SlideInput, SlideJob, int]] = []
    for s in slides:
        slide_dir = out / s.name
        try:
            fp = input_fingerprint(s.path)
        except OSError as err:
            rows[s.name] = _failed_row(s, slide_dir, mode, err, attempts=0)
            rows[s.name].error = f"{s.path}: {err.strerror or err}"
            continue
        key = SlideKey(input=fp, config_hash=chash, mode=mode, models=models_seen)
        record = None if force else read_done(slide_dir)
        if record is not None and key.matches(record):
            rows[s.name] = _skipped_row(s, slide_dir, record, mode)
            continue
        jobs.append(
            (
                s,
                SlideJob(
                    path=str(s.path),
                    name=s.name,
                    out_dir=str(out),
                    key=key,
                    config=cfg,
                    mode=cast(Mode, mode),
                    torch_threads=plan.threads_per_worker,
                ),
                fp["size"],
            )
        )

    summary = BatchSummary(0, 0, 0, [], 0.0, out / SUMMARY_FILE, out / FAILURES_FILE)
    n_skipped = sum(r.status == "skipped" for r in rows.values())
    if jobs:
        with open_cluster(scheduler, plan, retries, debug=debug) as handle:
            summary.plan, summary.scheduler, summary.dashboard = plan, handle.address, handle.dashboard
            if handle.local:
                say(
                    progress,
                    f"local Dask cluster: {plan.workers} worker(s) x {plan.threads_per_worker} "
                    f"thread(s) ({plan.why}); a killed worker's slide is retried {retries} time(s)",
                )
            else:
                retried = "?" if handle.allowed_failures is None else handle.allowed_failures
                say(
                    progress,
                    f"Dask scheduler {handle.address}: {len(handle.client.nthreads())} worker(s); "
                    f"a killed worker's slide is retried {retried} time(s)",
                )
                if handle.allowed_failures is not None and handle.allowed_failures != retries:
                    summary.warnings.append(
                        f"the scheduler's allowed-failures is {handle.allowed_failures}, "
                        f"not --retries {retries}; start it with "
                        f"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES={retries}"
                    )
            if handle.dashboard:
                say(progress, f"dashboard: {handle.dashboard}")
            _load_models(handle, cfg)
            summary.startup_seconds = time.perf_counter() - t0
            bar = BatchProgress(progress, len(jobs), n_skipped)
            try:
                summary.lost_attempts = _run_tasks(handle, jobs, bar, rows)
            finally:
                bar.close()
                _finish(summary, slides, rows, t0)
    else:
        _finish(summary, slides, rows, t0)
    return summary


def _finish(summary: BatchSummary, slides: list[SlideInput], rows: dict[str, SlideRow], t0: float) -> None:
    """Counts and the two CSVs, in input order (also after an interrupt: what finished is recorded)."""
    summary.rows = [rows[s.name] for s in slides if s.name in rows]
    summary.graded = sum(r.status == "graded" for r in summary.rows)
    summary.skipped = sum(r.status == "skipped" for r in summary.rows)
    summary.failed = sum(r.status == "failed" for r in summary.rows)
    summary.withheld = sum(r.status == "withheld" for r in summary.rows)
    summary.seconds = time.perf_counter() - t0
    write_summary(summary.rows, summary.summary_csv)
    write_failures(summary.rows, summary.failures_csv)
