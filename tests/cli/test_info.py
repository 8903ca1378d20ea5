"""zoomgrade info: tables, --json, --mpp/--backend, one line per bad slide, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app


def run(*args: str):
    return CliRunner().invoke(app, ["info", *args])


def test_table(real):
    r = run(str(real / "CMU-1-small-region.svs"))
    assert r.exit_code == 0, r.output
    for text in ("tifffile", "aperio", "2220 x 2967", "0.499", "from file", "20x", "label, macro, thumbnail"):
        assert text in r.stdout


def test_json_several(real):
    r = run(str(real / "fluorescence-DAPI.ndpi"), str(real / "boxes-generic.tiff"), "--json")
    assert r.exit_code == 0, r.output
    ndpi, boxes = json.loads(r.stdout)
    assert (ndpi["backend"], ndpi["vendor"], len(ndpi["levels"]), ndpi["objective_power"]) == (
        "openslide",
        "hamamatsu",
        7,
        40,
    )
    assert ndpi["levels"][-1] == {"width": 62, "height": 76, "downsample": 64.0, "mpp": pytest.approx(ndpi["mpp"] * 64)}
    assert (boxes["width"], boxes["height"], boxes["mpp_source"]) == (300, 250, "file")


def test_mpp_and_backend_options(real):
    r = run(str(real / "kidney-flat.tif"), "--mpp", "0.5", "--json")
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.stdout)
    assert (d["mpp"], d["mpp_source"], d["vendor"]) == (0.5, "caller", "flat-tiff")
    r = run(str(real / "CMU-1-small-region.svs"), "--backend", "openslide", "--json")
    assert json.loads(r.stdout)[0]["backend"] == "openslide"


def test_bad_slide_among_good_ones(real, tmp_path):
    bad = tmp_path / "fake.svs"
    bad.write_text("not a slide")
    r = run(str(real / "tiny-16px.svs"), str(bad), str(tmp_path / "missing.ndpi"), str(real / "boxes-generic.tiff"))
    assert r.exit_code == 2
    assert "tiny-16px.svs" in r.stdout and "boxes-generic.tiff" in r.stdout  # the good ones still print
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and "Traceback" not in r.output
    assert lines[0].startswith(f"error: {bad}: not a slide")
    assert lines[1] == f"error: {tmp_path / 'missing.ndpi'}: no such file"


@pytest.mark.parametrize("kind", ["zero", "directory", "needs-mpp", "bad-backend"])
def test_bad_inputs_exit_2(real, tmp_path, kind):
    args = {
        "zero": [str(tmp_path / "z.svs")],
        "directory": [str(tmp_path)],
        "needs-mpp": [str(real / "kidney-flat.tif")],
        "bad-backend": [str(real / "tiny-16px.svs"), "--backend", "nope"],
    }[kind]
    (tmp_path / "z.svs").write_bytes(b"")
    r = run(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert line.startswith(f"error: {args[0]}: ")


def test_json_carries_errors(real, tmp_path):
    r = run(str(real / "tiny-16px.svs"), str(tmp_path / "gone.svs"), "--json")
    assert r.exit_code == 2
    good, bad = json.loads(r.stdout)
    assert good["width"] == 16 and bad == {
        "path": str(tmp_path / "gone.svs"),
        "error": f"{tmp_path / 'gone.svs'}: no such file",
    }


@pytest.mark.slow
def test_real_command_one_line_and_debug(tmp_path):
    exe = Path(sys.executable).parent / "zoomgrade"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    missing = tmp_path / "missing.svs"
    r = subprocess.run([str(exe), "info", str(missing)], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == f"error: {missing}: no such file"
    r = subprocess.run([str(exe), "--debug", "info", str(missing)], capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "Traceback" in r.stderr and "SlideError" in r.stderr


def test_long_path_is_printed_whole(real, tmp_path):
    # A slide deep in a study folder: its path must come out unbroken whatever the terminal width.
    deep = tmp_path.joinpath(*["a-rather-long-study-folder-name"] * 4)
    deep.mkdir(parents=True)
    slide = deep / "boxes-generic.tiff"
    slide.write_bytes((real / "boxes-generic.tiff").read_bytes())
    r = run(str(slide))
    assert r.exit_code == 0, r.output
    assert str(slide) in r.stdout
