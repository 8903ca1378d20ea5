"""Class 8 of issue 24: no cell of summary.csv or failures.csv is a formula to a spreadsheet."""

from __future__ import annotations

import csv

import pytest

from zoomgrade.batch.report import write_failures
from zoomgrade.batch.worker import SlideRow
from zoomgrade.outputs import failure_row, write_summary_csv
from zoomgrade.outputs.csv_cells import FORMULA_START


@pytest.mark.parametrize("start", FORMULA_START)
def test_formula_cells_are_made_inert(tmp_path, start):
    name = f'{start}HYPERLINK("x")+1.svs'
    write_summary_csv([failure_row(f"/data/{name}", f"{start}cmd|' /C calc'!A0")], tmp_path / "summary.csv")
    with open(tmp_path / "summary.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["slide"] == "'" + name and row["error"].startswith("'" + start)
    assert row["path"] == f"/data/{name}"  # does not start with a formula character: as it was
    rows = [
        SlideRow(
            slide=name,
            name="x",
            status="failed",
            mode="cascade",
            output_dir="o",
            error_class="SlideError",
            error=f"{start}2+2",
        )
    ]
    write_failures(rows, tmp_path / "failures.csv")
    with open(tmp_path / "failures.csv", newline="") as fh:
        (frow,) = list(csv.DictReader(fh))
    assert frow["path"] == "'" + name and frow["error"] == f"'{start}2+2"


def test_numbers_stay_numbers(tmp_path):
    write_summary_csv([{"slide": "a.svs", "risk_of_malignancy": -0.5, "n_regions": 3}], tmp_path / "s.csv")
    with open(tmp_path / "s.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["risk_of_malignancy"] == "-0.5" and row["n_regions"] == "3"
