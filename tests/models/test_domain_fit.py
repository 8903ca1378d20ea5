"""``python -m zoomgrade.models.domain_fit``: a card's domain records refitted from the slides it lists."""

from __future__ import annotations

import json
import shutil

import pytest

from zoomgrade.models.colour import HUE_OD
from zoomgrade.models.domain_fit import main
from zoomgrade.models.folder import WEIGHTS_DIR


def _card_listing(tmp_path, names):
    """A copy of the shipped stage-1 card whose training split lists ``names`` (slides in tmp/slides)."""
    card = json.loads((WEIGHTS_DIR / "stage1.json").read_text())
    card["training"]["data"] = {"train": names[:-1], "val": names[-1:]}
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "stage1.json").write_text(json.dumps(card))
    return folder / "stage1.json", card


def test_colour_only_refits_the_colour_record_and_leaves_the_rest(tmp_path, synth_slide):
    slides = tmp_path / "slides"
    slides.mkdir()
    names = []
    for cat, stain in (("II", "pap"), ("IV", "diffquik"), ("VI", "pap")):
        p = synth_slide(cat, stain=stain)
        shutil.copy(p, slides / p.name)
        names.append(p.name)
    path, before = _card_listing(tmp_path, names)
    assert main([str(path), "--slides", str(slides), "--colour-only"]) == 0
    after = json.loads(path.read_text())
    colour = after["domain"]["colour"]
    assert colour["n_slides"] == 3 and colour["hue_od"] == HUE_OD and len(colour["held_out_medians"]) == 3
    assert colour["fitted_on"] == {
        "train": names[:2],
        "val": names[2:],
        "command": f"python -m zoomgrade.models.domain_fit --colour-only --slides slides {path.name}",
    }
    assert {k: v for k, v in after["domain"].items() if k != "colour"} == {
        k: v for k, v in before["domain"].items() if k != "colour"
    }  # the feature and stain records as they were
    assert {k: v for k, v in after.items() if k != "domain"} == {k: v for k, v in before.items() if k != "domain"}


def test_a_folder_without_the_listed_slides_is_refused(tmp_path):
    path, _ = _card_listing(tmp_path, ["a.svs", "b.svs"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="none of the card's train or val slides"):
        main([str(path), "--slides", str(tmp_path / "empty"), "--colour-only"])


def test_a_listed_slide_that_cannot_be_read_is_named_in_one_line(tmp_path, synth_slide):
    slides = tmp_path / "slides"
    slides.mkdir()
    good = synth_slide("II")
    shutil.copy(good, slides / good.name)
    (slides / "broken.svs").write_bytes(b"not a slide")
    path, before = _card_listing(tmp_path, [good.name, "broken.svs"])
    with pytest.raises(SystemExit, match=r"broken\.svs") as err:
        main([str(path), "--slides", str(slides), "--colour-only"])
    assert "\n" not in str(err.value)
    assert json.loads(path.read_text()) == before  # the card is left as it was
