"""``zoomgrade data check``: each kind of problem is flagged; a clean set passes; exit codes 0 / 1 / 2."""

from __future__ import annotations

import json

from shapely.geometry import Polygon, box
from typer.testing import CliRunner

from zoomgrade.annotations import feature_collection, qupath_feature
from zoomgrade.cli.main import app
from zoomgrade.labels import TBSRTC
from zoomgrade.models.data_check import check_data


def test_clean_set_has_counts_and_no_problems(tiny_slides):
    rep = check_data(tiny_slides, TBSRTC)
    assert rep.ok and rep.n_slides == 4
    truth = sum(len(json.loads(p.read_text())["features"]) for p in tiny_slides.glob("*.geojson"))
    assert sum(rep.class_counts.values()) == truth and set(rep.class_counts) == set(TBSRTC.fine)
    r = CliRunner().invoke(app, ["data", "check", str(tiny_slides)])
    assert r.exit_code == 0 and "no problems found" in r.output


def test_each_kind_of_problem_is_flagged(tmp_path, tiny_slide_writer):
    write_tiny_slide = tiny_slide_writer
    d = tmp_path / "set"
    d.mkdir()
    write_tiny_slide(d / "good.tif", 1_000_010, size=512, n_groups=2)
    write_tiny_slide(d / "bare.tif", 1_000_011, size=512, n_groups=2)
    (d / "bare.geojson").unlink()  # slide without annotations
    write_tiny_slide(d / "odd.tif", 1_000_012, size=512, n_groups=1)
    feats = json.loads((d / "odd.geojson").read_text())["features"]
    feats.append(qupath_feature(box(10, 10, 50, 50), "Tumor", (255, 0, 0)))  # a class TBSRTC lacks
    feats.append(qupath_feature(box(400, 400, 900, 900), "IV", (255, 128, 0)))  # mostly outside 512 px
    bow = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    feats.append(qupath_feature(bow, "II", (0, 128, 0)))  # self-intersecting
    (d / "odd.geojson").write_text(json.dumps(feature_collection(feats)))
    write_tiny_slide(d / "unlabelled.tif", 1_000_013, size=512, n_groups=1)
    (d / "unlabelled.geojson").write_text(
        json.dumps(feature_collection([qupath_feature(box(10, 10, 60, 60), "Other", (9, 9, 9))]))
    )
    rep = check_data(d, TBSRTC)
    kinds = {(p.kind, p.slide) for p in rep.problems}
    assert ("no_annotations", "bare.tif") in kinds
    assert ("no_annotations", "unlabelled.tif") in kinds  # nothing classified as a grade
    assert ("unknown_class", "odd.tif") in kinds and ("unknown_class", "unlabelled.tif") in kinds
    assert ("outside_slide", "odd.tif") in kinds
    assert ("invalid_polygon", "odd.tif") in kinds
    assert not any(p.slide == "good.tif" for p in rep.problems)
    assert rep.unknown_classes == {"Tumor": 1, "Other": 1}
    r = CliRunner().invoke(app, ["data", "check", str(d), "--json"])
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert not doc["ok"] and {p["kind"] for p in doc["problems"]} >= {
        "no_annotations",
        "unknown_class",
        "outside_slide",
        "invalid_polygon",
    }


def test_manifest_categories_and_unknown_category(tmp_path, tiny_slides):
    names = sorted(p.name for p in tiny_slides.glob("*.tif"))
    m = tmp_path / "m.csv"
    m.write_text("slide,category,split\n" + f"{tiny_slides / names[0]},II,train\n{tiny_slides / names[1]},VII,test\n")
    rep = check_data(m, TBSRTC)
    assert [(p.kind, p.slide) for p in rep.problems] == [("unknown_category", names[1])]
    assert rep.categories == {"II": 1, "VII": 1} and set(rep.split_counts) == {"train", "test"}


def test_unreadable_source_exits_2(tmp_path):
    r = CliRunner().invoke(app, ["data", "check", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "missing" in r.output
