"""summary.csv: one row per slide of a run (graded or failed), for a spreadsheet or a LIMS."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..types import SlideResult
from .csv_cells import safe_cell
from .geojson import labels_of

BASE_COLUMNS = [
    "slide",
    "path",
    "status",
    "mode",
    "category",
    "category_name",
    "risk_of_malignancy",
    "adequate",
    "n_regions",
]
TAIL_COLUMNS = [
    "forced_out_of_domain",
    "withheld_reasons",
    "wall_seconds",
    "peak_rss_mb",
    "megapixels_read",
    "out_dir",
    "error",
]


def summary_row(result: SlideResult, out_dir: str | Path | None = None) -> dict[str, Any]:
    """The summary.csv row of one graded slide."""
    row: dict[str, Any] = {
        "slide": result.slide.name,
        "path": result.slide.path,
        "status": result.status,
        "mode": result.mode,
        "category": result.category or "",
        "category_name": result.category_name or "",
        "risk_of_malignancy": "" if result.risk_of_malignancy is None else round(float(result.risk_of_malignancy), 4),
        "adequate": "" if result.adequacy.adequate is None else bool(result.adequacy.adequate),  # "": not assessed
        "n_regions": len(result.regions),
    }
    labels = labels_of(result)
    for g in labels.fine if result.label_set == labels.name else sorted(result.counts):
        row[f"n_{g}"] = int(result.counts.get(g, 0))
    cmp = result.comparison or {}
    if cmp:  # mode both: the exhaustive baseline's answer beside the cascade's
        ex = cmp.get("exhaustive") or {}
        hp = cmp.get("high_power_pixels") or {}
        row["exhaustive_category"] = ex.get("category", "")
        row["category_agreement"] = cmp.get("category_agreement", "")
        ra, ratio = cmp.get("region_agreement"), hp.get("ratio")
        row["region_agreement"] = "" if ra is None else round(float(ra), 4)
        row["high_power_pixel_ratio"] = "" if ratio is None else round(float(ratio), 5)
    # a damaged file's failed reads (also a warning in result.json and report.html)
    row["failed_reads"] = int((result.decode_errors or {}).get("failed", 0) or 0)
    row["wall_seconds"] = round(float(result.cost.wall_seconds), 3)
    row["peak_rss_mb"] = round(float(result.cost.peak_rss_mb), 1)
    row["megapixels_read"] = round(sum(result.cost.pixels_by_mpp.values()) / 1e6, 3)
    row["out_dir"] = "" if out_dir is None else str(out_dir)
    row["error"] = ""
    row["forced_out_of_domain"] = bool(result.forced_out_of_domain)
    row["withheld_reasons"] = "; ".join(result.withheld_reasons)
    return row


def failure_row(path: str | Path, error: str) -> dict[str, Any]:
    """The summary.csv row of a slide that could not be graded."""
    return {"slide": Path(path).name, "path": str(path), "status": "failed", "error": error}


def write_summary_csv(results_or_rows: Iterable[SlideResult | Mapping[str, Any]], path: str | Path) -> Path:
    """Write summary.csv atomically: SlideResults become rows; mappings (e.g. ``failure_row``) pass through.

    Columns: the fixed ones first, then any others in first-seen order; missing cells stay empty. Text cells
    a spreadsheet would evaluate as a formula are written inert (``csv_cells``).
    """
    rows = [summary_row(r) if isinstance(r, SlideResult) else dict(r) for r in results_or_rows]
    cols: list[str] = list(BASE_COLUMNS)
    for r in rows:
        for k in r:
            if k not in cols and k not in TAIL_COLUMNS:
                cols.append(k)
    cols += TAIL_COLUMNS
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: safe_cell(r.get(k, "")) for k in cols})
    return atomic_write_text(path, buf.getvalue())
