"""Acceptance: with the shipped weights, no real file in ../shared/data/real-slides/ gets a category; each is
withheld with reasons a person understands, or refused with one clear line (exit 2)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app

runner = CliRunner()
# file -> extra CLI args (the flat TIFF carries no resolution: refused without --mpp, graded with it)
CASES = {
    "CMU-1-small-region.svs": [],  # H&E skin section
    "fluorescence-DAPI.ndpi": [],  # fluorescence
    "camelyon-lowres.dcm": [],  # 29 um/px: no high-power pixels
    "boxes-generic.tiff": [],  # coloured boxes
    "tiny-16px.svs": [],  # 16 px
    "kidney-flat.tif": ["--mpp", "0.5"],  # IHC kidney, resolution given by the caller
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_slide_is_withheld_with_reasons(real, name, tmp_path):
    res = runner.invoke(
        app, ["grade", str(real / name), "-o", str(tmp_path), "-q", *CASES[name]], catch_exceptions=False
    )
    assert res.exit_code == 3, res.output
    doc = json.loads(next(tmp_path.glob("*/result.json")).read_text())
    assert doc["status"] == "withheld" and doc["category"] is None
    assert doc["withheld_reasons"] and all(len(r) > 20 for r in doc["withheld_reasons"])
    # no adequacy verdict either: "NOT adequate" would read as nondiagnostic
    assert doc["adequacy"]["adequate"] is None and doc["adequacy"]["reason"].startswith("not assessed")


def test_flat_tiff_without_mpp_is_refused_in_one_line(real, tmp_path):
    res = runner.invoke(app, ["grade", str(real / "kidney-flat.tif"), "-o", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "kidney-flat.tif" in lines[0] and "--mpp" in lines[0]
