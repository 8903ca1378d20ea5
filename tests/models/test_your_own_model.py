"""A stage-2 model of another architecture, exported by the user with torch.onnx.export and given a card
(docs/your-own-model.md), grades a slide through the cascade and the exhaustive baseline."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.labels import TBSRTC
from zoomgrade.models.folder import WEIGHTS_DIR, load_model_folder
from zoomgrade.models.hashes import update_card_hashes


class TinyVGG(nn.Module):
    """Not a zoomgrade network: plain conv blocks, global pooling, a linear head, softmax inside."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(16, n_classes)

    def forward(self, x):
        return torch.softmax(self.head(self.features(x).flatten(1)), dim=1)


# The user's class order differs from the label set's, and "none" is in the middle.
CLASSES = ["VI", "none", "II", "V", "III", "IV"]


def export_user_model(folder, size=64):
    """What docs/your-own-model.md tells a user to do: export, then write the card beside it."""
    torch.manual_seed(3)
    model = TinyVGG(len(CLASSES)).eval()
    example = torch.zeros(2, 3, size, size)
    with warnings.catch_warnings():  # torch's own exporter trips torch's LeafSpec deprecation (torch 2.13)
        warnings.filterwarnings("ignore", message=r".*LeafSpec", category=FutureWarning)
        torch.onnx.export(
            model,
            (example,),
            str(folder / "stage2.onnx"),
            input_names=["image"],
            output_names=["probs"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
        )
    card = {
        "name": "stage2",
        "version": "1.0",
        "architecture": "onnx",
        "onnx_file": "stage2.onnx",
        "input_mpp": 0.5,
        "input_size": size,
        "channel_order": "BGR",
        "pixel_max": 255.0,
        "layout": "NCHW",
        "normalisation": {"mean": [104.0, 117.0, 123.0], "std": [58.0, 57.0, 59.0]},
        "label_set": TBSRTC.name,
        "labels": CLASSES,
        "output": "probabilities",
        "description": "a user's own patch classifier (test)",
    }
    (folder / "stage2.json").write_text(json.dumps(card, indent=2))
    update_card_hashes(folder / "stage2")  # `python -m zoomgrade.models.hashes DIR`: pin what will run
    return model


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("own-model")
    for f in ("stage1.json", "stage1.safetensors", "stage1.onnx"):  # zoomgrade's stage 1 beside the user's stage 2
        shutil.copy(WEIGHTS_DIR / f, d / f)
    model = export_user_model(d)
    return d, model


def test_runner_feeds_the_card_s_pixels_and_reorders_the_classes(user_folder):
    d, model = user_folder
    _, s2 = load_model_folder(d, need_stage1=False)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    got = s2.predict(imgs)
    # the same pixels prepared by hand as the card says: BGR, 0-255, (x - mean) / std, NCHW
    x = imgs[..., ::-1].astype(np.float32)
    x = (x - np.array([104.0, 117.0, 123.0], np.float32)) / np.array([58.0, 57.0, 59.0], np.float32)
    with torch.inference_mode():
        ref = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    order = [CLASSES.index(c) for c in [*TBSRTC.fine, "none"]]
    np.testing.assert_allclose(got, ref[:, order], atol=1e-5)


def test_models_check_describes_the_user_model(user_folder):
    d, _ = user_folder
    r = CliRunner().invoke(app, ["models", "check", str(d)])
    assert r.exit_code == 0, r.output
    assert "stage 2: onnx 1.0" in r.output and "BGR" in r.output and "output probabilities" in r.output


def test_user_model_grades_through_the_cascade_and_the_baseline(user_folder, synth_slide, tmp_path):
    d, _ = user_folder
    slide = synth_slide("VI", size_mm=(2, 2))
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["grade", str(slide), "--models", str(d), "--out", str(out), "--mode", "both", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    res = json.loads((out / slide.stem / "result.json").read_text())
    assert res["versions"]["stage2"] == "stage2 1.0"
    assert res["cost"]["stages"]["stage2_infer"]["model_items"] > 0  # the user's model graded the regions
    ex = res["comparison"]["exhaustive"]
    assert ex["category"] in TBSRTC.categories
    assert all(len(g["fine_probs"]) == len(TBSRTC.fine) for g in res["regions"])


@pytest.mark.parametrize(
    ("edit", "cause"),
    [
        ({"labels": ["II", "III", "IV", "V", "none", "none"]}, "duplicated"),
        ({"labels": ["VI", "none", "II", "V", "III", "Bethesda IV"]}, "missing ['IV']"),
        ({"layout": "CHWN"}, "layout must be"),
        ({"input_size": 96}, "does not take 96 px"),
        ({"output": "scores"}, "output must be"),
    ],
)
def test_bad_user_cards_are_refused_with_what_is_wrong(user_folder, tmp_path, edit, cause):
    d, _ = user_folder
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    card = json.loads((bad / "stage2.json").read_text())
    card.update(edit)
    (bad / "stage2.json").write_text(json.dumps(card))
    r = CliRunner().invoke(app, ["models", "check", str(bad)])
    assert r.exit_code == 2 and cause in r.output and "stage2" in r.output, r.output


def test_an_unpinned_or_changed_onnx_file_is_refused(user_folder, tmp_path):
    d, _ = user_folder
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    card = json.loads((bad / "stage2.json").read_text())
    (bad / "stage2.json").write_text(json.dumps({k: v for k, v in card.items() if k != "files"}))
    r = CliRunner().invoke(app, ["models", "check", str(bad)])
    assert r.exit_code == 2 and "pins no SHA-256" in r.output
