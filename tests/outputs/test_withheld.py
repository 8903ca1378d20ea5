"""Every writer says when a slide was withheld (no category) or graded by force outside the domain."""

from __future__ import annotations

import csv
import json

from result_factory import make_result

from zoomgrade.outputs import (
    save_result,
    summary_row,
    validate_result_dict,
    write_summary_csv,
)
from zoomgrade.qc.record import QcRecord


def _withheld(flat_slide):
    r = make_result(flat_slide)
    r.status = "withheld"
    r.category = r.category_name = r.risk_of_malignancy = None
    r.withheld_reasons = ["stain: the stain colour is 40 degrees from every training slide's"]
    r.qc = [QcRecord("stain", 40.0, 9.0, "fail", "another stain").to_dict()]
    r.domain = {
        "slide_score": 0.9,
        "slide_threshold": 0.3,
        "cell_threshold": 12.0,
        "in_domain": False,
        "n_regions": 1,
        "n_regions_out": 1,
        "note": "",
        "regions": [
            {
                **{
                    k: v
                    for k, v in r.regions[0].region.to_dict().items()
                    if k in ("id", "bbox", "geometry", "coarse_grade")
                },
                "score": 30.0,
                "in_domain": False,
            }
        ],
    }
    r.regions = []
    return r


def test_withheld_result_is_valid_and_every_file_says_so(flat_slide, tmp_path):
    r = _withheld(flat_slide)
    out = save_result(r, tmp_path / "w")
    doc = json.loads((out / "result.json").read_text())
    assert validate_result_dict(doc) == []
    assert doc["status"] == "withheld" and doc["category"] is None and doc["withheld_reasons"]
    html = (out / "report.html").read_text()
    assert "Not graded: slide withheld" in html and "Quality control" in html
    assert "Risk of malignancy" not in html  # no category banner
    gj = json.loads((out / "regions.geojson").read_text())
    assert gj["zoomgrade"]["status"] == "withheld"
    assert [f["properties"]["classification"]["name"] for f in gj["features"]] == ["Withheld (not graded)"]
    row = summary_row(r, out)
    assert row["status"] == "withheld" and row["category"] == "" and "stain" in row["withheld_reasons"]
    write_summary_csv([row], tmp_path / "summary.csv")
    with open(tmp_path / "summary.csv") as f:
        assert next(csv.DictReader(f))["status"] == "withheld"


def test_withheld_images_carry_a_band(flat_slide, tmp_path):
    from PIL import Image

    plain = save_result(make_result(flat_slide), tmp_path / "g")
    held = save_result(_withheld(flat_slide), tmp_path / "w")
    for name in ("heatmap.png",):  # the band adds rows above the same panels
        assert Image.open(held / name).size[1] > Image.open(plain / name).size[1]
    px = Image.open(held / "overlay.png").convert("RGB").getpixel((5, 5))
    assert px == (96, 96, 96)  # the grey band, not a category colour


def test_forced_result_keeps_its_category_and_says_forced(flat_slide, tmp_path):
    r = make_result(flat_slide)
    r.forced_out_of_domain = True
    r.withheld_reasons = ["domain: 90% of the slide's stained material lies outside"]
    out = save_result(r, tmp_path / "f")
    doc = json.loads((out / "result.json").read_text())
    assert validate_result_dict(doc) == [] and doc["forced_out_of_domain"] and doc["category"] == "VI"
    assert "FORCED" in (out / "report.html").read_text()
    assert json.loads((out / "regions.geojson").read_text())["zoomgrade"]["forced_out_of_domain"] is True
    assert summary_row(r, out)["forced_out_of_domain"] is True


def test_withheld_slide_in_mode_both_reports_the_comparison(flat_slide, tmp_path):
    # mode=both: the comparison is filled even when the cascade withheld the slide (cascade/grade.py)
    r = _withheld(flat_slide)
    r.comparison = {"exhaustive": {"category": None}, "category_agreement": True, "region_agreement": None}
    html = (save_result(r, tmp_path / "w") / "report.html").read_text()
    assert "cascade withheld, exhaustive tiling None" in html
