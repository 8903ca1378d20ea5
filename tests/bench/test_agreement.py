"""python -m zoomgrade.bench.agreement: rows against truth, replaying the slide rule, kept slides reused."""

from __future__ import annotations

import json

import pytest

from zoomgrade.bench import agreement
from zoomgrade.cascade import load_config


@pytest.mark.slow
def test_kept_slides_are_reused_and_rows_replay(tmp_path):
    slides, out = tmp_path / "slides", tmp_path / "out"
    first = agreement.evaluate(1, (1.5, 1.5), 1_000_000, out, verbose=False, slides_dir=slides)
    kept = sorted(p.name for p in slides.iterdir())
    assert len(kept) == 3 and kept[0].startswith("agree-1000000-I-pap-1.5x1.5mm")
    again = agreement.evaluate(1, (1.5, 1.5), 1_000_000, out, verbose=False, slides_dir=slides)
    row0, row1 = first["rows"][0], again["rows"][0]
    assert row0["generate_seconds"] > 0 and row1["generate_seconds"] == 0.0
    assert (row1["category"], row1["cascade"], row1["exhaustive"]) == (
        row0["category"],
        row0["cascade"],
        row0["exhaustive"],
    )
    # the region records replay to the category the run reported, in both modes
    rec = json.loads((out / "regions.jsonl").read_text().splitlines()[0])
    cfg = load_config(None)
    assert agreement.replay(rec["cascade"], cfg) == row1["cascade"]
    assert agreement.replay(rec["exhaustive"], cfg) == row1["exhaustive"]


@pytest.mark.slow
def test_without_a_slides_dir_nothing_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(agreement.tempfile, "tempdir", str(tmp_path))
    agreement.evaluate(1, (1.0, 1.0), 1_000_001, tmp_path / "out", verbose=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("zoomgrade-agreement-slides-")]
