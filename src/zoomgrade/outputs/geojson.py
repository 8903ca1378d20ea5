"""regions.geojson: every graded region as a QuPath object (File > Import objects).

QuPath conventions (see zoomgrade.annotations): a FeatureCollection, Polygon/MultiPolygon geometry in
level-0 pixels, ``properties.objectType``, ``properties.classification = {name, color: [r, g, b]}``,
``properties.measurements`` a flat name -> number map (QuPath shows these in its measurement table).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import numpy as np
from shapely.geometry import MultiPolygon, box
from shapely.validation import make_valid

from ..annotations import feature_collection, qupath_feature
from ..atomic import atomic_write_json
from ..labels import DEFAULT, LabelSet, shipped_label_sets
from ..types import RegionGrade, SlideResult
from .json_writer import jsonable
from .withheld import candidate_features

# A fixed namespace so that re-grading a slide gives each region the same object id.
_NAMESPACE = uuid.UUID("6c1f3a52-0d7e-4d0b-9a51-6f1f2c0a7e11")


def labels_of(result: SlideResult) -> LabelSet:
    """The LabelSet a result was graded with: its own, else the shipped set of its name, else the default."""
    if getattr(result, "labels", None) is not None:
        return result.labels
    return shipped_label_sets().get(result.label_set, DEFAULT)


def region_measurements(rg: RegionGrade, labels: LabelSet) -> dict[str, float]:
    """Flat name -> number measurements of one graded region (finite numbers only)."""
    m: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        v = float(value)
        if np.isfinite(v):
            m[name] = v

    for g, p in zip(labels.fine, rg.fine_probs):
        put(f"fused prob {g}", p)
    if rg.stage2_probs is not None:
        for g, p in zip(labels.fine, rg.stage2_probs):
            put(f"stage2 prob {g}", p)
    for g, p in zip(labels.coarse, rg.region.coarse_probs):
        put(f"stage1 prob {g}", p)
    put("fine confidence", rg.confidence)
    put("stage1 confidence", rg.region.confidence)
    put("area um2", rg.region.area_um2)
    put("est cells", rg.region.cells)
    put("review order", rg.order)
    put("region id", rg.region.id)
    put("fallback patches", len(rg.patch_grades))
    return m


def region_feature(
    rg: RegionGrade, result: SlideResult, object_type: str = "annotation", labels: LabelSet | None = None
) -> dict[str, Any] | None:
    """One region as a QuPath feature, or None if nothing of it lies inside the slide."""
    labels = labels_of(result) if labels is None else labels
    geom = rg.region.polygon
    if not geom.is_valid:
        geom = make_valid(geom)
    # QuPath places objects in level-0 pixels of this image: keep them inside it. Within the frame's
    # bounds an area lies inside it; only what reaches out is clipped (a box and a containment test a region
    # took 0.011 s on 2000003's 826 regions, the bounds 0.002 s).
    x0, y0, x1, y1 = geom.bounds
    w, h = result.slide.width, result.slide.height
    if not (x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h):
        geom = geom.intersection(box(0, 0, w, h))
    if geom.geom_type == "GeometryCollection":  # make_valid/intersection can leave lines beside areas
        polys = [p for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon") for p in getattr(g, "geoms", [g])]
        geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    fid = str(uuid.uuid5(_NAMESPACE, f"{result.slide.name}/{result.mode}/{rg.region.id}"))
    return qupath_feature(
        geom,
        rg.fine_grade,
        labels.color_rgb(rg.fine_grade),
        object_type=object_type,
        measurements=region_measurements(rg, labels),
        extra={
            "name": f"region {rg.region.id}: {rg.fine_grade} ({rg.confidence:.0%}, {rg.decided_by})",
            "decided_by": rg.decided_by,
            "read_at_high_power": not rg.decided_by.startswith("stage1"),
            "cells_source": rg.region.cells_source,  # where the "est cells" measurement comes from
            "coarse_grade": rg.region.coarse_grade,
            "fine_grade": rg.fine_grade,
            "patch_grades": list(rg.patch_grades),
            **({"error": rg.error} if rg.error else {}),
        },
        feature_id=fid,
    )


def result_to_geojson(
    result: SlideResult, *, object_type: Literal["annotation", "detection"] = "annotation"
) -> dict[str, Any]:
    """A QuPath-importable FeatureCollection of the graded regions."""
    labels = labels_of(result)
    feats = [f for rg in result.regions if (f := region_feature(rg, result, object_type, labels)) is not None]
    if result.withheld:
        feats += candidate_features(result)
    for f in feats:  # the geometries are JSON-safe as made (annotations.geometry_json)
        f["properties"] = jsonable(f["properties"])
    doc = feature_collection(feats)
    if result.withheld or result.forced_out_of_domain:
        # a foreign member (GeoJSON RFC 7946 6.1; QuPath ignores it): these come from no ordinary grade
        doc["zoomgrade"] = jsonable(
            {
                "status": result.status,
                "forced_out_of_domain": result.forced_out_of_domain,
                "withheld_reasons": list(result.withheld_reasons),
            }
        )
    return doc


def write_geojson(result: SlideResult, path: str | Path) -> Path:
    return atomic_write_json(path, result_to_geojson(result), indent=None)
