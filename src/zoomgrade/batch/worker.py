"""What runs on a Dask worker: the models, loaded once per worker process, and the one-slide task.

Models load in a ``WorkerPlugin`` (``setup`` runs when the plugin is registered and again on every
worker that joins later, including the replacement the nanny starts after a worker is killed), on a
thread so the worker's event loop keeps answering heartbeats meanwhile. Every task on that worker then
reuses them: loading per slide would cost more than grading a small slide.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ..models.inference import set_threads_where_torch_runs
from ..types import Mode
from .fingerprint import SlideKey, clear_done, model_versions, write_done

PLUGIN_NAME = "zoomgrade-models"


class ModelPlugin(WorkerPlugin):
    """Loads the grading models once per worker and keeps them for every slide it grades."""

    idempotent = False  # registering again replaces it (e.g. another thread setting)

    def __init__(
        self, torch_threads: int | None = None, device: str | None = None, folder: str = "", label_set: str = ""
    ):
        self.torch_threads = torch_threads
        self.device = device
        self.folder = folder  # a model folder; "" = the shipped weights
        self.label_set = label_set
        self.models: Any = None
        self.versions: dict[str, str] = {}
        self.load_seconds = 0.0

    def _load(self) -> None:
        from ..models import load_models

        t0 = time.perf_counter()
        self.models = load_models(self.folder or None, self.device, self.label_set or None, threads=self.torch_threads)
        set_threads_where_torch_runs(self.models, self.torch_threads)
        self.versions = model_versions(self.folder or None)
        self.load_seconds = time.perf_counter() - t0

    async def setup(self, worker: Any) -> None:
        await asyncio.to_thread(self._load)

    def teardown(self, worker: Any) -> None:
        self.models = None

    def __getstate__(self) -> dict[str, Any]:
        # Only the settings travel to workers; models are loaded there.
        return {
            "torch_threads": self.torch_threads,
            "device": self.device,
            "folder": self.folder,
            "label_set": self.label_set,
            "models": None,
            "versions": {},
            "load_seconds": 0.0,
        }


@dataclass
class SlideJob:
    """Everything one task needs; small and picklable (the config is a plain dataclass)."""

    path: str
    name: str
    out_dir: str  # OUT (the slide writes OUT/<name>/)
    key: SlideKey
    config: Any  # zoomgrade.cascade.GradeConfig
    mode: Mode
    torch_threads: int | None = None


@dataclass
class SlideRow:
    """One slide's line of summary.csv (and of failures.csv when it failed)."""

    slide: str
    name: str
    status: str  # "graded" | "withheld" (no category: zoomgrade.qc) | "skipped" | "failed"
    mode: str
    output_dir: str
    category: str = ""
    category_name: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    n_regions: int = 0
    seconds: float = 0.0
    #: CPU time of the worker process while it graded and wrote the slide (all its threads): the
    #: slide's cost independent of how busy the machine was; 3600 / cpu_seconds = slides/h per core.
    cpu_seconds: float = 0.0
    attempts: int = 1  # times a worker started it (more than 1: a worker died under it)
    error_class: str = ""
    error: str = ""
    worker: str = ""
    pid: int = 0
    #: zoomgrade.outputs.summary_row(result) of a graded slide (risk, adequacy, cost, ...): the columns
    #: summary.csv shares with single-slide runs. Kept in batch.json so a skipped slide reports them too.
    result_row: dict[str, Any] = field(default_factory=dict)


def one_line(err: BaseException) -> str:
    """The first line of an error's message (the class name when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else err.__class__.__name__


def _worker_plugin() -> tuple[ModelPlugin | None, str]:
    try:
        w = get_worker()
    except ValueError:  # not on a Dask worker (direct call)
        return None, ""
    plugin = w.plugins.get(PLUGIN_NAME)
    return (plugin if isinstance(plugin, ModelPlugin) else None), w.address


def grade_slide(job: SlideJob, models: Any = None) -> SlideRow:
    """Grade one slide and write its results; never raises for a bad slide (the row says why).

    Order matters for resumability: forget the old "done" marker, write every result file (each
    atomically), then write the new marker. A worker killed anywhere in between leaves the slide
    not-done, and Dask reruns the task on another worker.
    """
    from ..cascade import grade
    from ..outputs import save_result, summary_row
    from ..slide import open_slide

    plugin, address = _worker_plugin()
    if models is None and plugin is not None:
        models = plugin.models
    versions = plugin.versions if plugin is not None and plugin.versions else job.key.models
    slide_dir = Path(job.out_dir) / job.name
    row = SlideRow(
        slide=job.path,
        name=job.name,
        status="failed",
        mode=job.mode,
        output_dir=str(slide_dir),
        worker=address,
        pid=os.getpid(),
    )
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if models is None:
            raise RuntimeError(f"no models on this worker (plugin {PLUGIN_NAME!r} not registered)")
        # the config's stage2.torch_threads, when set, wins over the worker's share (library code sets none)
        set_threads_where_torch_runs(
            models, getattr(getattr(job.config, "stage2", None), "torch_threads", 0) or job.torch_threads
        )
        clear_done(slide_dir)
        # one open: grade reads it, the writers read their crops from it
        with open_slide(job.path, memory_mb=job.config.limits.memory_mb) as slide:
            result = grade(slide, job.config, mode=job.mode, models=models)
            save_result(result, slide_dir, slide=slide)
        row.seconds, row.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        row.result_row = summary_row(result, slide_dir)
        write_done(
            slide_dir,
            dataclasses.replace(job.key, models=versions),
            Path(job.path),
            seconds=round(row.seconds, 3),
            cpu_seconds=round(row.cpu_seconds, 3),
            worker=address,
            pid=row.pid,
            result_row=row.result_row,
            graded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
    except Exception as err:
        # MemoryError is an Exception too; an out-of-memory *kill* of the process is the scheduler's
        # business (the task is rescheduled, see run.py).
        row.seconds = time.perf_counter() - t0
        row.error_class, row.error = err.__class__.__name__, one_line(err)
        return row
    row.status = result.status  # "graded" or "withheld"
    row.category, row.category_name = result.category or "", result.category_name or ""
    row.counts = {k: int(v) for k, v in result.counts.items()}
    row.n_regions = len(result.regions)
    return row
