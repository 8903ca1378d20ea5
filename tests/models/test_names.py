"""Name mappings for training annotations: ``--map OLD=NEW`` and a TOML file of ``OLD = "NEW"`` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomgrade.errors import ZoomgradeError
from zoomgrade.models.names import parse_mapping


def test_a_map_file_and_pairs_merge_pairs_last(tmp_path: Path) -> None:
    p = tmp_path / "names.toml"
    p.write_text('Benign = "II"\n"Bethesda VI" = "VI"\nJunk = "-"\n')
    assert parse_mapping(["Benign = III"], p) == {"Benign": "III", "Bethesda VI": "VI", "Junk": "-"}


def test_a_bad_map_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ZoomgradeError, match=r"none\.toml: name-mapping file not found"):
        parse_mapping(None, tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("Benign = \n")
    with pytest.raises(ZoomgradeError, match=r"bad\.toml: not valid TOML"):
        parse_mapping(None, bad)
    bad.write_text("Benign = 2\n")
    with pytest.raises(ZoomgradeError, match=r"bad\.toml: Benign: expected a string"):
        parse_mapping(None, bad)


def test_a_pair_without_equals_is_refused() -> None:
    with pytest.raises(ZoomgradeError, match="expected OLD=NEW"):
        parse_mapping(["Benign"])
