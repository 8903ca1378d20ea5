"""Label-set files: the shipped ones load and TBSRTC is what it always was; a bad file is refused with one
line naming the file, the key and the cause."""

from __future__ import annotations

import tomllib

import pytest

from zoomgrade.errors import LabelSetError
from zoomgrade.labels import (
    TBSRTC,
    label_set_from_dict,
    label_set_to_dict,
    load_label_set,
    read_label_file,
    shipped_files,
    shipped_label_sets,
)


def test_shipped_label_sets_load_with_their_sources():
    sets = shipped_label_sets()
    assert {"tbsrtc-3", "isrsfc-1", "yokohama-1"} <= set(sets)
    for ls in sets.values():
        assert ls.source and ls.title
        assert set(ls.risk_of_malignancy) == set(ls.categories)
        for k, (lo, hi) in ls.risk_ranges.items():
            assert lo <= ls.risk_of_malignancy[k] <= hi


def test_tbsrtc_is_unchanged():
    assert TBSRTC.name == "tbsrtc-3"
    assert TBSRTC.fine == ("II", "III", "IV", "V", "VI") and TBSRTC.nondiagnostic == "I"
    assert TBSRTC.coarse_to_fine == {
        "benign": ("II",),
        "suspicious_follicular": ("III", "IV"),
        "malignant": ("V", "VI"),
    }
    assert TBSRTC.risk_of_malignancy == {"I": 0.13, "II": 0.04, "III": 0.22, "IV": 0.30, "V": 0.74, "VI": 0.97}
    assert TBSRTC.colors["VI"] == "#6a1b9a" and TBSRTC.colors["suspicious_follicular"] == "#ef6c00"
    assert TBSRTC.severity_from == "V" and TBSRTC.slide_rule["min_count"] == {"III": 3, "IV": 3, "V": 3, "VI": 3}


def test_names_stems_and_round_trip_through_the_card_form():
    assert load_label_set("tbsrtc") == load_label_set("tbsrtc-3") == TBSRTC
    for ls in shipped_label_sets().values():
        assert label_set_from_dict(label_set_to_dict(ls), "card") == ls
    with pytest.raises(LabelSetError, match="no such label set"):
        load_label_set("bethesda-99")


def _tbsrtc_data() -> dict:
    return tomllib.loads(shipped_files()["tbsrtc"].read_text())


def _edit(data, path, value):
    d = data
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "key", "cause"),
    [
        (("fine",), ["II", "III", "III", "V", "VI"], "fine", "listed twice"),
        (("coarse", 0, "fine"), ["II", "III"], "coarse[1].fine", "already in coarse grade 'benign'"),
        (("coarse", 1, "fine"), ["III"], "coarse", "'IV' is in no coarse grade"),
        (("fine",), ["II", "IV", "III", "V", "VI"], "coarse", "disagrees"),
        (("categories", "V", "risk"), 1.4, "categories.V.risk", "less than or equal to 1"),
        (("categories", "I", "risk"), -0.1, "categories.I.risk", "greater than or equal to 0"),
        (("categories", "II", "colour"), "green", "categories.II.colour", "pattern"),
        (("coarse", 2, "colour"), "#12345", "coarse[2].colour", "pattern"),
        (("categories", "V", "risk"), 0.9, "categories.V", "outside its risk_range"),
        (("severity_from",), "VII", "severity_from", "not a fine grade"),
        (("slide_rule", "min_count", "II"), 3, "slide_rule.min_count.II", "above the least severe"),
        (("colour_scheme",), "dark", "colour_scheme", "unknown key"),
        (("nondiagnostic",), "II", "nondiagnostic", "also a fine grade"),
    ],
)
def test_bad_label_set_is_one_line_naming_where_and_key(path, value, key, cause):
    data = _tbsrtc_data()
    _edit(data, path, value)
    with pytest.raises(LabelSetError) as err:
        label_set_from_dict(data, "my.toml")
    msg = str(err.value)
    assert msg.startswith(f"my.toml: {key}: ") and cause in msg and "\n" not in msg


def test_bad_file_names_the_file(tmp_path):
    text = shipped_files()["tbsrtc"].read_text().replace('colour = "#6a1b9a"', 'colour = "purple"')
    p = tmp_path / "mine.toml"
    p.write_text(text)
    with pytest.raises(LabelSetError, match=r"mine.toml: categories.VI.colour: "):
        read_label_file(p)
    p.write_text("name = [")
    with pytest.raises(LabelSetError, match="not valid TOML"):
        read_label_file(p)
