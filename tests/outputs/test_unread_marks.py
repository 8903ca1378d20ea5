"""Regions the early stop left unread are marked in every output, and the report says why reading stopped."""

import json
from pathlib import Path

from zoomgrade.cascade.config import AdequacyConfig
from zoomgrade.cascade.decision import assess_adequacy
from zoomgrade.outputs import result_to_dict, result_to_geojson, save_result, validate_result_dict
from zoomgrade.types import SlideResult


def test_unread_regions_are_marked_everywhere(result: SlideResult, tmp_path: Path) -> None:
    assert result.regions, "the fixture must have regions"
    result.regions[-1].decided_by = "stage1-early-stop"
    why = "VI holds on 30 evidence regions even if all 12 ungraded regions were gradable groups"
    result.reading = {
        "early_stop": True,
        "stopped": True,
        "regions": len(result.regions),
        "read": len(result.regions) - 1,
        "unread": 1,
        "reason": why,
    }
    doc = result_to_dict(result)
    assert validate_result_dict(doc) == []
    assert doc["reading"]["unread"] == 1 and doc["regions"][-1]["decided_by"] == "stage1-early-stop"
    props = [f["properties"] for f in result_to_geojson(result)["features"]]
    assert [p["read_at_high_power"] for p in props].count(False) == 1
    assert {p["cells_source"] for p in props} <= {"high-power", "scaled", "area"}
    save_result(result, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "then stopped" in html and why in html and "not read: the slide&#x27;s answer was decided" in html
    assert json.loads((tmp_path / "result.json").read_text())["reading"]["stopped"] is True


def test_the_report_says_how_many_regions_were_read_from_fewer_windows(result: SlideResult, tmp_path: Path) -> None:
    n = len(result.regions)
    reading = {"early_stop": True, "stopped": False, "regions": n, "read": n, "unread": 0, "reason": "every region"}
    result.reading = {**reading, "narrowed": 3}
    assert validate_result_dict(result_to_dict(result)) == []
    save_result(result, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "3 of the regions read were read once the category and adequacy were decided" in html
    result.reading = {**reading, "narrowed": -1}
    assert validate_result_dict(result_to_dict(result))  # the schema refuses a negative count
    result.reading = {**reading, "narrowed": 0}
    save_result(result, tmp_path / "none")
    assert "fewer windows" not in (tmp_path / "none" / "report.html").read_text()


def test_the_report_says_how_many_counts_were_left_unsettled(result: SlideResult, tmp_path: Path) -> None:
    n = len(result.regions)
    reading = {"early_stop": True, "stopped": False, "regions": n, "read": n, "unread": 0, "reason": "every region"}
    result.reading = {**reading, "narrowed": 3, "unsettled": 2}
    assert validate_result_dict(result_to_dict(result)) == []
    save_result(result, tmp_path)
    assert "2 regions read then keep a cell count scaled up" in (tmp_path / "report.html").read_text()
    result.reading = {**reading, "narrowed": 3, "unsettled": -2}
    assert validate_result_dict(result_to_dict(result))  # the schema refuses a negative count
    result.reading = {**reading, "narrowed": 3, "unsettled": 0}
    save_result(result, tmp_path / "none")
    assert "scaled up" not in (tmp_path / "none" / "report.html").read_text()


def test_result_json_says_where_each_count_comes_from(result: SlideResult) -> None:
    result.adequacy = assess_adequacy(result.regions, AdequacyConfig())
    doc = result_to_dict(result)
    assert validate_result_dict(doc) == []
    assert all(r["cells_source"] in ("high-power", "scaled", "area") for r in doc["regions"])
    assert sum(doc["adequacy"]["n_adequate_by_source"].values()) == doc["adequacy"]["n_adequate_groups"]
    doc["regions"][0]["cells_source"] = "guessed"
    doc["adequacy"]["n_adequate_by_source"] = {"high-power": -1}
    errors = validate_result_dict(doc)
    assert len(errors) == 2, errors  # the schema refuses an unknown source and a negative count
