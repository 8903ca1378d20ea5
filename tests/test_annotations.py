"""The GeoJSON geometry the writers share: plain lists, the same document as shapely's mapping."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping

from zoomgrade.annotations import geometry_json

HOLED = Polygon([(0, 0), (100.5, 0), (100.5, 80), (0, 80)], [[(10, 10), (20, 10), (20, 20), (10, 20)]])


def _leaves(x: Any) -> list[Any]:
    return [v for item in x for v in _leaves(item)] if isinstance(x, list) else [x]


def test_polygons_give_the_document_shapely_maps_as_plain_lists() -> None:
    for geom in (HOLED, MultiPolygon([HOLED, box(200, 200, 250.25, 260)]), box(3, 4, 5, 6)):
        doc = geometry_json(geom)
        assert json.dumps(doc, allow_nan=False) == json.dumps(mapping(geom), allow_nan=False)
        leaves = _leaves(doc["coordinates"])
        assert leaves and all(type(v) is float for v in leaves)  # no numpy scalars, no tuples left to walk


def test_a_third_coordinate_is_kept() -> None:
    geom = Polygon([(0, 0, 1), (4, 0, 2), (4, 4, 3), (0, 0, 1)])
    assert json.dumps(geometry_json(geom)) == json.dumps(mapping(geom))
    assert len(geometry_json(geom)["coordinates"][0][0]) == 3


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # shapely on the NaN itself
def test_a_non_finite_coordinate_is_written_as_null() -> None:
    geom = Polygon([(0, 0), (4, 0), (math.nan, 4), (0, 0)])
    doc = geometry_json(geom)
    assert doc["coordinates"][0][2] == [None, 4.0]
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_other_kinds_and_empty_geometries_are_shapely_mappings() -> None:
    assert geometry_json(Point(1, 2)) == dict(mapping(Point(1, 2)))
    assert geometry_json(Polygon()) == dict(mapping(Polygon()))
