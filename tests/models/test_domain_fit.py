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


def _listed_slides(tmp_path, synth_slide):
    """Three generated slides, both stains, in tmp/slides: (the folder, their names)."""
    slides = tmp_path / "slides"
    slides.mkdir()
    names = []
    for cat, stain in (("II", "pap"), ("IV", "diffquik"), ("VI", "pap")):
        p = synth_slide(cat, stain=stain)
        shutil.copy(p, slides / p.name)
        names.append(p.name)
    return slides, names


def test_colour_only_refits_the_colour_record_and_leaves_the_rest(tmp_path, synth_slide):
    slides, names = _listed_slides(tmp_path, synth_slide)
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


def test_calibration_regions_are_found_as_the_cascade_finds_them():
    from zoomgrade.cascade.config import load_config
    from zoomgrade.models import domain_fit

    cfg = load_config(None).stage1  # the defaults a grade uses
    assert cfg.group_threshold == domain_fit.GROUP_THRESHOLD
    assert cfg.min_region_area_um2 == domain_fit.MIN_REGION_AREA_UM2


def test_calibrate_draws_the_thresholds_from_the_folder_as_the_gate_scores_it(tmp_path, synth_slide):
    import numpy as np

    from zoomgrade.cascade.config import load_config
    from zoomgrade.models.card import paths_for
    from zoomgrade.models.domain import DomainModel
    from zoomgrade.models.regions import maps_to_regions
    from zoomgrade.models.runners import Stage1Runner
    from zoomgrade.models.weights_file import load_model
    from zoomgrade.qc.gate import score_domain
    from zoomgrade.slide import open_slide

    slides, names = _listed_slides(tmp_path, synth_slide)
    calib = tmp_path / "calibration"
    calib.mkdir()
    for cat, stain, seed in (("III", "pap", 1_000_030), ("V", "diffquik", 1_000_031)):
        shutil.copy(synth_slide(cat, seed=seed, stain=stain), calib)
    (calib / "notes.txt").write_text("not a slide")
    path, _ = _card_listing(tmp_path, names)
    for f in ("stage1.safetensors", "stage1.onnx"):
        shutil.copy(WEIGHTS_DIR / f, path.parent / f)
    assert main([str(path), "--slides", str(slides), "--calibrate", str(calib)]) == 0
    after = json.loads(path.read_text())
    feats, fitted = after["domain"]["features"], after["domain"]["fitted_on"]
    calibration = sorted(p.name for p in calib.glob("*.svs"))
    assert fitted["calibration"] == calibration and "--calibrate calibration" in fitted["command"]
    assert feats["n_train_slides"] == 3 and feats["n_val_slides"] == 2 and feats["n_val_regions"] > 0
    # What the gate makes of the calibration slides, graded as the cascade reads them (level-0 coordinates):
    # the largest slide and region scores are the card's.
    model, card = load_model(path)
    runner = Stage1Runner(model, card, device="cpu", weights_path=paths_for(path)[0])  # grading's engine
    domain = DomainModel.from_dict(feats)
    assert domain is not None
    cfg = load_config(None).stage1
    medians, regions = [], []
    for name in calibration:
        with open_slide(calib / name) as slide:
            thumb = np.asarray(slide.thumbnail(card.input_mpp))
            maps = runner.predict(thumb)
            s = maps.stride
            h, w = -(-thumb.shape[0] // s), -(-thumb.shape[1] // s)
            maps = type(maps)(maps.group[:h, :w], maps.grade[:h, :w], maps.attention[:h, :w], s, maps.features)
            scale_mpp = slide.dimensions[0] * slide.mpp / thumb.shape[1] * s
            found = maps_to_regions(
                maps,
                scale_mpp,
                slide.mpp,
                group_threshold=cfg.group_threshold,
                min_area_um2=cfg.min_region_area_um2,
            )
            median, scores = score_domain(domain, maps.features, thumb, found, thumb.shape[1] / slide.dimensions[0])
        medians.append(median)
        regions += [r.score for r in scores]
    assert feats["val_max_median"] == pytest.approx(max(medians), rel=1e-9)
    assert feats["val_max_region"] == pytest.approx(max(regions), rel=1e-9)
    assert len(regions) == feats["n_val_regions"]
    assert feats["slide_threshold"] >= feats["val_max_median"] and feats["cell_threshold"] >= feats["val_max_region"]


def test_calibrate_is_refused_with_colour_only_and_an_empty_folder(tmp_path):
    path, _ = _card_listing(tmp_path, ["a.svs", "b.svs"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="does nothing with --colour-only"):
        main([str(path), "--slides", str(tmp_path), "--colour-only", "--calibrate", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match="no slide files to calibrate on"):
        main([str(path), "--slides", str(tmp_path), "--calibrate", str(tmp_path / "empty")])
