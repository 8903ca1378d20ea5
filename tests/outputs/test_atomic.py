"""Atomic writes: a failure mid-write leaves the old file intact and no temp file behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zoomgrade.outputs import (
    OUTPUT_FILES,
    TIMINGS_FILE,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    save_result,
)
from zoomgrade.types import SlideResult


def test_replace_is_complete(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    atomic_write_text(f, "old")
    atomic_write_text(f, "new")
    assert f.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]
    assert (f.stat().st_mode & 0o777) == 0o644


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    atomic_write_text(f, '{"old": true}')

    def half_then_crash(fh) -> None:
        fh.write(b'{"new": tr')  # half a document reaches the disk ...
        raise OSError(28, "No space left on device")  # ... then the disk fills

    with pytest.raises(OSError, match="No space"):
        atomic_write(f, half_then_crash)
    assert f.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ["result.json"]  # no temp litter


def test_unserialisable_json_touches_nothing(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    with pytest.raises(ValueError):
        atomic_write_json(f, {"p": float("nan")})  # strict JSON: refused before any file exists
    assert not f.exists() and os.listdir(tmp_path) == []


def test_save_result_interrupted_leaves_previous_outputs_whole(result: SlideResult, tmp_path: Path) -> None:
    save_result(result, tmp_path)
    before = {n: (tmp_path / n).read_bytes() for n in OUTPUT_FILES}

    class Exploding:
        def __str__(self) -> str:  # anything in the config is written as text; this cannot be
            raise RuntimeError("cannot serialise")

    result.category = "V"  # a new run with a different answer that fails while writing result.json
    result.config = {"odd": Exploding()}
    with pytest.raises(RuntimeError):
        save_result(result, tmp_path)
    assert (tmp_path / "result.json").read_bytes() == before["result.json"]  # old answer, whole
    json.loads((tmp_path / "result.json").read_text())
    assert sorted(os.listdir(tmp_path)) == sorted((*OUTPUT_FILES, TIMINGS_FILE))  # no temp files left behind


def test_save_result_times_each_writer_beside_the_result(result: SlideResult, tmp_path: Path) -> None:
    before = result.cost.to_dict()
    save_result(result, tmp_path, timings={"open": 0.5, "grade": 2.0})
    t = json.loads((tmp_path / TIMINGS_FILE).read_text())
    assert set(t["write_seconds"]) >= {"regions.geojson", "overlay.png", "heatmap.png", "report.html", "result.json"}
    assert t["command_seconds"]["open"] == 0.5 and t["command_seconds"]["grade"] == 2.0
    # the image writers run side by side: the whole is at most the sum of its parts
    assert 0 < t["command_seconds"]["write"] <= sum(t["write_seconds"].values()) + 0.25
    assert all(v >= 0 for v in t["write_cpu_seconds"].values())
    assert result.cost.to_dict() == before  # the result itself is not touched
