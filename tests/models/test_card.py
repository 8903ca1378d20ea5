import json

import pytest
import torch

from zoomgrade.errors import ModelCardError
from zoomgrade.labels import TBSRTC
from zoomgrade.models.card import ModelCard
from zoomgrade.models.hashes import update_card_hashes
from zoomgrade.models.stage2 import Stage2Config, Stage2Net
from zoomgrade.models.weights_file import load_model, save_model

CFG = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


def _card(**kw):
    d = {
        "name": "stage2",
        "version": "0.1.0",
        "architecture": "Stage2Net",
        "hyperparameters": CFG.to_dict(),
        "input_mpp": 0.5,
        "input_size": 64,
        "label_set": TBSRTC.name,
        "labels": [*TBSRTC.fine, "none"],
        "mpp_range": (0.25, 1.0),
    }
    d.update(kw)
    return ModelCard(**d)


def test_roundtrip_same_outputs(tmp_path):
    torch.manual_seed(1)
    net = Stage2Net(CFG).eval()
    path = save_model(net, _card(), tmp_path / "m")
    assert path.suffix == ".safetensors" and (tmp_path / "m.json").exists()
    assert (path.stat().st_mode & 0o044) == 0o044  # readable by others
    net2, card = load_model(path, expect={"name": "stage2", "labels": [*TBSRTC.fine, "none"]})
    assert card.mpp == 0.5 and card.input_size == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(net(x), net2(x), atol=1e-6)
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle
    assert sorted(f.name for f in tmp_path.iterdir()) == ["m.json", "m.safetensors"]  # no temp files left


def test_a_save_that_fails_leaves_whole_files_that_check_says_do_not_match(tmp_path):
    """Weights, then card, each swapped in whole: a save that fails between them leaves the old card,
    still valid JSON, whose hash then refuses the new weights (never a half-written file)."""
    path = save_model(Stage2Net(CFG), _card(), tmp_path / "m")
    before = (tmp_path / "m.json").read_text()
    with pytest.raises(TypeError):
        save_model(Stage2Net(CFG), _card(metrics={"odd": object()}), tmp_path / "m")  # the card cannot be written
    assert (tmp_path / "m.json").read_text() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    with pytest.raises(ModelCardError, match="SHA-256"):
        load_model(path)


def test_refuses_mismatches(tmp_path):
    path = save_model(Stage2Net(CFG), _card(), tmp_path / "m.safetensors")
    with pytest.raises(ModelCardError, match="labels"):
        load_model(path, expect={"labels": ["a", "b"]})
    with pytest.raises(ModelCardError, match="name"):
        load_model(path, expect={"name": "stage1"})
    with pytest.raises(ModelCardError, match="um/px"):
        load_model(path, expect={"run_mpp": 2.0})
    load_model(path, expect={"run_mpp": 0.25})


def test_refuses_weights_that_do_not_fit_the_card(tmp_path):
    path = save_model(Stage2Net(CFG), _card(), tmp_path / "m")
    card = json.loads((tmp_path / "m.json").read_text())
    card["hyperparameters"]["fpn_dim"] = 32
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="do not match"):
        load_model(path)


def test_refuses_missing_or_broken_files(tmp_path):
    with pytest.raises(ModelCardError, match="not found"):
        load_model(tmp_path / "nothing.safetensors")
    path = save_model(Stage2Net(CFG), _card(), tmp_path / "m")
    path.write_bytes(b"garbage")
    with pytest.raises(ModelCardError, match="SHA-256"):  # changed bytes: refused before being parsed
        load_model(path)
    update_card_hashes(path)  # pinned on purpose: then the parser says what is wrong
    with pytest.raises(ModelCardError, match="unreadable"):
        load_model(path)
    (tmp_path / "m.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ModelCardError, match="not a zoomgrade model card"):
        load_model(path)
    card = _card(architecture="Resnet")
    (tmp_path / "m.json").write_text(json.dumps(card.to_dict()))
    with pytest.raises(ModelCardError, match="unknown architecture"):
        load_model(path)


def test_training_declares_one_octave_either_side_of_its_resolution():
    """A card's ``mpp_range`` follows ``--mpp``: a stage 2 trained at 0.25 um/px does not declare slides
    scanned at 1 um/px fit for it (the QC gate withholds a slide coarser than the range's upper end)."""
    from zoomgrade.labels import TBSRTC
    from zoomgrade.models import train_stage1, train_stage2
    from zoomgrade.models.card import declared_mpp_range

    assert declared_mpp_range(0.5) == (0.25, 1.0) and declared_mpp_range(8.0) == (4.0, 16.0)  # the shipped cards
    assert train_stage2.make_card(train_stage2.Stage2TrainConfig(mpp=0.25), TBSRTC).mpp_range == (0.125, 0.5)
    assert train_stage1.make_card(train_stage1.Stage1TrainConfig(mpp=4.0), TBSRTC).mpp_range == (2.0, 8.0)
