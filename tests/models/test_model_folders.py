"""Model folders: what `grade --models` refuses (one line, exit 2) and what loads; old cards without the
label set's definition still load by its name."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from labelset_fixtures import write_other
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.labels import TBSRTC, label_set_to_dict, read_label_file
from zoomgrade.models.card import ModelCard
from zoomgrade.models.folder import WEIGHTS_DIR, load_model_folder
from zoomgrade.models.stage1 import Stage1Config, Stage1Net
from zoomgrade.models.stage2 import Stage2Config, Stage2Net
from zoomgrade.models.weights_file import save_model

TINY1 = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)
TINY2 = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


def make_folder(d, l1, l2, classes2=None):
    torch.manual_seed(0)
    c1 = Stage1Config(**{**TINY1.to_dict(), "n_coarse": len(l1.coarse)})
    c2 = Stage2Config(**{**TINY2.to_dict(), "n_classes": len(l2.fine) + 1})
    save_model(
        Stage1Net(c1),
        ModelCard(
            "stage1",
            "t",
            "Stage1Net",
            c1.to_dict(),
            8.0,
            None,
            l1.name,
            list(l1.coarse),
            label_definition=label_set_to_dict(l1),
        ),
        d / "stage1",
    )
    save_model(
        Stage2Net(c2),
        ModelCard(
            "stage2",
            "t",
            "Stage2Net",
            c2.to_dict(),
            0.5,
            64,
            l2.name,
            classes2 or [*l2.fine, "none"],
            label_definition=label_set_to_dict(l2),
        ),
        d / "stage2",
    )
    return d


def _grade(tmp_path, folder, *extra):
    slide = tmp_path / "missing.svs"  # never opened: the models are refused first
    return CliRunner().invoke(app, ["grade", str(slide), "--models", str(folder), "--out", str(tmp_path / "o"), *extra])


def test_stage_models_with_different_label_sets_are_refused_naming_both(tmp_path):
    other = read_label_file(write_other(tmp_path))
    folder = make_folder(tmp_path / "m", TBSRTC, other)
    r = _grade(tmp_path, folder)
    assert r.exit_code == 2 and r.output.count("error:") == 1
    assert "label sets differ" in r.output and "stage1.json" in r.output and "stage2.json" in r.output
    assert TBSRTC.name in r.output and other.name in r.output


def test_a_model_whose_classes_do_not_match_its_label_set_is_refused(tmp_path):
    other = read_label_file(write_other(tmp_path))
    folder = make_folder(tmp_path / "m", other, other, classes2=["bland", "atypical", "cancer", "suspect", "none"])
    r = _grade(tmp_path, folder)
    assert r.exit_code == 2 and "do not match label set other-4x2" in r.output and "stage2.json" in r.output


def test_a_config_naming_another_label_set_or_an_unknown_grade_is_refused(tmp_path):
    other = read_label_file(write_other(tmp_path))
    folder = make_folder(tmp_path / "m", other, other)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[models]\nlabel_set = "tbsrtc-3"\n')
    r = _grade(tmp_path, folder, "--config", str(cfg))
    assert r.exit_code == 2 and "label sets differ" in r.output and "tbsrtc-3" in r.output and "other-4x2" in r.output
    cfg.write_text('[fallback]\nseverity_from = "V"\n')  # a TBSRTC grade, not one of this label set
    r = _grade(tmp_path, folder, "--config", str(cfg))
    assert r.exit_code == 2 and str(cfg) in r.output and "fallback.severity_from" in r.output
    assert r.output.count("error:") == 1


def test_config_models_folder_is_relative_to_the_config_file(tmp_path):
    from zoomgrade.cascade import load_config

    other = read_label_file(write_other(tmp_path))
    make_folder(tmp_path / "m", other, other)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[models]\nfolder = "m"\n')
    c = load_config(cfg)
    s1, s2 = load_model_folder(c.models.folder)
    assert s2.label_set.name == "other-4x2" and s1.label_set.same_as(s2.label_set)


def test_old_cards_without_the_definition_load_by_name(tmp_path):
    """Cards written before ``label_definition`` name their label set only: it is found by that name."""
    for f in WEIGHTS_DIR.iterdir():
        if f.name.startswith(("stage1.", "stage2.")):
            shutil.copy(f, tmp_path / f.name)
    for stage in ("stage1", "stage2"):
        card = json.loads((tmp_path / f"{stage}.json").read_text())
        card.pop("label_definition", None)
        (tmp_path / f"{stage}.json").write_text(json.dumps(card))
    s1, s2 = load_model_folder(tmp_path)
    assert s2.label_set == TBSRTC and s1.label_set == TBSRTC


@pytest.mark.parametrize("what", ["empty", "not a folder"])
def test_models_check_refuses_with_one_line(tmp_path, what):
    d = tmp_path / "d"
    if what == "empty":
        d.mkdir()
    r = CliRunner().invoke(app, ["models", "check", str(d)])
    assert r.exit_code == 2 and r.output.count("error:") == 1 and str(d) in r.output


def test_a_stage2_model_run_outside_its_resolution_is_said_in_the_warnings():
    from types import SimpleNamespace

    from zoomgrade.cascade.config import config_from_dict
    from zoomgrade.cascade.prepare import slide_warnings

    slide = SimpleNamespace(mpp_source="file", mpp=0.25)
    half = config_from_dict({"stage2": {"mpp": 0.5}, "exhaustive": {"mpp": 0.5}})  # set, not the card's
    card = SimpleNamespace(input_mpp=1.0, mpp_range=None)
    w = slide_warnings(slide, half, SimpleNamespace(card=card))
    assert any("stage2.mpp 0.5 um/px is outside the stage-2 model's 1-1 um/px" in x for x in w)
    card = SimpleNamespace(input_mpp=0.5, mpp_range=(0.25, 1.0))
    assert slide_warnings(slide, half, SimpleNamespace(card=card)) == []
    # within the range its training code declares, but not where it was trained (zoomgrade train --mpp 1)
    card = SimpleNamespace(input_mpp=1.0, mpp_range=(0.25, 1.0))
    w = slide_warnings(slide, half, SimpleNamespace(card=card))
    assert sum("is not the stage-2 model's 1 um/px, where it was trained" in x for x in w) == 2  # stage 2, exhaustive


def test_stage2_and_the_baseline_read_at_their_cards_resolution(tmp_path, synth_slide):
    """``stage2.mpp`` and ``exhaustive.mpp`` 0 (the defaults) read at the stage-2 card's ``input_mpp``: a
    model folder's stage 2 trained at 1 um/px is run at 1 by stage 2, the fallback and the baseline."""
    from zoomgrade.cascade import grade_modes
    from zoomgrade.cascade.config import default_config

    assert default_config().stage2.mpp == default_config().exhaustive.mpp == 0.0
    for f in WEIGHTS_DIR.iterdir():
        if f.name.startswith(("stage1.", "stage2.")):
            shutil.copy(f, tmp_path / f.name)
    card = json.loads((tmp_path / "stage2.json").read_text())
    card["input_mpp"], card["mpp_range"] = 1.0, [0.5, 2.0]
    (tmp_path / "stage2.json").write_text(json.dumps(card))
    slide = synth_slide("V")
    casc, exh = grade_modes(slide, cascade=True, exhaustive=True, models=load_model_folder(tmp_path))
    assert casc is not None and exh is not None
    for res, key in ((casc, "stage2"), (exh, "exhaustive")):
        assert res.config[key]["mpp"] == 1.0
        assert res.cost.pixels_at(1.0) > 0 and res.cost.pixels_at(0.5) == 0
        assert not any(".mpp" in w for w in res.warnings)
    shipped, _ = grade_modes(slide)
    assert shipped is not None and shipped.config["stage2"]["mpp"] == 0.5 and shipped.cost.pixels_at(0.5) > 0


def test_models_check_says_whether_the_early_stop_was_measured_for_the_models(tmp_path):
    """The shipped folder carries the early stop's measurements; a record measured with another stage 2 is
    not used, and check says so (with the command that fits them)."""
    r = CliRunner().invoke(app, ["models", "check", str(WEIGHTS_DIR)])
    assert r.exit_code == 0 and "early stop: measured for these models on 36 validation slides" in r.output
    for f in WEIGHTS_DIR.iterdir():
        if f.name.startswith(("stage1.", "stage2.")):
            shutil.copy(f, tmp_path / f.name)
    card = json.loads((tmp_path / "stage1.json").read_text())
    card["early_stop"]["stage2_files"] = {"stage2.safetensors": "0" * 64}  # measured with another stage 2
    (tmp_path / "stage1.json").write_text(json.dumps(card))
    r = CliRunner().invoke(app, ["models", "check", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = r.output.replace("\n", "")
    assert "early stop: measured with another stage 2" in out and f"models fit-stop {tmp_path} --slides" in out


def test_stage1_reads_at_its_cards_resolution_and_another_is_said(tmp_path, synth_slide):
    """``stage1.mpp`` 0 (the default) reads the slide at the stage-1 card's ``input_mpp``: a model folder's
    stage 1 trained at another resolution is run at its own, where its domain gate and early-stop record
    were measured. A config that sets another says so in the result's warnings."""
    from zoomgrade.cascade import grade
    from zoomgrade.cascade.config import default_config

    assert default_config().stage1.mpp == 0.0
    for f in WEIGHTS_DIR.iterdir():
        if f.name.startswith(("stage1.", "stage2.")):
            shutil.copy(f, tmp_path / f.name)
    card = json.loads((tmp_path / "stage1.json").read_text())
    card["input_mpp"] = 16.0
    (tmp_path / "stage1.json").write_text(json.dumps(card))
    models = load_model_folder(tmp_path)
    slide = synth_slide("II")
    own = grade(slide, models=models)
    assert own.config["stage1"]["mpp"] == 16.0 and own.maps["thumbnail_mpp"] == 16.0
    assert own.cost.pixels_at(16.0) > 0 and own.cost.pixels_at(8.0) == 0
    assert not any("stage1.mpp" in w for w in own.warnings)
    other = grade(slide, {"stage1": {"mpp": 8.0}}, models=models)
    assert other.maps["thumbnail_mpp"] == 8.0
    assert any("stage1.mpp 8 um/px is not the stage-1 model's 16 um/px" in w for w in other.warnings)
    shipped = grade(slide)
    assert shipped.config["stage1"]["mpp"] == 8.0 and not any("stage1.mpp" in w for w in shipped.warnings)


def test_threads_given_at_load_reach_onnx_runtime():
    # The CLI's --threads and a batch worker's share reach ONNX Runtime here, not through torch's setting.
    from zoomgrade.models import load_models

    for threads, want in ((1, 1), (2, 2)):
        s1, s2 = load_models(None, threads=threads)
        for r in (s1, s2):
            assert r.engine == "onnxruntime"
            assert r._ort.session.get_session_options().intra_op_num_threads == want
