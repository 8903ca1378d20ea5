"""Classes 1, 2 and 9 of issue 24: output folders stay inside OUT, never collide, never hide, are the same for
grade and batch, and the same file given twice is graded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zoomgrade.batch.inputs import resolve_inputs
from zoomgrade.outputs.naming import RESERVED, output_dirs, output_names, safe_name, slide_stem, unique_inputs


@pytest.mark.parametrize("name", ["...svs", "..svs", ".svs", "..", ". .svs", "....ome.tiff", "./.svs", " ..svs"])
def test_no_stem_escapes_or_hides(tmp_path, name):
    out = tmp_path / "out"
    (d,) = output_dirs([tmp_path / "in" / name], out)
    assert d.parent == out  # never out/.. nor out itself
    assert d.resolve().parent == out.resolve()
    assert not d.name.startswith(".") and d.name not in ("", ".", "..")


@pytest.mark.parametrize("stem", ["a\\b", "a\x00b", "a\nb", "x" * 400, "  ", "\x7f"])
def test_separators_control_characters_and_length(stem):
    name = safe_name(stem)
    assert "/" not in name and "\\" not in name and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    assert 0 < len(name) <= 120


def test_suffix_of_a_colliding_pair_meets_no_other_slide(tmp_path):
    # a/x.svs and b/x.svs collide; the old "-2" rule then met the real slide x-2.svs
    a, b, c = tmp_path / "a" / "x.svs", tmp_path / "b" / "X.tif", tmp_path / "x-2.svs"
    names = output_names([a, b, c])
    assert len({n.lower() for n in names}) == 3
    assert names[2] == "x-2"
    # a slide literally named like a hashed name does not take it from the pair
    hashed = names[0]
    names2 = output_names([a, b, tmp_path / f"{hashed}.svs"])
    assert len({n.lower() for n in names2}) == 3 and names2[2] == hashed and names2[0] != hashed


@pytest.mark.parametrize("name", sorted(RESERVED | {"SUMMARY.CSV", "Failures.csv"}))
def test_run_files_are_never_a_slide_folder(tmp_path, name):
    (n,) = output_names([tmp_path / f"{name}.svs"])
    assert n.lower() not in {r.lower() for r in RESERVED}


def test_grade_and_batch_name_the_same_slides_alike(tmp_path):
    paths = []
    for sub, name in (("a", "s.svs"), ("b", "s.svs"), ("c", "t.ome.tiff"), ("d", "=1.svs")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(b"x")
        paths.append(tmp_path / sub / name)
    batch = {s.path: s.name for s in resolve_inputs(tmp_path)}
    grade = dict(zip(paths, output_names(paths)))
    assert batch == grade
    assert slide_stem(paths[2]) == "t"


def test_same_file_twice_via_symlink_or_hard_link_is_graded_once(tmp_path):
    f = tmp_path / "s.svs"
    f.write_bytes(b"x")
    (tmp_path / "link.svs").symlink_to(f)
    os.link(f, tmp_path / "hard.svs")
    other = tmp_path / "o.svs"
    other.write_bytes(b"y")
    kept, dropped = unique_inputs([f, tmp_path / "link.svs", other, Path(str(f)), tmp_path / "hard.svs"])
    assert kept == [f, other] and len(dropped) == 3
    assert [s.path.name for s in resolve_inputs([f, tmp_path / "link.svs", other])] == ["s.svs", "o.svs"]
