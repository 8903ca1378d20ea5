"""zoomgrade models fit-stop: a model folder's early stop fitted on a folder of slides, written into its
stage-1 card; slides it cannot grade named and left out; bad folders one line, the card untouched."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.models.folder import WEIGHTS_DIR


@pytest.fixture
def folder(tmp_path):
    """A copy of the shipped model folder (its card is what the command rewrites)."""
    d = tmp_path / "models"
    shutil.copytree(WEIGHTS_DIR, d)
    return d


def test_fit_stop_writes_the_record_that_check_then_reports(tmp_path, folder, synth_slide, real):
    slides = tmp_path / "slides"
    slides.mkdir()
    for cat in ("II", "VI"):
        shutil.copy(synth_slide(cat), slides)
    vi = synth_slide("VI")  # its truth file beside it: the record names the seed that makes it again
    shutil.copy(vi.with_suffix(".truth.json"), slides)
    seed = json.loads(vi.with_suffix(".truth.json").read_text())["seed"]
    (slides / "broken.svs").write_bytes(b"not a slide")
    (slides / "skin.svs").symlink_to(real / "CMU-1-small-region.svs")  # H&E skin: outside the models' domain
    weights = (folder / "stage1.safetensors").read_bytes()
    card = (folder / "stage1.json").read_bytes()
    out = ["--out", str(tmp_path / "c.json")]
    r = CliRunner().invoke(app, ["models", "fit-stop", str(folder), "--slides", str(slides), *out])
    # Two slides cannot say how slides differ: nothing is fitted, the card stays, the counts are kept.
    assert r.exit_code == 2 and "2 slides graded, too few to fit anything (--min-slides 20)" in r.stderr, r.output
    assert "benign: regions on 2 slides, fewer than the 20" in r.output
    assert (folder / "stage1.json").read_bytes() == card
    assert len(json.loads((tmp_path / "c.json").read_text())["rows"]) == 2
    r = CliRunner().invoke(app, ["models", "fit-stop", str(folder), "--slides", str(slides), *out, "--min-slides", "2"])
    assert r.exit_code == 0, r.output
    assert "broken.svs: left out" in r.output and "skin.svs: left out (withheld" in r.output
    rec = json.loads((folder / "stage1.json").read_text())["early_stop"]
    assert rec["measured_on"].startswith("2 validation slides") and rec["measured_on"].endswith(
        "zoomgrade models fit-stop"
    )
    assert f"seed {seed} at " in rec["measured_on"] and "1 slides of a folder" in rec["measured_on"]
    assert rec["stage2_files"] == json.loads((folder / "stage2.json").read_text())["files"]
    assert (folder / "stage1.safetensors").read_bytes() == weights
    kept = json.loads((tmp_path / "c.json").read_text())
    assert len(kept["rows"]) == 2 and kept["early_stop"] == rec
    r = CliRunner().invoke(app, ["models", "check", str(folder)])
    assert r.exit_code == 0 and "early stop: measured for these models on 2 validation slides" in r.output


def test_a_dry_run_leaves_the_card_as_it_was(tmp_path, folder, synth_slide):
    slides = tmp_path / "slides"
    slides.mkdir()
    shutil.copy(synth_slide("V"), slides)
    card = (folder / "stage1.json").read_bytes()
    r = CliRunner().invoke(
        app, ["models", "fit-stop", str(folder), "--slides", str(slides), "--dry-run", "--min-slides", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "--dry-run: the card is unchanged" in r.output and "1 validation slides" in r.output
    assert (folder / "stage1.json").read_bytes() == card


def test_bad_folders_are_one_line_and_leave_the_card_alone(tmp_path, folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.svs").write_bytes(b"not a slide")
    card = (folder / "stage1.json").read_bytes()
    for args, says in (
        ([str(tmp_path / "none"), "--slides", str(empty)], str(tmp_path / "none")),
        ([str(folder), "--slides", str(tmp_path / "missing")], "not a folder of slides"),
        ([str(folder), "--slides", str(empty)], "no slide could be graded"),
    ):
        r = CliRunner().invoke(app, ["models", "fit-stop", *args])
        assert r.exit_code == 2 and r.stderr.count("error:") == 1 and says in r.stderr, r.output
    assert (folder / "stage1.json").read_bytes() == card
