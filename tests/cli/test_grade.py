"""zoomgrade grade / demo: exit codes, outputs per slide, summary.csv, --json; the real cascade and weights."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import zoomgrade
from zoomgrade.cli.main import app
from zoomgrade.outputs import OUTPUT_FILES, TIMINGS_FILE, validate_result_dict
from zoomgrade.outputs.naming import slide_stem

WEIGHTS = Path(zoomgrade.__file__).parent / "weights"
needs_weights = pytest.mark.skipif(
    not all((WEIGHTS / f"stage{i}.safetensors").exists() for i in (1, 2)),
    reason="shipped weights not present in src/zoomgrade/weights (train them with `zoomgrade train`)",
)

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def slides(synth_slide, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-slides")
    good = synth_slide("VI", size_mm=(1.5, 1.5))  # small: the suite stays fast
    bad = d / "bad.svs"
    bad.write_bytes(b"this is not a slide\n" * 50)
    return {"good": good, "bad": bad, "missing": d / "missing.svs"}


@pytest.fixture(scope="module")
def mixed_run(slides: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out-mixed")
    res = invoke("grade", slides["good"], slides["bad"], slides["missing"], "--out", out, "--threads", 2)
    return res, out, out / slide_stem(slides["good"])


@pytest.mark.slow
@needs_weights
def test_a_bad_slide_among_good_ones_exits_1_and_the_good_one_is_written(mixed_run) -> None:
    res, out, good = mixed_run
    assert res.exit_code == 1, res.output
    assert sorted(p.name for p in good.iterdir()) == sorted((*OUTPUT_FILES, TIMINGS_FILE))
    doc = json.loads((good / "result.json").read_text())
    assert validate_result_dict(doc) == []
    assert "bad.svs" in res.stderr and "missing.svs" in res.stderr
    assert f"{good.name}.svs" in res.stdout and "report.html" in res.stdout  # the one-line summary
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["graded", "failed", "failed"]
    assert rows[0]["category"] == doc["category"]
    assert "bad.svs" in rows[1]["error"] and rows[2]["error"]


@needs_weights
def test_only_bad_input_exits_2(slides: dict[str, Path], tmp_path: Path) -> None:
    res = invoke("grade", slides["bad"], slides["missing"], "--out", tmp_path, "--quiet")
    assert res.exit_code == 2, res.output
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # nothing graded, no half folders


@pytest.mark.slow
@needs_weights
def test_json_summary_on_stdout(slides: dict[str, Path], tmp_path: Path) -> None:
    res = invoke("grade", slides["good"], "--out", tmp_path, "--json", "--no-fallback", "--budget-mpx", "50")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # nothing else on stdout
    assert doc["exit_code"] == 0 and doc["summary_csv"] is None
    (row,) = doc["slides"]
    result = json.loads((tmp_path / slide_stem(slides["good"]) / "result.json").read_text())
    assert row["category"] == result["category"] and Path(row["report"]).is_file()
    assert result["config"]["fallback"]["enabled"] is False
    assert result["config"]["budget"]["high_power_megapixels"] == 50


@pytest.mark.parametrize(
    "args",
    [
        ["--mode", "fast"],
        ["--mpp", "-1"],
        ["--config", "/nonexistent/zoomgrade.toml"],
        ["--budget-mpx", "-5"],
    ],
)
def test_bad_usage_exits_2(args: list[str], tmp_path: Path) -> None:
    res = invoke("grade", tmp_path / "any.svs", "--out", tmp_path, *args)
    assert res.exit_code == 2, res.output


def test_cuda_without_a_gpu_is_one_clear_line(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = invoke("grade", tmp_path / "any.svs", "--out", tmp_path, "--device", "cuda")
    assert res.exit_code == 2 and "--device cuda" in res.stderr


def test_out_is_required(tmp_path: Path) -> None:
    assert invoke("grade", tmp_path / "any.svs").exit_code == 2


@pytest.mark.slow
@needs_weights
def test_demo_generates_grades_and_says_where_the_report_is(tmp_path: Path) -> None:
    res = invoke("demo", "--out", tmp_path, "--category", "II", "--size-mm", "1", "--quiet")
    assert res.exit_code == 0, res.output
    report = Path(res.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert report.is_file() and report.parent.parent == tmp_path
    assert (tmp_path / "slides").is_dir()


def test_demo_refuses_an_unknown_category(tmp_path: Path) -> None:
    res = invoke("demo", "--out", tmp_path, "--category", "VII")
    assert res.exit_code == 2 and "VII" in res.stderr


@needs_weights
def test_read_all_reads_every_region_and_timings_split_the_command(slides: dict[str, Path], tmp_path: Path) -> None:
    res = invoke("grade", slides["good"], "--out", tmp_path, "--quiet", "--read-all")
    assert res.exit_code == 0, res.output
    folder = tmp_path / slide_stem(slides["good"])
    reading = json.loads((folder / "result.json").read_text())["reading"]
    assert reading["early_stop"] is False and reading["unread"] == 0 and reading["read"] == reading["regions"]
    t = json.loads((folder / TIMINGS_FILE).read_text())
    assert set(t["command_seconds"]) >= {"open", "grade", "write"}
    assert 0 < t["command_seconds"]["write"] <= sum(t["write_seconds"].values()) + 0.25


def test_grading_on_onnxruntime_does_not_import_torch(tmp_path, synth_slide):
    # The CLI's one-slide grade with the shipped models: torch (1.3 s to import), scipy.stats and Dask are
    # not needed on CPU, where ONNX Runtime runs both stages (the shipped torch is a CPU build).
    slide = synth_slide("II", size_mm=(2, 2))
    code = (
        "import sys; from zoomgrade.cli.main import app\n"
        f"sys.argv = ['zoomgrade', 'grade', {str(slide)!r}, '--out', {str(tmp_path / 'out')!r}, '-q']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print(sorted(m for m in ('torch', 'scipy.stats', 'distributed') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / slide.stem / "result.json").exists()
