"""result.json: ``SlideResult.to_dict()`` plus ``schema_version``, made strictly JSON-safe."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from .._version import __version__
from ..atomic import atomic_write_text
from ..types import SlideResult
from .schema import SCHEMA_VERSION, validate_result_dict


class SchemaWarning(UserWarning):
    """result.json does not match its documented schema (written anyway: the grade is not lost)."""


def jsonable(obj: Any) -> Any:
    """Plain JSON types only: numpy scalars/arrays to Python, tuples to lists, paths to strings,
    non-finite floats to ``None`` (JSON has no NaN; ``json.dumps`` would write invalid JSON)."""
    kind = type(obj)
    # Exact types first: a result holds tens of thousands of plain floats (isinstance down the list below
    # was half of building result.json).
    if kind is float:
        return obj if math.isfinite(obj) else None
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)  # anything exotic in config/comparison: readable rather than a crash


def result_to_dict(result: SlideResult) -> dict[str, Any]:
    """The result.json document (schema ``SCHEMA_VERSION``)."""
    doc = {"schema_version": SCHEMA_VERSION, **jsonable(result.to_dict())}
    versions = doc.setdefault("versions", {})
    versions.setdefault("zoomgrade", __version__)
    versions.setdefault("result_schema", SCHEMA_VERSION)
    doc["versions"] = {k: str(v) for k, v in versions.items()}
    return doc


def result_to_json(result: SlideResult, *, indent: int | None = 2) -> str:
    """The result.json text of ``result``."""
    return json.dumps(result_to_dict(result), indent=indent, allow_nan=False)


def write_result_json(result: SlideResult, path: str | Path) -> Path:
    doc = result_to_dict(result)
    problems = validate_result_dict(doc)
    if problems:
        # Warn, do not raise: losing a graded slide over a schema nit helps nobody; tests make it fatal.
        warnings.warn(
            f"{path}: result.json does not match schema {SCHEMA_VERSION}: " + "; ".join(problems[:5]),
            SchemaWarning,
            stacklevel=2,
        )
    # No indent: json's C encoder runs only without one; indented, encoding a 20 x 20 mm slide's result took
    # a third of all writing (pretty-print with `python -m json.tool result.json`).
    return atomic_write_text(path, json.dumps(doc, allow_nan=False) + "\n")
