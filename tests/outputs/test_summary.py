"""summary.csv: a row per slide, graded or failed."""

from __future__ import annotations

import csv
from pathlib import Path

from result_factory import make_result

from zoomgrade.outputs import failure_row, summary_row, write_summary_csv


def test_rows_for_graded_and_failed_slides(flat_slide: Path, tmp_path: Path) -> None:
    a = make_result(flat_slide, category="VI")
    b = make_result(flat_slide, category="II")
    path = write_summary_csv(
        [a, summary_row(b, tmp_path / "b"), failure_row("/x/broken.svs", "not a slide")], tmp_path / "summary.csv"
    )
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["graded", "graded", "failed"]
    assert [r["category"] for r in rows] == ["VI", "II", ""]
    assert rows[0]["n_II"] == "3" and rows[0]["n_VI"] == "1" and rows[0]["n_regions"] == "7"
    assert rows[0]["risk_of_malignancy"] == "0.97" and rows[0]["adequate"] == "True"
    assert rows[1]["out_dir"] == str(tmp_path / "b")
    assert rows[2]["slide"] == "broken.svs" and rows[2]["error"] == "not a slide"
    header = list(rows[0])
    assert header[0] == "slide" and header[-1] == "error"
    assert header.index("n_II") < header.index("wall_seconds")


def test_mode_both_adds_the_comparison_columns(flat_slide: Path, tmp_path: Path) -> None:
    cmp = {
        "exhaustive": {"category": "V"},
        "category_agreement": False,
        "region_agreement": 0.75,
        "high_power_pixels": {"cascade": 1, "exhaustive": 20, "ratio": 0.05},
    }
    path = write_summary_csv([make_result(flat_slide), make_result(flat_slide, comparison=cmp)], tmp_path / "s.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["exhaustive_category"] == "" and rows[1]["exhaustive_category"] == "V"
    assert rows[1]["category_agreement"] == "False" and rows[1]["region_agreement"] == "0.75"
    assert rows[1]["high_power_pixel_ratio"] == "0.05"
