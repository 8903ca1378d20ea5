"""zoomgrade train: option ranges are checked before any slide is read."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--min-cover", "1.5"),
        ("--min-cover", "-0.1"),
        ("--edge-margin", "-0.2"),
        ("--od-scale", "-0.1"),
        ("--od-scale", "0.95"),
        ("--od-channel-sigma", "-0.01"),
        ("--backbone", "dense"),
    ],
)
def test_crop_options_out_of_range_are_refused(tmp_path, option, value):
    r = CliRunner().invoke(app, ["train", "stage2", "--slides", str(tmp_path), option, value])
    assert r.exit_code == 2
    assert option in r.output


def test_crop_options_in_range_reach_the_slides_check(tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train",
            "stage2",
            "--slides",
            str(tmp_path),
            "--min-cover",
            "0.1",
            "--edge-margin",
            "0.3",
            "--od-scale",
            "0.2",
            "--od-channel-sigma",
            "0.08",
            "--backbone",
            "residual",
        ],
    )
    assert r.exit_code != 0 and "no slides" in r.output


def test_backbone_with_an_init_folder_is_refused_in_one_line(tmp_path):
    r = CliRunner().invoke(
        app, ["train", "stage2", "--slides", str(tmp_path), "--init", "shipped", "--backbone", "residual"]
    )
    assert r.exit_code == 2 and r.output.count("error:") == 1
    assert "--backbone residual" in r.output and "--init shipped" in r.output


def test_backbone_choices_are_the_model_backbones():
    from zoomgrade.cli.train import Backbone
    from zoomgrade.models.stage2 import BACKBONES

    assert [b.value for b in Backbone] == list(BACKBONES)


@pytest.mark.parametrize("value", ["3", "8"])
def test_a_map_stride_other_than_2_or_4_is_refused_in_one_line(tmp_path, value):
    r = CliRunner().invoke(app, ["train", "stage1", "--slides", str(tmp_path), "--map-stride", value])
    assert r.exit_code == 2 and "--map-stride" in r.output


def test_map_stride_with_an_init_folder_is_refused_in_one_line(tmp_path):
    r = CliRunner().invoke(
        app, ["train", "stage1", "--slides", str(tmp_path), "--init", "shipped", "--map-stride", "4"]
    )
    assert r.exit_code == 2 and r.output.count("error:") == 1
    assert "--map-stride 4" in r.output and "--init shipped" in r.output
