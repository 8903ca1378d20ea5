"""Which files a batch picks up, and the output folder names it gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomgrade.batch.inputs import find_slides, read_list, resolve_inputs, slide_stem, unique_names
from zoomgrade.errors import ZoomgradeError


def touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_folder_discovery_recursive_slide_formats_only(tmp_path):
    root = tmp_path / "study"
    want = [
        touch(root / "a.svs"),
        touch(root / "sub" / "b.TIFF"),
        touch(root / "sub" / "deep" / "c.ndpi"),
        touch(root / "m.mrxs"),
        touch(root / "dicom" / "level0.dcm"),
    ]
    touch(root / "dicom" / "level1.dcm")  # same DICOM WSI: one file of the folder is enough
    touch(root / "m" / "Data0000.dat")  # MIRAX data folder
    touch(root / "notes.txt")
    touch(root / "photo.png")
    touch(root / ".hidden.svs")
    touch(root / ".cache" / "x.svs")
    touch(root / "out" / "a" / "overlay.png")
    touch(root / "out" / "old.svs")  # inside the batch's own output folder: excluded
    found = find_slides(root, exclude=root / "out")
    # Walk order: a folder's own files (sorted), then its sub-folders (sorted): stable between runs.
    assert found == [p.resolve() for p in (want[0], want[3], want[4], want[1], want[2])]


def test_read_text_list_comments_and_relative_paths(tmp_path):
    lst = tmp_path / "lists" / "run.txt"
    touch(lst, b"# slides for the run\n\n../s/a.svs\n  /abs/b.svs  \nnotes.txt\n")
    assert read_list(lst) == [
        (tmp_path / "s" / "a.svs").resolve(),
        Path("/abs/b.svs"),
        (tmp_path / "lists" / "notes.txt").resolve(),
    ]


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("id,slide_path,site\n1,a.svs,x\n2,b.svs,y\n", ["a.svs", "b.svs"]),
        ("case,path\nc1,a.svs\n", ["a.svs"]),
        ("a.svs,extra\nb.svs,extra\n", ["a.svs", "b.svs"]),  # no known header: first column
    ],
)
def test_read_csv_list(tmp_path, text, expect):
    lst = touch(tmp_path / "run.csv", text.encode())
    assert read_list(lst) == [(tmp_path / e).resolve() for e in expect]


def test_names_disambiguate_colliding_stems_stably(tmp_path):
    a, b, c = tmp_path / "x" / "s1.svs", tmp_path / "y" / "S1.ndpi", tmp_path / "z" / "t.ome.tiff"
    named = unique_names([a, b, c])
    names = [s.name for s in named]
    assert names[2] == "t" and slide_stem(c) == "t"
    assert names[0].startswith("s1-") and names[1].startswith("S1-") and len({n.lower() for n in names}) == 3
    assert [s.name for s in unique_names([a, b, c])] == names  # same inputs, same names (resumable)
    assert unique_names([a])[0].name == "s1"


def test_resolve_inputs_errors_and_duplicates(tmp_path):
    with pytest.raises(ZoomgradeError, match="no such file or folder"):
        resolve_inputs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    touch(tmp_path / "empty" / "readme.txt")
    with pytest.raises(ZoomgradeError, match="no slide files found"):
        resolve_inputs(tmp_path / "empty")
    s = touch(tmp_path / "one.svs")
    assert [x.path for x in resolve_inputs([s, str(s)])] == [s.resolve()]
    assert [x.name for x in resolve_inputs(s)] == ["one"]  # a single slide file is a batch of one


def test_symlinked_slides_keep_their_link_names(tmp_path):
    real = touch(tmp_path / "scanner" / "0001.svs")
    study = tmp_path / "study"
    study.mkdir()
    (study / "patient_a.svs").symlink_to(real)
    named = resolve_inputs(study)
    assert [(s.path, s.name) for s in named] == [(study / "patient_a.svs", "patient_a")]
