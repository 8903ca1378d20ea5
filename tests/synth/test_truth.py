import json

import pytest

from zoomgrade.errors import ZoomgradeError
from zoomgrade.synth.truth import read_truth, truth_paths


def test_read_truth_gives_the_record_beside_a_slide(tmp_path):
    slide = tmp_path / "s.svs"
    truth_paths(slide)[1].write_text(json.dumps({"seed": 7, "category": "IV"}))
    assert read_truth(slide) == {"seed": 7, "category": "IV"}


def test_a_slide_without_truth_has_none(tmp_path):
    assert read_truth(tmp_path / "s.svs") is None


@pytest.mark.parametrize(
    ("content", "cause"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "one JSON object, found list"), (b"\xff\xfe\x00", "cannot read")],
)
def test_a_bad_truth_file_is_named_with_its_cause(tmp_path, content, cause):
    slide = tmp_path / "s.svs"
    path = truth_paths(slide)[1]
    path.write_bytes(content)
    with pytest.raises(ZoomgradeError) as err:
        read_truth(slide)
    assert str(err.value).startswith(f"{path}: ") and cause in str(err.value)
