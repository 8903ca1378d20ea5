"""The result.json schema: load it, and validate a document against it with ``jsonschema`` (the JSON
Schema project's reference validator, Draft 2020-12)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

SCHEMA_VERSION = "2.0"
SCHEMA_FILE = "result.schema.json"


@functools.cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of result.json (shipped as package data)."""
    text = resources.files("zoomgrade.outputs").joinpath(SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _result_validator() -> jsonschema.Draft202012Validator:
    # Imported here and built once: importing jsonschema costs more than writing one result.json, so commands
    # that write none do not pay it, and a batch of slides pays it once per process.
    import jsonschema

    return jsonschema.Draft202012Validator(result_schema())


def validate_result_dict(doc: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Return the schema violations of ``doc`` (empty list: valid), each as ``"<json path>: <what>"``."""
    if schema is None:
        validator = _result_validator()
    else:
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
    return [f"$/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
