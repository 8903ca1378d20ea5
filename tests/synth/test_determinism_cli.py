"""Same arguments give the same bytes; the CLI writes slides and sets; the set split never overlaps."""

from __future__ import annotations

import json

import openslide
import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.synth import truth_paths, write_slide
from zoomgrade.synth.dataset import plan_set


@pytest.mark.slow
def test_same_seed_same_bytes(tmp_path):
    a = write_slide(tmp_path / "a" / "s.svs", "V", "diffquik", (1.5, 1.0), 1_000_123, workers=1)
    b = write_slide(tmp_path / "b" / "s.svs", "V", "diffquik", (1.5, 1.0), 1_000_123, workers=2)
    assert a == b
    for name in ("s.svs", "s.geojson", "s.truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = write_slide(tmp_path / "c" / "s.svs", "V", "diffquik", (1.5, 1.0), 1_000_124, workers=1)
    assert (tmp_path / "c" / "s.svs").read_bytes() != (tmp_path / "a" / "s.svs").read_bytes()
    assert c["seed"] == 1_000_124


@pytest.mark.slow
def test_cli_synth(tmp_path):
    out = tmp_path / "cli.svs"
    res = CliRunner().invoke(
        app,
        [
            "synth",
            str(out),
            "--category",
            "IV",
            "--stain",
            "pap",
            "--size-mm",
            "1.5",
            "1",
            "--seed",
            "1000321",
            "--level-step",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    with openslide.OpenSlide(str(out)) as s:
        assert s.properties["openslide.vendor"] == "aperio"
        assert s.dimensions == (6000, 4000)
        assert s.level_count == 3  # 6000, 3000, 1500
    truth = json.loads(truth_paths(out)[1].read_text())
    assert truth["category"] == "IV" and truth["counts"]["IV"] > truth["counts"]["II"]


def test_cli_rejects_bad_category(tmp_path):
    res = CliRunner().invoke(app, ["synth", str(tmp_path / "x.svs"), "--category", "VII"])
    assert res.exit_code == 2
    assert "VII" in res.output and not (tmp_path / "x.svs").exists()


@pytest.mark.slow
def test_set_is_balanced_and_split_never_overlaps(tmp_path):
    plan = plan_set(60, 5000)
    cats = [p["category"] for p in plan]
    assert all(cats.count(c) == 10 for c in ("I", "II", "III", "IV", "V", "VI"))
    seeds = {s: {p["seed"] for p in plan if p["split"] == s} for s in ("train", "val", "test")}
    assert (
        not (seeds["train"] & seeds["val"])
        and not (seeds["train"] & seeds["test"])
        and not (seeds["val"] & seeds["test"])
    )
    assert all(len(v) > 0 for v in seeds.values())
    for split in ("val", "test"):
        assert {p["category"] for p in plan if p["split"] == split} == set(cats)  # every category in every split
    res = CliRunner().invoke(
        app, ["synth-set", str(tmp_path / "set"), "--n", "2", "--seed", "1000500", "--size-mm", "1", "1"]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert len(manifest["slides"]) == 2
    for e in manifest["slides"]:
        assert (tmp_path / "set" / e["slide"]).exists() and (tmp_path / "set" / e["truth"]).exists()
