"""The result.json schema: load it, and validate a document against it.

Uses ``jsonschema`` when it is installed; otherwise a small validator for exactly the JSON Schema
keywords our schema uses (it refuses any other keyword, so the schema cannot silently outgrow it).
"""

from __future__ import annotations

import functools
import json
import math
import re
from importlib import resources
from typing import Any

SCHEMA_VERSION = "2.0"
SCHEMA_FILE = "result.schema.json"

# Keywords that only annotate: nothing to check.
_ANNOTATIONS = {"$schema", "$id", "title", "description", "$comment", "default", "examples", "$defs"}
_CHECKED = {"type", "const", "enum", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "minLength", "pattern", "anyOf", "$ref"}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON has one number type; bool is not a number even though Python says it is an int.
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


@functools.cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of result.json (shipped as package data)."""
    text = resources.files("zoomgrade.outputs").joinpath(SCHEMA_FILE).read_text()
    return json.loads(text)


def validate_result_dict(doc: Any, schema: dict[str, Any] | None = None, *, reference: bool = True) -> list[str]:
    """Return the schema violations of ``doc`` (empty list: valid), each as ``"<json path>: <what>"``.
    ``reference=False`` uses the small validator even where ``jsonschema`` is installed: the writer's
    check of every result, where importing jsonschema alone took longer than writing result.json."""
    schema = schema or result_schema()
    try:
        if not reference:
            raise ImportError
        import jsonschema  # optional: the reference validator, if present
    except ImportError:
        errors: list[str] = []
        _check(doc, schema, schema, "$", errors)
        return errors
    validator = jsonschema.Draft202012Validator(schema)
    return [f"$/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str, errors: list[str]) -> None:
    unknown = set(schema) - _ANNOTATIONS - _CHECKED
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} at {where} not supported by the fallback validator")
    if "$ref" in schema:
        _check(value, _resolve(root, schema["$ref"]), root, where, errors)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            errors.append(f"{where}: {value!r:.60} is not of type {' or '.join(types)}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r:.60} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r:.60} is not one of {schema['enum']}")
    if "anyOf" in schema and not any(not _collect(value, s, root, where) for s in schema["anyOf"]):
        errors.append(f"{where}: {value!r:.60} matches none of the allowed forms")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} is more than {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {value} is not more than {schema['exclusiveMinimum']}")
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{where}: {value} is not a finite number")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errors.append(f"{where}: string shorter than {schema['minLength']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r:.60} does not match {schema['pattern']!r}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], root, f"{where}/{i}", errors)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required property {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _check(item, props[key], root, f"{where}/{key}", errors)
            elif extra is False:
                errors.append(f"{where}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{where}/{key}", errors)


def _collect(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    _check(value, schema, root, where, errors)
    return errors
