"""The fitting tool for the shipped models: generated validation slides only, pooled count files, and a
model folder's card written from a folder of slides."""

from __future__ import annotations

import pytest

from zoomgrade.bench.recall_prior import measure
from zoomgrade.labels import TBSRTC


def test_held_out_seeds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="validation seeds"):
        measure(2, (4, 4), 1_000_000, tmp_path)


def test_a_pool_file_that_is_not_one_is_named_in_one_line(tmp_path):
    from zoomgrade.bench.recall_prior import main

    bad = tmp_path / "counts.json"
    bad.write_text("{not json")
    for f in (bad, tmp_path / "missing.json"):
        with pytest.raises(SystemExit, match=str(f)):
            main(["--pool", str(f), "--n", "1", "--slides-dir", str(tmp_path)])


def test_write_card_puts_the_fit_into_a_model_folder(tmp_path, synth_slide, capsys):
    """The tool on a copy of the shipped models and a folder of the lab's slides: the stage-1 card gets the
    record, grading takes it from there, and the weights are untouched."""
    import shutil

    from zoomgrade.bench.recall_prior import main
    from zoomgrade.cascade import default_config
    from zoomgrade.cascade.measured import from_models
    from zoomgrade.models.card import early_stop_record
    from zoomgrade.models.folder import WEIGHTS_DIR, load_models

    folder, slides = tmp_path / "models", tmp_path / "slides"
    shutil.copytree(WEIGHTS_DIR, folder)
    slides.mkdir()
    for cat in ("II", "VI"):
        src = synth_slide(cat)
        shutil.copy(src, slides / src.name)
    (slides / "broken.svs").write_bytes(b"not a slide")
    before = (folder / "stage1.safetensors").read_bytes()
    card = (folder / "stage1.json").read_bytes()
    with pytest.raises(SystemExit, match="too few to fit anything; the card is unchanged"):
        main(["--models", str(folder), "--input", str(slides), "--write-card"])  # two slides: fewer than 20
    assert (folder / "stage1.json").read_bytes() == card
    main(["--models", str(folder), "--input", str(slides), "--write-card", "--min-slides", "2"])
    models = load_models(folder)
    rec = early_stop_record(*models)
    assert rec["measured_on"].startswith("2 validation slides") and "2 slides of a folder" in rec["measured_on"]
    assert rec["stage2_files"] == models[1].card.files and (folder / "stage1.safetensors").read_bytes() == before
    es = from_models(default_config(), *models, TBSRTC).early_stop
    assert es.undergrade == rec["undergrade"] and set(rec["undergrade"]) <= {"benign", "suspicious_follicular"}
    assert "broken.svs: left out" in capsys.readouterr().out


def test_bad_models_or_slide_folders_are_one_line_and_leave_the_card_alone(tmp_path, capsys):
    import shutil

    from zoomgrade.bench.recall_prior import main
    from zoomgrade.models.folder import WEIGHTS_DIR

    folder, empty = tmp_path / "models", tmp_path / "empty"
    shutil.copytree(WEIGHTS_DIR, folder)
    empty.mkdir()
    (empty / "broken.svs").write_bytes(b"not a slide")
    card = (folder / "stage1.json").read_bytes()
    for argv, says in (
        (["--models", str(tmp_path / "none"), "--input", str(empty)], "--models: "),
        (["--models", str(folder), "--input", str(tmp_path / "missing"), "--write-card"], "not a folder of slides"),
        (["--models", str(folder), "--input", str(empty), "--write-card"], "no slide could be graded"),
    ):
        with pytest.raises(SystemExit, match=says) as err:
            main(argv)
        assert "\n" not in str(err.value)
    assert (folder / "stage1.json").read_bytes() == card  # the record measured before is kept
