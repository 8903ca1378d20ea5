"""Reading the TOML files users write: every failure one line naming the file and the cause; validation errors
as ``<key path>: <cause>``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from zoomgrade.errors import ConfigError, LabelSetError
from zoomgrade.userfile import key_path, problem, read_toml


def test_read_toml_reads_a_table(tmp_path: Path) -> None:
    p = tmp_path / "a.toml"
    p.write_text('[fusion]\nprior_weight = 0.5\nname = "x"\n')
    assert read_toml(p, ConfigError, "config file") == {"fusion": {"prior_weight": 0.5, "name": "x"}}


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "a.toml: config file not found"),
        ("dir", "a.toml: is a directory, not a config file"),
        (b"\xff\xfe\x00bad", "a.toml: not a text file"),
        (b"[fusion\n", "a.toml: not valid TOML"),
    ],
)
def test_read_toml_says_what_is_wrong_in_one_line(tmp_path: Path, content: bytes | str | None, expect: str) -> None:
    p = tmp_path / "a.toml"
    if content == "dir":
        p.mkdir()
    elif isinstance(content, bytes):
        p.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        read_toml(p, ConfigError, "config file", source="a.toml")
    assert str(err.value).startswith(expect) and "\n" not in str(err.value)


def test_read_toml_raises_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(LabelSetError, match="label-set file not found"):
        read_toml(tmp_path / "none.toml", LabelSetError, "label-set file")


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colour: str
    sizes: list[int] = []


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: dict[str, _Inner]


def _first_problem(data: dict, show_input: bool = False) -> str:
    with pytest.raises(ValidationError) as err:
        _Outer.model_validate(data)
    return problem(err.value.errors()[0], show_input)


def test_problem_names_the_key_path() -> None:
    assert _first_problem({"categories": {"VI": {"colour": "red", "hue": 1}}}) == "categories.VI.hue: unknown key"
    assert _first_problem({"categories": {"VI": {}}}) == "categories.VI.colour: missing"
    assert _first_problem({"categories": {"VI": {"colour": "r", "sizes": [1, "x"]}}}).startswith(
        "categories.VI.sizes[1]: "
    )
    shown = _first_problem({"categories": {"VI": {"colour": 3}}}, show_input=True)
    assert shown.startswith("categories.VI.colour: ") and shown.endswith(", got 3")
    assert _first_problem({}) == "categories: missing"


def test_key_path_leaves_out_the_key_marker() -> None:
    assert key_path(("slide_rule", "min_count", "B3", "[key]")) == "slide_rule.min_count.B3"
    assert key_path(()) == "(top level)"
