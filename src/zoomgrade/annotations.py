"""QuPath-format GeoJSON annotations: read (training from a user's QuPath export or synthetic truth)
and the shared conventions for writing them.

QuPath (File > Import objects) reads a FeatureCollection whose features have a Polygon/MultiPolygon
geometry in level-0 pixels and ``properties.objectType`` ("annotation" or "detection") with
``properties.classification = {"name": str, "color": [r, g, b]}``; extra numbers go in
``properties.measurements`` (a flat name -> number mapping).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from .errors import ZoomgradeError


@dataclass
class Annotation:
    geometry: BaseGeometry  # level-0 pixels
    label: str  # classification name
    properties: dict[str, Any] = field(default_factory=dict)


def _ring(coords: np.ndarray) -> list[list[float | None]]:
    if np.isfinite(coords).all():
        return coords.tolist()
    # JSON has no NaN: a non-finite coordinate is written as null, as every other number of the outputs is
    return [[v if math.isfinite(v) else None for v in pt] for pt in coords.tolist()]


def _rings(polygon: Any, z: bool) -> list[list[list[float | None]]]:
    return [_ring(shapely.get_coordinates(r, include_z=z)) for r in (polygon.exterior, *polygon.interiors)]


def geometry_json(geometry: BaseGeometry) -> dict[str, Any]:
    """A (Multi)Polygon's GeoJSON mapping as plain lists of Python floats, JSON-safe as it stands: the
    document ``shapely.geometry.mapping`` gives, without its tuples of coordinates, which the writers then
    walked value by value (most of writing regions.geojson on a 20 x 20 mm slide). Other kinds and empty
    geometries: ``mapping`` itself."""
    kind, z = geometry.geom_type, bool(geometry.has_z)
    if geometry.is_empty or kind not in ("Polygon", "MultiPolygon"):
        return dict(mapping(geometry))
    if kind == "Polygon":
        return {"type": kind, "coordinates": _rings(geometry, z)}
    return {"type": kind, "coordinates": [_rings(p, z) for p in geometry.geoms]}


def qupath_feature(
    geometry: BaseGeometry,
    name: str,
    color: tuple[int, int, int],
    *,
    object_type: str = "annotation",
    measurements: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
    feature_id: str | None = None,
) -> dict[str, Any]:
    """One QuPath-importable GeoJSON Feature."""
    props: dict[str, Any] = {
        "objectType": object_type,
        "classification": {"name": name, "color": [int(c) for c in color]},
    }
    if measurements:
        props["measurements"] = {k: float(v) for k, v in measurements.items()}
    if extra:
        props.update(extra)
    feat: dict[str, Any] = {"type": "Feature", "geometry": geometry_json(geometry), "properties": props}
    if feature_id is not None:
        feat["id"] = feature_id
    return feat


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def load_annotations(path: str | Path) -> list[Annotation]:
    """Read a QuPath GeoJSON export (FeatureCollection, a bare list of features, or one Feature)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ZoomgradeError(f"{path}: annotation file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ZoomgradeError(f"{path}: not a readable GeoJSON file ({err.__class__.__name__})") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features", [])
    elif isinstance(data, dict) and data.get("type") == "Feature":
        feats = [data]
    elif isinstance(data, list):
        feats = data
    else:
        raise ZoomgradeError(f"{path}: not a GeoJSON FeatureCollection")
    out: list[Annotation] = []
    for i, f in enumerate(feats):
        try:
            geom = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ZoomgradeError(f"{path}: feature {i} has no valid geometry ({err})") from None
        props = dict(f.get("properties") or {})
        cls = props.get("classification") or {}
        label = cls.get("name") if isinstance(cls, dict) else None
        if not label:
            continue  # unclassified objects carry no label to learn from
        out.append(Annotation(geom, str(label), props))
    return out
