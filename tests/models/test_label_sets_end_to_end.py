"""Acceptance: a label set of another shape, annotations renamed through a mapping -> train both stages ->
grade with the model folder -> every output carries that label set's names, colours and slide rule."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from labelset_fixtures import MAPPING, write_other
from PIL import Image
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.labels import read_label_file
from zoomgrade.models.stage1 import Stage1Config
from zoomgrade.models.stage2 import Stage2Config
from zoomgrade.models.train_stage1 import Stage1TrainConfig, train_stage1
from zoomgrade.models.train_stage2 import Stage2TrainConfig, train_stage2

TINY1 = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)
TINY2 = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


@pytest.fixture(scope="module")
def other_folder(tiny_slides, tmp_path_factory):
    d = tmp_path_factory.mktemp("other-models")
    labels = read_label_file(write_other(d))
    c1 = Stage1TrainConfig(
        epochs=2, steps_per_epoch=4, batch_size=4, crop=64, lr=1e-2, threads=1, export_onnx=False, net=TINY1
    )
    c2 = Stage2TrainConfig(
        epochs=2,
        size=64,
        mpp=0.5,
        batch_size=16,
        per_group=2,
        none_per_slide=6,
        lr=1e-2,
        threads=1,
        export_onnx=False,
        net=TINY2,
    )
    train_stage1(tiny_slides, d / "models", config=c1, labels=labels, names=MAPPING, progress=False)
    train_stage2(tiny_slides, d / "models", config=c2, labels=labels, names=MAPPING, progress=False)
    return d / "models", labels


def test_training_sizes_the_heads_and_cards_carry_the_label_set(other_folder):
    folder, labels = other_folder
    c1 = json.loads((folder / "stage1.json").read_text())
    c2 = json.loads((folder / "stage2.json").read_text())
    assert c1["hyperparameters"]["n_coarse"] == 2 and c1["labels"] == ["low", "high"]
    assert c2["hyperparameters"]["n_classes"] == 5 and c2["labels"] == [*labels.fine, "none"]
    assert c1["label_definition"]["name"] == c2["label_definition"]["name"] == "other-4x2"
    counts = c2["training"]["data"]["train_crops_per_class"]
    assert counts["atypical"] > 0 and counts["cancer"] > 0  # III and IV both mapped to atypical


def test_grade_with_the_folder_writes_every_output_in_its_label_set(other_folder, tiny_slides, tmp_path):
    folder, labels = other_folder
    slides = sorted(tiny_slides.glob("*.tif"))[:2]
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["grade", *map(str, slides), "--models", str(folder), "--out", str(out), "--mode", "both", "--quiet"]
    )
    assert r.exit_code in (0, 1), r.output
    res = json.loads((out / slides[0].stem / "result.json").read_text())
    assert res["label_set"] == "other-4x2"
    assert res["category"] in labels.categories
    assert res["category_name"] == labels.category_names[res["category"]]
    assert res["risk_of_malignancy"] == pytest.approx(labels.risk_of_malignancy[res["category"]])
    assert list(res["counts"]) == list(labels.fine)
    assert all(g["fine_grade"] in labels.fine for g in res["regions"])
    assert res["label_definition"]["categories"]["cancer"]["colour"] == "#7a00ff"
    # the slide rule: the label set's own thresholds and severity_from were used and recorded
    assert res["config"]["slide_rule"]["min_count"] == {"atypical": 2, "suspect": 2, "cancer": 2}
    assert res["config"]["fallback"]["severity_from"] == "suspect"
    assert res["comparison"]["exhaustive"]["category"] in labels.categories
    gj = json.loads((out / slides[0].stem / "regions.geojson").read_text())
    for f in gj["features"]:
        cls = f["properties"]["classification"]
        assert cls["name"] in labels.fine and tuple(cls["color"]) == labels.color_rgb(cls["name"])
    html = (out / slides[0].stem / "report.html").read_text()
    for g in labels.fine:
        assert labels.category_names[g] in html
    assert labels.category_names[res["category"]] in html and "other-4x2" in html
    # the overlay's legend shows every fine grade in its colour, and its banner the category's colour
    px = np.asarray(Image.open(out / slides[0].stem / "overlay.png").convert("RGB")).reshape(-1, 3)
    present = {tuple(p) for p in np.unique(px, axis=0)}
    for g in (*labels.fine, res["category"]):
        assert labels.color_rgb(g) in present, g
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {f"n_{g}" for g in labels.fine} <= set(rows[0])
    assert not any(k in rows[0] for k in ("n_II", "n_VI"))
    assert {row["category"] for row in rows} <= set(labels.categories)


def test_models_check_prints_the_label_set_and_both_stages(other_folder):
    folder, _ = other_folder
    r = CliRunner().invoke(app, ["models", "check", str(folder)])
    assert r.exit_code == 0, r.output
    assert "other-4x2" in r.output and "stage 1: Stage1Net" in r.output and "5 probabilities: OK" in r.output


def test_train_lists_every_unknown_name_in_one_error_and_maps_names(tiny_slides, tmp_path):
    other = write_other(tmp_path)
    r = CliRunner().invoke(
        app, ["train", "stage2", "--slides", str(tiny_slides), "--labels", str(other), "--out", str(tmp_path / "m")]
    )
    assert r.exit_code == 2
    assert r.output.count("error:") == 1
    for name in ("'II'", "'III'", "'IV'", "'V'", "'VI'"):
        assert name in r.output
    # a partial mapping leaves the rest listed; a bad target is refused by name
    r2 = CliRunner().invoke(
        app,
        [
            "train",
            "stage2",
            "--slides",
            str(tiny_slides),
            "--labels",
            str(other),
            "--map",
            "II=bland",
            "--map",
            "VI=cancer",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert r2.exit_code == 2 and "'III'" in r2.output and "'II'" not in r2.output
    r3 = CliRunner().invoke(
        app,
        [
            "train",
            "stage2",
            "--slides",
            str(tiny_slides),
            "--labels",
            str(other),
            "--map",
            "II=benign",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert r3.exit_code == 2 and "II=benign" in r3.output
    assert not (tmp_path / "m").exists()  # refused before any training


def test_fit_stop_on_a_folder_of_another_label_set(other_folder, tiny_slides, tmp_path):
    """fit-stop grades each slide in the folder's own label set and counts in its coarse grades; these tiny
    models call no region less than most severe, so there is nothing to fit: it says so (exit 2) and
    leaves the card as it was."""
    import shutil

    folder, _ = other_folder
    mine = tmp_path / "models"
    shutil.copytree(folder, mine)
    card = (mine / "stage1.json").read_bytes()
    out = tmp_path / "c.json"
    r = CliRunner().invoke(
        app, ["models", "fit-stop", str(mine), "--slides", str(tiny_slides), "--min-slides", "1", "--out", str(out)]
    )
    assert r.stdout.count("tiny_") == 4 and "left out" not in r.output  # each slide graded in its label set
    assert r.exit_code == 2 and "too few to fit anything" in r.stderr, r.output
    assert (mine / "stage1.json").read_bytes() == card
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 4 and all(set(row["counts"]) <= {"low"} for row in rows)  # never the most severe
