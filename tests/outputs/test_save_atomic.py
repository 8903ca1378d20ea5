"""save_result's writes are atomic: a failure mid-write leaves the previous outputs whole, no temp file behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zoomgrade.outputs import OUTPUT_FILES, TIMINGS_FILE, save_result
from zoomgrade.types import SlideResult


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
