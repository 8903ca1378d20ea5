"""What a person gets for a graded slide: result.json (versioned schema), regions.geojson (QuPath),
overlay.png, heatmap.png and a self-contained report.html; summary.csv for a run. Every write is atomic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..atomic import atomic_write, atomic_write_bytes, atomic_write_json, atomic_write_text
from ..types import SlideResult
from .geojson import labels_of, result_to_geojson, write_geojson
from .json_writer import SchemaWarning, result_to_dict, result_to_json, write_result_json
from .schema import SCHEMA_VERSION, result_schema, validate_result_dict
from .summary import failure_row, summary_row, write_summary_csv

__all__ = [
    "OUTPUT_FILES",
    "SCHEMA_VERSION",
    "TIMINGS_FILE",
    "SchemaWarning",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "failure_row",
    "result_schema",
    "result_to_dict",
    "result_to_geojson",
    "result_to_json",
    "save_result",
    "summary_row",
    "validate_result_dict",
    "write_summary_csv",
]

#: The files save_result writes, in the order it writes them (result.json last: its presence marks a
#: complete folder, which resumable batches rely on).
OUTPUT_FILES = ("regions.geojson", "overlay.png", "heatmap.png", "report.html", "result.json")
#: Beside them, after result.json: what writing cost, writer by writer (not part of the result).
TIMINGS_FILE = "timings.json"


class _Clock:
    """Wall and CPU seconds per writer (CPU time: what a writer costs whatever else the machine runs;
    counted per thread, as the image writers run side by side)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._lock = threading.Lock()

    def run(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
                self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - c


def save_result(
    result: SlideResult,
    out_dir: str | Path,
    slide: Any = None,
    *,
    gallery_size: int = 12,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write every output of one slide into ``out_dir`` (created if needed) and return ``out_dir``.

    ``slide``: the open ``zoomgrade.slide.Slide`` the result was graded from, to read the review-gallery
    crops from (the writers never open files themselves); without it the report says the crops are missing.
    Each writer's seconds go to ``timings.json`` beside the outputs (the result itself is not touched),
    with ``timings`` (the caller's own steps, e.g. open and grade seconds) as its ``command`` part.
    """
    from .gallery import gallery_crops
    from .heatmap import write_heatmap
    from .overlay import write_overlay
    from .report import render_report

    clock = _Clock()
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = labels_of(result)
    # The two images and the gallery crops side by side (PIL and numpy release the GIL for their heavy
    # parts): one after another they were most of the writing of a 20 x 20 mm slide.
    with ThreadPoolExecutor(3, thread_name_prefix="zoomgrade-writer") as pool:
        f_overlay = pool.submit(clock.run, "overlay.png", write_overlay, result, out / "overlay.png", labels, slide)
        f_heatmap = pool.submit(clock.run, "heatmap.png", write_heatmap, result, out / "heatmap.png", labels, slide)
        f_crops = pool.submit(clock.run, "gallery crops", gallery_crops, result, slide, labels, gallery_size)
        clock.run("regions.geojson", write_geojson, result, out / "regions.geojson")
        overlay, heatmap, (crops, note) = f_overlay.result(), f_heatmap.result(), f_crops.result()
    html = clock.run(
        "report.html",
        render_report,
        result,
        labels,
        overlay_png=overlay,
        heatmap_png=heatmap,
        crops=crops,
        gallery_note=note,
    )
    clock.run("report.html", atomic_write_text, out / "report.html", html)
    clock.run("result.json", write_result_json, result, out / "result.json")
    command = {**(timings or {}), "write": time.perf_counter() - t0, "write_cpu": sum(clock.cpu.values())}
    atomic_write_json(
        out / TIMINGS_FILE, {"command_seconds": command, "write_seconds": clock.seconds, "write_cpu_seconds": clock.cpu}
    )
    return out
