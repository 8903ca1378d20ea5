"""CSV manifests and the train / validation / test split by slide, patient or manifest."""

from __future__ import annotations

import pytest

from zoomgrade.errors import ZoomgradeError
from zoomgrade.models.datasets import find_slides, split_items
from zoomgrade.models.manifest import assign_splits, split_record


def _manifest(tmp_path, tiny_slides, rows: list[str], header: str = "slide,category,patient,split") -> object:
    p = tmp_path / "slides.csv"
    lines = [header] + [r.replace("DIR", str(tiny_slides)) for r in rows]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_manifest_gives_category_patient_split_and_test_is_held_out(tmp_path, tiny_slides):
    names = sorted(p.name for p in tiny_slides.glob("*.tif"))
    m = _manifest(
        tmp_path,
        tiny_slides,
        [
            f"DIR/{names[0]},II,p1,train",
            f"DIR/{names[1]},V,p2,val",
            f"DIR/{names[2]},VI,p3,test",
            f"DIR/{names[3]},,p1,train",
        ],
    )
    items = find_slides(m)
    assert [it.category for it in items] == ["II", "V", "VI", None]
    train, val = split_items(items)
    assert [it.slide.name for it in train] == [names[0], names[3]]
    assert [it.slide.name for it in val] == [names[1]]
    rec = split_record(items, train, val)
    assert rec["split_by"] == "manifest" and rec["test"] == [names[2]]
    assert rec["patients"] == {"train": ["p1"], "val": ["p2"], "test": ["p3"]}


def test_split_by_patient_keeps_each_patients_slides_together(tmp_path, tiny_slides):
    names = sorted(p.name for p in tiny_slides.glob("*.tif"))
    patients = ["a", "b", "a", "b"]
    m = _manifest(tmp_path, tiny_slides, [f"DIR/{n},,{p}," for n, p in zip(names, patients)])
    items = find_slides(m)
    train, val, how = assign_splits(items, val_fraction=0.5)
    assert how == "patient" and train and val
    assert not {it.patient for it in train} & {it.patient for it in val}  # no patient on both sides
    assert len(train) + len(val) == 4


def test_folder_split_is_by_slide_as_before(tiny_slides):
    items = find_slides(tiny_slides)
    _train, val, how = assign_splits(items, 0.5)
    assert how == "slide" and [it.slide.name for it in val] == [items[1].slide.name, items[3].slide.name]


@pytest.mark.parametrize(
    ("rows", "header", "msg"),
    [
        (["x.tif"], "image,category", "needs a 'slide' column"),
        (["DIR/nope.tif,II,,train"], "slide,category,patient,split", "not found"),
        (["DIR/a.tif,II,,holdout"], "slide,category,patient,split", "is not one of"),
        (["DIR/a.tif", "DIR/a.tif"], "slide", "listed twice"),
    ],
)
def test_bad_manifests_get_one_clear_line(tmp_path, tiny_slides, rows, header, msg):
    m = _manifest(tmp_path, tiny_slides, rows, header)
    with pytest.raises(ZoomgradeError, match=msg) as err:
        find_slides(m)
    assert str(m) in str(err.value)
