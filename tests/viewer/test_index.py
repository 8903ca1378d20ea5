"""The results index: grade and batch folders, failures from summary.csv, withheld results, damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viewer_helpers import HOSTILE, copy_results

from zoomgrade.viewer.index import ResultsError, ResultsIndex, qc_summary
from zoomgrade.viewer.slide_doc import label_display, regions_by_severity


def test_batch_folder(results_dir: Path) -> None:
    idx = ResultsIndex(results_dir)
    by_name = {e.name: e for e in idx.entries()}
    assert set(by_name) == {"smear-VI.svs", HOSTILE, "broken.svs"}
    vi = by_name["smear-VI.svs"]
    assert (vi.status, vi.category, vi.risk) == ("graded", "VI", pytest.approx(0.97))
    assert vi.n_regions == sum(vi.counts.values()) > 0 and vi.seconds and vi.seconds > 0
    assert by_name["broken.svs"].status == "failed" and by_name["broken.svs"].result_dir is None
    assert len({e.key for e in idx.entries()}) == 3
    assert idx.output_file(vi, "report.html") == vi.result_dir / "report.html"
    assert idx.output_file(vi, "batch.json") is None and idx.output_file(vi, "../summary.csv") is None


def test_one_slide_folder_and_empty_folder(results_dir: Path, tmp_path: Path) -> None:
    one = ResultsIndex(results_dir / "smear-VI")
    assert [e.name for e in one.entries()] == ["smear-VI.svs"]
    with pytest.raises(ResultsError, match=r"no result\.json"):
        ResultsIndex(tmp_path)
    with pytest.raises(ResultsError, match="not a folder"):
        ResultsIndex(tmp_path / "nothing")


def test_withheld_result_with_qc(results_dir: Path, tmp_path: Path) -> None:
    """A result a QC gate withheld: ``status`` withheld, category null, a ``qc`` record (fields of another issue)."""
    folder = copy_results(results_dir, tmp_path / "out")
    p = folder / "smear-VI" / "result.json"
    doc = json.loads(p.read_text())
    doc.update(
        status="withheld",
        category=None,
        category_name=None,
        qc={"status": "fail", "reasons": ["out of domain: stain", "blur"], "score": 0.2},
    )
    p.write_text(json.dumps(doc))
    e = next(e for e in ResultsIndex(folder).entries() if e.name == "smear-VI.svs")
    assert (e.status, e.category, e.risk) == ("withheld", None, None)
    assert e.row()["qc"] == "fail (out of domain: stain; blur)"


def test_rescan_sees_new_results(results_dir: Path, tmp_path: Path) -> None:
    folder = copy_results(results_dir, tmp_path / "out")
    idx = ResultsIndex(folder)
    n = len(idx.entries())
    copy_results(folder / "smear-VI", folder / "again")
    idx.refresh(force=True)  # (the server looks again at most every RESCAN_SECONDS, and on every worklist load)
    assert len(idx.entries()) == n + 1


def test_qc_summary_shapes() -> None:
    assert qc_summary(None) is None
    assert qc_summary({"passed": True}) == "passed: True"
    assert qc_summary({"blur": 0.1, "stain": "pap"}) == "blur: 0.1; stain: pap"
    assert qc_summary(["a", "b"]) == "a; b"


def test_labels_from_the_result_not_hard_coded(results_dir: Path) -> None:
    """A result graded with another label set is drawn in its own names, colours and severity order."""
    doc = {
        "label_set": "paris-2",  # result.json 2.0's label_definition, the label set's file form
        "label_definition": {
            "fine": ["NHGUC", "AUC", "HGUC"],
            "coarse": [{"name": "negative", "fine": ["NHGUC"], "colour": "#00ff00"}],
            "categories": {"HGUC": {"name": "High-grade urothelial carcinoma", "colour": "#123456"}},
        },
        "regions": [
            {"id": 1, "fine_grade": "AUC", "fine_confidence": 0.9, "bbox": [0, 0, 5, 5]},
            {"id": 2, "fine_grade": "HGUC", "fine_confidence": 0.6, "bbox": [9, 9, 5, 5]},
            {"id": 3, "fine_grade": "NHGUC", "fine_confidence": 0.99, "bbox": [20, 0, 5, 5]},
        ],
    }
    lab = label_display(doc, None)
    assert lab["grades"] == ["NHGUC", "AUC", "HGUC"] and lab["colors"]["HGUC"] == "#123456"
    assert lab["names"]["HGUC"].startswith("High-grade") and lab["colors"]["AUC"] != lab["colors"]["NHGUC"]
    assert [r["id"] for r in regions_by_severity(doc, lab["fine"])] == [2, 1, 3]
    # the GeoJSON's classification colours are used when the result carries no colours of its own
    vi = json.loads((results_dir / "smear-VI" / "result.json").read_text())
    vi["label_set"] = "unknown-set"
    vi.pop("label_definition", None)
    lab = label_display(vi, results_dir / "smear-VI")
    assert lab["colors"]["VI"] == "#6a1b9a" and lab["fine"] is None
    order = [r["order"] for r in regions_by_severity(vi, None)]
    assert order == sorted(order)  # without a known order: the cascade's severity queue
