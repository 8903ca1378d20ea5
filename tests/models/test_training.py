"""Training loops on tiny slides: loss falls, best checkpoint + card written and loadable, CLI works."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.labels import TBSRTC
from zoomgrade.models.stage1 import Stage1Config
from zoomgrade.models.stage2 import Stage2Config
from zoomgrade.models.train_stage1 import Stage1TrainConfig, train_stage1
from zoomgrade.models.train_stage2 import Stage2TrainConfig, train_stage2
from zoomgrade.models.weights_file import load_model

TINY1 = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)
TINY2 = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


@pytest.mark.slow
def test_stage1_loss_falls_and_checkpoint_loads(tiny_slides, tmp_path):
    cfg = Stage1TrainConfig(
        epochs=4, steps_per_epoch=8, batch_size=4, crop=64, lr=1e-2, threads=1, export_onnx=False, net=TINY1
    )
    res = train_stage1(tiny_slides, tmp_path, config=cfg, progress=False, command="pytest")
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert 1 <= res.best_epoch <= 4
    model, card = load_model(res.weights, expect={"name": "stage1", "labels": list(TBSRTC.coarse)})
    assert card.input_mpp == 8.0 and card.training["command"] == "pytest"
    assert card.training["finished"] and card.metrics["validation"]["epoch"] == res.best_epoch
    assert set(card.training["data"]["seeds"]) == set(range(1_000_000, 1_000_004))
    with torch.inference_mode():
        g, _c, _a = model(torch.zeros(1, 3, 64, 64))
    assert g.shape == (1, 1, 32, 32)


@pytest.mark.slow
def test_stage2_loss_falls_and_checkpoint_loads(tiny_slides, tmp_path):
    cfg = Stage2TrainConfig(
        epochs=4,
        size=64,
        mpp=1.0,
        batch_size=16,
        per_group=4,
        none_per_slide=8,
        lr=1e-2,
        threads=1,
        export_onnx=False,
        net=TINY2,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(1234)
        expected = torch.rand(3)
        torch.manual_seed(1234)
        res = train_stage2(tiny_slides, tmp_path, config=cfg, progress=False, command="pytest")
        # training seeded torch and ran on 1 thread for itself: the caller's state is as it left it
        assert torch.get_num_threads() == 2 and torch.equal(torch.rand(3), expected)
    finally:
        torch.set_num_threads(threads)
    losses = [h["loss"] for h in res.history]
    assert losses[-1] < losses[0]
    _model, card = load_model(res.weights, expect={"labels": [*TBSRTC.fine, "none"]})
    assert card.input_size == 64 and card.input_mpp == 1.0
    counts = card.training["data"]["train_crops_per_class"]
    assert counts["none"] > 0 and sum(counts.values()) > counts["none"]


@pytest.mark.slow
def test_cli_train_writes_weights_and_card(tiny_slides, tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train",
            "stage1",
            "--slides",
            str(tiny_slides),
            "--out",
            str(tmp_path),
            "--epochs",
            "1",
            "--steps",
            "1",
            "--batch-size",
            "2",
            "--threads",
            "1",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    card = json.loads((tmp_path / "stage1.json").read_text())
    assert card["name"] == "stage1" and card["training"]["epochs_run"] == 1
    assert card["hyperparameters"]["out_stride"] == 2  # fine-tuned from the shipped stage 1, whose maps are at 2
    coarser = tmp_path / "coarser"
    r = CliRunner().invoke(
        app,
        ["train", "stage1", "--slides", str(tiny_slides), "--out", str(coarser), "--map-stride", "4"]
        + ["--epochs", "1", "--steps", "1", "--batch-size", "2", "--threads", "1", "--quiet", "--no-onnx"],
    )
    assert r.exit_code == 0, r.output
    card = json.loads((coarser / "stage1.json").read_text())
    assert card["hyperparameters"]["out_stride"] == 4 and card["training"]["init"]["from"] is None
    bad = CliRunner().invoke(app, ["train", "stage2", "--slides", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "not a directory" in bad.output


def test_grade_class_weights_favour_rare_classes():
    from types import SimpleNamespace

    from zoomgrade.models.train_stage1 import grade_class_weights

    grade = np.array([[0, 0, 0, 0, 0, 0, 1, 1, 2, -1]])  # benign 6, suspicious 2, malignant 1 (one unlabelled)
    slide = SimpleNamespace(grade=grade, grade_weight=np.ones(grade.shape, np.float32))
    full = grade_class_weights([slide], 3, 1.0)
    half = grade_class_weights([slide], 3, 0.5)
    assert full[0] < full[1] < full[2]
    assert np.allclose(full * np.array([6, 2, 1]) / 9, 1 / 3)  # each class weighs the same in total
    assert np.allclose(half, np.sqrt(full))
    assert np.allclose(grade_class_weights([slide], 3, 0.0), 1.0)
    # a class absent from the data keeps weight 1 rather than dividing by zero
    assert (
        grade_class_weights([SimpleNamespace(grade=np.zeros((1, 4), int), grade_weight=np.ones((1, 4)))], 3)[2] == 1.0
    )


@pytest.mark.slow
def test_stage2_weight_averaging_keeps_the_average_of_the_last_epochs(tiny_slides, tmp_path):
    cfg = Stage2TrainConfig(
        epochs=3,
        size=64,
        mpp=1.0,
        batch_size=16,
        per_group=2,
        none_per_slide=4,
        lr=1e-2,
        threads=1,
        export_onnx=False,
        swa_epochs=2,
        net=TINY2,
    )
    res = train_stage2(tiny_slides, tmp_path, config=cfg, progress=False, command="pytest")
    assert len(res.history) == 4 and res.history[-1]["swa_of_last_epochs"] == 2
    assert res.best_epoch == 3 and res.best_score == res.history[-1]["macro_f1"]
    model, card = load_model(res.weights)
    assert card.metrics["validation"]["swa_of_last_epochs"] == 2
    # the saved weights are the average (with their own batch-norm statistics), not the last epoch's
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.num_batches_tracked.item() > 0 and torch.isfinite(bn.running_var).all()


def test_train_into_a_folder_with_both_stages_says_how_to_fit_its_early_stop(tiny_slides, tmp_path):
    """A new stage leaves the folder without early-stop values measured for the pair: train says so, with
    the command that fits them."""
    import shutil

    from zoomgrade.models.folder import WEIGHTS_DIR

    out = tmp_path / "m"
    out.mkdir()
    for f in ("stage1.json", "stage1.safetensors", "stage1.onnx"):
        shutil.copy(WEIGHTS_DIR / f, out / f)
    args = ["train", "stage2", "--slides", str(tiny_slides), "--out", str(out), "--epochs", "1", "--size", "64"]
    args += ["--per-group", "1", "--batch-size", "8", "--init", "none", "--no-onnx", "--threads", "1", "--quiet"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"zoomgrade models fit-stop {out} --slides SLIDES" in r.stdout.replace("\n", "")
