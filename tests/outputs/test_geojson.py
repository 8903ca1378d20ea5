"""regions.geojson: QuPath's GeoJSON conventions, and a shapely round trip of every region."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from shapely.geometry import box, shape

from zoomgrade.annotations import load_annotations
from zoomgrade.labels import TBSRTC
from zoomgrade.outputs import result_to_geojson, save_result
from zoomgrade.types import SlideResult


def test_feature_collection_follows_qupath_conventions(result: SlideResult) -> None:
    fc = json.loads(json.dumps(result_to_geojson(result), allow_nan=False))  # strict JSON
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(result.regions)
    frame = box(0, 0, result.slide.width, result.slide.height)
    for feat, rg in zip(fc["features"], result.regions):
        assert feat["type"] == "Feature"
        uuid.UUID(feat["id"])  # QuPath object ids are UUIDs
        props = feat["properties"]
        assert props["objectType"] == "annotation"
        cls = props["classification"]
        assert cls["name"] == rg.fine_grade
        assert cls["color"] == list(TBSRTC.color_rgb(rg.fine_grade))
        assert len(cls["color"]) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in cls["color"])
        m = props["measurements"]
        assert all(isinstance(k, str) and isinstance(v, float) for k, v in m.items())  # flat name -> number
        assert abs(sum(m[f"fused prob {g}"] for g in TBSRTC.fine) - 1) < 1e-6
        assert sum(m[f"stage2 prob {g}"] for g in TBSRTC.fine) > 0.99
        assert {f"stage1 prob {g}" for g in TBSRTC.coarse} <= set(m)
        assert m["fine confidence"] == rg.confidence and m["review order"] == rg.order
        assert props["decided_by"] == rg.decided_by
        geom = feat["geometry"]
        assert geom["type"] == "Polygon"
        ring = geom["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4  # closed ring
        poly = shape(geom)
        assert poly.is_valid and frame.contains(poly)  # level-0 px, inside the slide


def test_polygons_round_trip_through_shapely(result: SlideResult) -> None:
    fc = result_to_geojson(result)
    for feat, rg in zip(fc["features"], result.regions):
        poly = shape(feat["geometry"])
        inside = rg.region.polygon.intersection(box(0, 0, result.slide.width, result.slide.height))
        assert poly.symmetric_difference(inside).area < 1e-6 * max(inside.area, 1)
    # the last fixture region crosses the slide's corner: it is clipped, not dropped or left outside
    clipped = shape(fc["features"][-1]["geometry"])
    assert clipped.area < result.regions[-1].region.polygon.area * 0.8
    assert clipped.bounds[2] <= result.slide.width and clipped.bounds[1] >= 0


def test_written_file_reads_back_as_annotations(result: SlideResult, tmp_path: Path) -> None:
    save_result(result, tmp_path)
    anns = load_annotations(tmp_path / "regions.geojson")  # the project's own QuPath reader
    assert [a.label for a in anns] == [rg.fine_grade for rg in result.regions]
    assert json.loads((tmp_path / "regions.geojson").read_text()) == result_to_geojson(result)


def test_detection_objects_and_empty_results(result: SlideResult) -> None:
    fc = result_to_geojson(result, object_type="detection")
    assert {f["properties"]["objectType"] for f in fc["features"]} == {"detection"}
    result.regions = []
    assert result_to_geojson(result) == {"type": "FeatureCollection", "features": []}


def test_stage2_probs_absent_when_stage2_did_not_run(result: SlideResult) -> None:
    result.regions[0].stage2_probs = None
    result.regions[0].decided_by = "stage1-budget"
    m = result_to_geojson(result)["features"][0]["properties"]["measurements"]
    assert not any(k.startswith("stage2 prob") for k in m) and "fused prob II" in m
