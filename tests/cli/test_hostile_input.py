"""Issue 24 through the CLI, on generated slides: damaged pixels (class 4), one line and exit 2 for hostile
options, paths and configs (classes 3, 7), one run per output folder and no stale batch record (2, 9)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import tifffile
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.outputs.lock import output_lock
from zoomgrade.outputs.naming import output_dirs

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.output
    return lines[0]


@pytest.fixture(scope="module")
def slide(synth_slide) -> Path:
    return synth_slide("VI", size_mm=(1.5, 1.5))


def damaged_copy(src: Path, dest: Path, every: int = 1) -> Path:
    """``src`` with the JPEG stream of every ``every``-th level-0 tile broken (its first bytes overwritten)."""
    shutil.copy(src, dest)
    with tifffile.TiffFile(dest) as tif:
        page = max((p for p in tif.pages if p.is_tiled), key=lambda p: p.imagewidth)
        offsets = list(page.dataoffsets)[::every]
    with open(dest, "r+b") as fh:
        for off in offsets:
            fh.seek(off)
            fh.write(b"\x13\x37\x13\x37")
    return dest


@pytest.mark.parametrize(
    "args",
    [
        ("--threads", "-1"),
        ("--threads", "0"),
        ("--threads", "100000"),
    ],
)
def test_thread_counts_out_of_range_exit_2(slide, tmp_path, args):
    res = invoke("grade", slide, "--out", tmp_path / "o", *args)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("opt", "value", "expect"),
    [
        ("--mpp", "1e-9", "--mpp: must be a finite number in [0.05, 100] um/px"),
        ("--mpp", "nan", "--mpp: must be a finite number"),
        ("--mpp", "inf", "--mpp: must be a finite number"),
        ("--mpp", "1e6", "--mpp: must be a finite number"),
        ("--budget-mpx", "nan", "--budget-mpx: must be a finite number >= 0"),
        ("--budget-mpx", "-inf", "--budget-mpx: must be a finite number >= 0"),
        ("--budget-mpx", "-1", "--budget-mpx: must be a finite number >= 0"),
    ],
)
def test_bad_numbers_are_one_line_and_exit_2(slide, tmp_path, opt, value, expect):
    res = invoke("grade", slide, "--out", tmp_path / "o", opt, value)
    assert res.exit_code == 2
    assert expect in one_error_line(res)


@pytest.mark.parametrize("command", ["grade", "batch"])
@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00\x01\x80binary", b"[fusion]\nprior_weight = inf\n", b"[slide_rule]\nmin_count = { vi = 1 }\n"],
)
def test_a_bad_config_is_one_error_before_any_slide(slide, tmp_path, command, content):
    cfg = tmp_path / "c[" / "]fg.toml"  # rich would read "[/]" in the message as markup
    cfg.parent.mkdir()
    cfg.write_bytes(content)
    res = invoke(command, slide, "--out", tmp_path / "o", "--config", cfg)
    assert res.exit_code == 2
    assert str(cfg) in one_error_line(res)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("path", ["zz[/]/a.svs", "[bold]x[/bold].svs", "a[link=x].svs"])
def test_markup_in_paths_is_printed_as_it_is(tmp_path, path):
    res = invoke("info", tmp_path / path)
    assert res.exit_code == 2
    assert str(tmp_path / path) in one_error_line(res)


@pytest.mark.parametrize("command", ["grade", "batch"])
def test_a_busy_output_folder_is_refused(slide, tmp_path, command):
    out = tmp_path / "o"
    with output_lock(out):
        res = invoke(command, slide, "--out", out)
    assert res.exit_code == 2
    assert "another zoomgrade run" in one_error_line(res)


def test_grading_into_markup_folder_clears_a_stale_batch_record(slide, tmp_path):
    out = tmp_path / "ob[/]"
    (slide_dir,) = output_dirs([slide], out)
    slide_dir.mkdir(parents=True)
    (slide_dir / "batch.json").write_text("{}")  # a batch graded it before, with another config
    res = invoke("grade", slide, slide, "--out", out, "--threads", 2)
    assert res.exit_code == 0, res.output
    assert "graded once" in res.stderr and str(out) in res.stdout
    assert not (slide_dir / "batch.json").exists()
    doc = json.loads((slide_dir / "result.json").read_text())
    assert doc["decode_errors"]["failed"] == 0 and doc["decode_errors"]["reads"] > 0
    assert {"stage1.safetensors", "stage2.safetensors"} <= set(doc["model_files"])


def test_damaged_tiles_are_refused_or_counted_and_said_everywhere(slide, tmp_path):
    bad = damaged_copy(slide, tmp_path / "damaged.svs")
    res = invoke("grade", bad, "--out", tmp_path / "o1", "--threads", 2)
    assert res.exit_code == 2, res.output
    line = next(ln for ln in res.stderr.splitlines() if "damaged.svs" in ln)
    assert "reads failed to decode" in line and "not graded" in line
    assert not (tmp_path / "o1" / "damaged" / "result.json").exists()
    # a lab that accepts damaged files still gets the count and a warning in every output
    lax = tmp_path / "lax.toml"
    lax.write_text("[limits]\nmax_failed_read_fraction = 1.0\n")
    out = tmp_path / "o2"
    res = invoke("grade", bad, slide, "--out", out, "--threads", 2, "--config", lax)
    assert res.exit_code == 0, res.output
    d = output_dirs([bad], out)[0]
    doc = json.loads((d / "result.json").read_text())
    assert doc["decode_errors"]["failed"] > 0
    assert any("reads failed to decode" in w for w in doc["warnings"])
    assert "reads failed to decode" in (d / "report.html").read_text()
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["slide"]: r for r in csv.DictReader(fh)}
    assert int(rows["damaged.svs"]["failed_reads"]) == doc["decode_errors"]["failed"]
    assert rows[slide.name]["failed_reads"] == "0"
