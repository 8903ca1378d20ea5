"""The cascade on small generated slides (held-out seeds) with the shipped weights."""

from __future__ import annotations

import json

import pytest

from zoomgrade.cascade import grade
from zoomgrade.cascade.config import GradeConfig
from zoomgrade.labels import TBSRTC
from zoomgrade.synth import truth_paths


def truth(path) -> dict:
    return json.loads(truth_paths(path)[1].read_text())


@pytest.fixture(scope="module")
def both_vi(synth_slide, shipped_models):
    """mode="both" on one malignant slide: shared by the tests that read its comparison."""
    path = synth_slide("VI")
    return path, grade(path, mode="both", models=shipped_models)


@pytest.mark.slow
def test_cascade_reads_a_small_fraction_of_the_exhaustive_pixels(both_vi):
    _, r = both_vi
    hp = r.comparison["high_power_pixels"]
    assert hp["exhaustive"] > 0
    assert (
        hp["cascade"]
        == r.cost.stages["stage2_read"].pixels + r.cost.stages.get("fallback", type("Z", (), {"pixels": 0})).pixels
    )
    assert hp["cascade"] < 0.10 * hp["exhaustive"], hp
    # the cascade read the slide at two resolutions only: low power once, then high power
    assert set(r.cost.pixels_by_mpp) == {"8", "0.5"}
    assert r.cost.tiles_by_mpp["8"] == 1


@pytest.mark.slow
def test_both_modes_agree_with_truth_on_a_malignant_slide(both_vi):
    path, r = both_vi
    assert r.category == truth(path)["category"] == "VI"
    assert r.comparison["exhaustive"]["category"] == "VI"
    assert r.comparison["category_agreement"] is True
    assert r.comparison["regions_compared"] > 0
    # the high-power queue ran most severe first (by the stage-1 coarse grade)
    queue = sorted(r.regions, key=lambda g: g.order)
    sev = [TBSRTC.coarse_index(g.region.coarse_grade) for g in queue]
    assert sev == sorted(sev, reverse=True)


@pytest.mark.slow
@pytest.mark.parametrize("category", ["I", "II"])
def test_cascade_category_matches_truth(synth_slide, shipped_models, category):
    path = synth_slide(category)
    r = grade(path, models=shipped_models)
    assert r.category == truth(path)["category"], r.category_reason
    assert r.versions["zoomgrade"] and "stage2" in r.versions
    assert {"thumbnail", "group", "grade", "attention", "map_mpp", "thumbnail_mpp"} <= set(r.maps)


@pytest.mark.slow
def test_budget_and_no_fallback_options(synth_slide, shipped_models):
    path = synth_slide("II")
    full = grade(path, models=shipped_models)
    cfg = GradeConfig()
    cfg.budget.high_power_megapixels = 0.2
    cfg.fallback.enabled = False
    r = grade(path, cfg, models=shipped_models)
    assert not any(g.decided_by == "fallback" for g in r.regions)
    assert any(g.decided_by == "stage1-budget" for g in r.regions)
    budget = [g.order for g in r.regions if g.decided_by == "stage1-budget"]
    # the tail of the queue: every region after the first skipped one was skipped too (regions dismissed
    # at high power before the budget ran out are not in r.regions, so orders are compared, not counted)
    orders = sorted(g.order for g in r.regions)
    assert budget == [o for o in orders if o >= min(budget)]
    assert budget == list(range(min(budget), max(orders) + 1))
    assert r.cost.pixels_at(0.5) < full.cost.pixels_at(0.5)
    assert any("budget" in w for w in r.warnings)
