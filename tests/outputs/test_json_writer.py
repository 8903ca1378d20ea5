"""jsonable: what every JSON output is made of, strictly JSON."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path

import numpy as np

from zoomgrade.outputs.json_writer import jsonable


class Colour(str, enum.Enum):
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1


def test_values_of_every_kind_become_plain_json() -> None:
    doc = {
        1: (1.5, math.nan, math.inf, -math.inf),
        "np": [np.float32(0.25), np.float64(math.nan), np.int64(7), np.bool_(True), np.arange(3)],
        "nested": {"t": ((1.0, 2.0), (3.0, 4.0)), "none": None, "bool": False},
        "path": Path("/a/b"),
        "enum": [Colour.BLUE, Level.LOW],
        "other": complex(1, 2),
    }
    out = jsonable(doc)
    assert out == {
        "1": [1.5, None, None, None],
        "np": [0.25, None, 7, True, [0, 1, 2]],
        "nested": {"t": [[1.0, 2.0], [3.0, 4.0]], "none": None, "bool": False},
        "path": "/a/b",
        "enum": [Colour.BLUE, Level.LOW],
        "other": "(1+2j)",
    }
    assert type(out["np"][0]) is float and type(out["np"][2]) is int and type(out["np"][3]) is bool
    assert json.loads(json.dumps(out, allow_nan=False))["enum"] == ["blue", 1]
