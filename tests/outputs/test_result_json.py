"""result.json: the SlideResult plus schema_version, valid against the shipped JSON Schema."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from zoomgrade.outputs import SCHEMA_VERSION, result_schema, result_to_dict, result_to_json, validate_result_dict
from zoomgrade.types import SlideResult


def test_result_json_validates_against_schema(result: SlideResult) -> None:
    doc = json.loads(result_to_json(result))
    assert doc["schema_version"] == SCHEMA_VERSION == result_schema()["properties"]["schema_version"]["const"]
    assert validate_result_dict(doc) == []
    assert doc["versions"]["zoomgrade"] and doc["versions"]["stage1"] == "stage1-test 0"
    assert len(doc["regions"]) == len(result.regions)
    assert "maps" not in doc  # display maps are not part of the record
    assert doc == result_to_dict(result)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("category"), "category"),
        (lambda d: d.update(mode="fast"), "mode"),
        (lambda d: d["regions"][0].update(decided_by="guess"), "decided_by"),
        (lambda d: d["regions"][1]["fine_probs"].__setitem__(0, 1.5), "fine_probs"),
        (lambda d: d["adequacy"].update(n_groups=True), "n_groups"),  # a bool is not an integer
        (lambda d: d["adequacy"].update(count_margin=-1), "count_margin"),
        (lambda d: d["slide"].update(mpp_source="guessed"), "mpp_source"),
        (lambda d: d["regions"][0].update(bbox=[1, 2, 3]), "bbox"),
        (lambda d: d["cost"]["stages"]["stage1"].pop("seconds"), "seconds"),
        (lambda d: d.update(schema_version="0.9"), "schema_version"),
    ],
)
def test_schema_rejects_broken_documents(result: SlideResult, mutate, where: str) -> None:
    doc = copy.deepcopy(result_to_dict(result))
    mutate(doc)
    problems = validate_result_dict(doc)
    assert problems and any(where in p for p in problems), problems


def test_non_finite_and_numpy_values_become_strict_json(result: SlideResult) -> None:
    result.config = {"threshold": np.float32(0.25), "bad": float("nan"), "shape": np.array([2, 3]), "t": (1, 2)}
    text = result_to_json(result)
    doc = json.loads(text)  # json.loads would accept NaN; check the text has none
    assert "NaN" not in text and "Infinity" not in text
    assert doc["config"] == {"threshold": 0.25, "bad": None, "shape": [2, 3], "t": [1, 2]}


def test_nan_confidence_is_reported_by_the_schema(result: SlideResult) -> None:
    result.regions[0].confidence = math.nan
    problems = validate_result_dict(result_to_dict(result))
    assert any("fine_confidence" in p for p in problems)
