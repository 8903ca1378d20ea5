"""What a person gets for a graded slide: result.json (versioned schema), regions.geojson (QuPath),
overlay.png, heatmap.png and a self-contained report.html; summary.csv for a run. Every write is atomic."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..types import SlideResult
from .atomic import atomic_write, atomic_write_bytes, atomic_write_json, atomic_write_text
from .geojson import labels_of, result_to_geojson, write_geojson
from .json_writer import SchemaWarning, result_to_dict, result_to_json, write_result_json
from .schema import SCHEMA_VERSION, result_schema, validate_result_dict
from .summary import failure_row, summary_row, write_summary_csv

__all__ = [
    "OUTPUT_FILES",
    "SCHEMA_VERSION",
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


def save_result(result: SlideResult, out_dir: str | Path, slide: Any = None, *, gallery_size: int = 12) -> Path:
    """Write every output of one slide into ``out_dir`` (created if needed) and return ``out_dir``.

    ``slide``: an open ``zoomgrade.slide.Slide`` to read the review-gallery crops from; without it the
    slide is reopened from ``result.slide.path`` (and the report says so if that fails).
    The time spent is recorded as the cost record's "write" stage.
    """
    from .gallery import gallery_crops, open_for_gallery
    from .heatmap import write_heatmap
    from .overlay import write_overlay
    from .report import render_report

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = labels_of(result)
    write_geojson(result, out / "regions.geojson")
    src, opened, why = open_for_gallery(result, slide)
    try:
        overlay = write_overlay(result, out / "overlay.png", labels, src)
        heatmap = write_heatmap(result, out / "heatmap.png", labels, src)
        crops, note = gallery_crops(result, src, labels, gallery_size)
    finally:
        if opened:
            src.close()
    note = "; ".join(n for n in (why, note) if n) or None
    # Recorded before the report and result.json are written, so both show it (minus their own writing).
    result.cost.stage("write").seconds = time.perf_counter() - t0
    html = render_report(result, labels, overlay_png=overlay, heatmap_png=heatmap, crops=crops, gallery_note=note)
    atomic_write_text(out / "report.html", html)
    result.cost.stage("write").seconds = time.perf_counter() - t0
    write_result_json(result, out / "result.json")
    return out
