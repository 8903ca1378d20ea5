"""summary.csv (one row per slide: graded, skipped or failed) and failures.csv (one row per failure).

summary.csv reuses ``zoomgrade.outputs.write_summary_csv`` (the same columns as a single-slide run:
category, risk, adequacy, counts per grade, cost) and adds the batch's own: ``seconds`` (this run's
time for the slide, 0 when skipped), ``cpu_seconds`` (the worker's CPU time for it) and ``attempts``
(times a worker started it). Both files are written atomically.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..outputs import failure_row, write_summary_csv
from ..outputs.csv_cells import safe_cell
from .worker import SlideRow

SUMMARY_FILE = "summary.csv"
FAILURES_FILE = "failures.csv"
FAILURE_COLUMNS = ["path", "error_class", "error", "attempts"]


def summary_mapping(r: SlideRow) -> dict[str, Any]:
    if r.status == "failed":
        row = failure_row(r.slide, f"{r.error_class}: {r.error}")
        row.update(mode=r.mode, out_dir=r.output_dir)
    else:
        row = dict(r.result_row) or {
            "slide": Path(r.slide).name,
            "category": r.category,
            "category_name": r.category_name,
            "n_regions": r.n_regions,
            **{f"n_{g}": n for g, n in r.counts.items()},
        }
        row.update(path=r.slide, status=r.status, mode=r.mode, out_dir=r.output_dir)
    row.update(seconds=round(r.seconds, 3), cpu_seconds=round(r.cpu_seconds, 3), attempts=r.attempts)
    return row


def write_summary(rows: list[SlideRow], path: Path) -> Path:
    return write_summary_csv([summary_mapping(r) for r in rows], path)


def write_failures(rows: list[SlideRow], path: Path) -> Path:
    """Always written (header only when nothing failed), so a stale file never outlives a clean rerun."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(FAILURE_COLUMNS)
    w.writerows(
        [safe_cell(c) for c in (r.slide, r.error_class, r.error, r.attempts)] for r in rows if r.status == "failed"
    )
    return atomic_write_text(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
