"""Fewer windows a region once only the recall bound keeps reading (early_stop.recall_windows)."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from cascade_builders import context, make_grade, make_region
from shapely.geometry import box

from zoomgrade.bench.ablation import truth_groups
from zoomgrade.cascade import grade
from zoomgrade.cascade.config import config_from_dict
from zoomgrade.cascade.reading import PlanAhead
from zoomgrade.cascade.reading_stop import ReadingStop
from zoomgrade.cascade.stage2 import Job, _CountingReader, narrow, plan_windows
from zoomgrade.cascade.windows import Windows
from zoomgrade.errors import ConfigError
from zoomgrade.labels import TBSRTC
from zoomgrade.slide import open_slide

MALIGNANT = (0.0, 0.0, 1.0)


def _job() -> Job:
    boxes = [(0, 0, 256, 256), (256, 0, 256, 256), (512, 0, 256, 256)]
    job = Job(0, make_region(0, MALIGNANT))
    job.windows = Windows(boxes, np.array([0.3, 0.9, 0.5]), 4)
    job.rest = Windows([(768, 0, 256, 256)], np.array([0.1]), 4)
    return job


def test_narrowing_keeps_the_best_covered_windows_and_gives_the_others_to_the_fallback():
    job = _job()
    narrow(job, 1)
    assert job.narrowed
    assert job.windows.boxes == [(256, 0, 256, 256)] and job.windows.overlap.tolist() == [0.9]
    # nothing planned is lost: the fallback reads the rest if stage 2 cannot decide on one window
    assert sorted(job.rest.boxes) == [(0, 0, 256, 256), (512, 0, 256, 256), (768, 0, 256, 256)]
    assert len(job.rest.overlap) == 3
    assert job.windows.n_planned == job.rest.n_planned == 4  # counts still scale to the whole region


def test_narrowing_to_as_many_windows_or_to_zero_changes_nothing():
    for k in (0, 3, 5):
        job = _job()
        narrow(job, k)
        assert not job.narrowed and len(job.windows.boxes) == 3 and len(job.rest.boxes) == 1


def test_a_category_decided_then_reopened_is_no_longer_decided():
    """Once the recall bound holds the rule is asked again; if a region read since reopened the category,
    reading goes on with every window (stage 2 reads every window again while category_decided_at is None)."""
    regions = [make_region(i, MALIGNANT, area_um2=8000.0) for i in range(10)]
    stop = ReadingStop(regions, TBSRTC, config_from_dict({"early_stop": {"recall_prior": {}}}))
    stop.graded_as(0, make_grade("V", conf=0.97, area_um2=8000.0, est_cells=40, rid=0))
    stop.category_decided_at = 1  # as if the rule had decided V after the first region
    assert stop.recall_now().holds  # the unread ones are malignant-looking: counted as found
    assert stop.check() is None  # nine unread malignant-looking regions may still make it VI
    assert stop.category_decided_at is None


def test_a_slide_read_for_recall_alone_reads_fewer_windows_with_the_same_answer(synth_slide, shipped_models):
    path = synth_slide("VI")
    # every region planned with two windows (stage2.windows_less_severe = 0): else only the malignant-called
    # ones are, and they are read first, before the category is decided
    whole = {"windows_less_severe": 0}
    every = grade(path, {"stage2": whole, "early_stop": {"recall_windows": 0}}, models=shipped_models)
    fewer = grade(path, {"stage2": whole, "early_stop": {"recall_windows": 1}}, models=shipped_models)
    assert every.reading is not None and fewer.reading is not None
    assert every.reading["narrowed"] == 0
    assert fewer.reading["narrowed"] > 0
    assert fewer.category == every.category == "VI"
    # stage 2 graded fewer windows (reads need not fall: a region one window would dismiss is counted on
    # its other windows too)
    graded = [r.cost.stages["stage2_infer"].model_items for r in (every, fewer)]
    assert graded[1] < graded[0]


def test_a_one_window_count_that_would_dismiss_counts_the_other_windows(synth_slide, shipped_models):
    """The best-covered window of a region can lie over glass while another holds its cells: a region read
    from one window is not dismissed for too few nuclei before its other windows are counted too."""
    path = synth_slide("VI")
    cfg = config_from_dict({})
    with open_slide(path) as slide:
        ctx = context(slide, shipped_models, cfg)
        side = int(round(ctx.window_px * ctx.cfg.stage2.mpp / slide.mpp))
        cx, cy = max(truth_groups(path), key=lambda a: a.geometry.area).geometry.centroid.coords[0]
        cells, glass = (int(cx) - side // 2, int(cy) - side // 2, side, side), (0, 0, side, side)
        region = dataclasses.replace(
            make_region(0, MALIGNANT),
            polygon=box(0, 0, side, side).union(box(*cells[:2], cells[0] + side, cells[1] + side)),
        )

        def count(narrowed_read: bool) -> int:
            job = Job(0, region)
            job.windows = Windows([glass, cells], np.array([0.9, 0.8]), 2)  # glass "best covered"
            on = threading.Event()
            if narrowed_read:
                on.set()
            else:  # as a reader that read only the glass window for its own reasons
                job.windows, job.rest = Windows([glass], np.array([0.9]), 2), Windows([cells], np.array([0.8]), 2)
            with PlanAhead([job], lambda j: j.windows.boxes, None, ctx.cost, "plan", "hints") as plans:
                reader = _CountingReader(ctx, plans, on)
                reader(job)
            assert job.windows.boxes == [glass] and job.narrowed is narrowed_read
            return reader.cells[0]

        assert count(False) == 0  # the glass window alone holds no nuclei
        assert count(True) >= cfg.adequacy.min_nuclei_per_group  # counted on the other window too


def test_the_key_is_checked_and_defaults_to_one_window():
    assert config_from_dict({}).early_stop.recall_windows == 1
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ConfigError, match=r"early_stop\.recall_windows"):
            config_from_dict({"early_stop": {"recall_windows": bad}})


def test_a_count_scaled_past_a_threshold_is_settled_only_while_the_category_is_open(synth_slide, shipped_models):
    """A region counted in one of its four planned windows whose count, scaled up, passes a threshold the cells
    counted do not: while the category is open the rest is read and counted too; once only recall is open it
    is not (no threshold decides anything then) and the count is marked unsettled for the early stop."""
    path = synth_slide("VI")
    cfg = config_from_dict({})
    thresholds = (cfg.adequacy.adequate_count, cfg.slide_rule.min_cells)
    with open_slide(path) as slide:
        ctx = context(slide, shipped_models, cfg)
        side = int(round(ctx.window_px * ctx.cfg.stage2.mpp / slide.mpp))
        glass = (0, 0, side, side)

        def count(window: tuple[int, int, int, int], recall_only: bool) -> tuple[int, Job, int]:
            region = dataclasses.replace(
                make_region(0, MALIGNANT),
                polygon=box(window[0], window[1], window[0] + side, window[1] + side).union(box(0, 0, side, side)),
            )
            job = Job(0, region)
            job.windows, job.rest = Windows([window], np.array([0.9]), 4), Windows([glass], np.array([0.5]), 4)
            on = threading.Event()
            if recall_only:
                on.set()
            before = ctx.cost.stages["stage2_read"].tiles if "stage2_read" in ctx.cost.stages else 0
            with PlanAhead([job], lambda j: j.windows.boxes, None, ctx.cost, "plan", "hints") as plans:
                reader = _CountingReader(ctx, plans, on)
                reader(job)
            return reader.cells[0], job, ctx.cost.stages["stage2_read"].tiles - before

        # a window over the edge of a truth group, holding a few nuclei: fewer than the thresholds
        for group in sorted(truth_groups(path), key=lambda a: a.geometry.area):
            x0, y0, _, _ = group.geometry.bounds
            window = (int(x0) - side // 2, int(y0) - side // 2, side, side)
            few, job, _ = count(window, recall_only=False)
            if 0 < few // 2 < min(thresholds) <= few:  # scaled from 2 of 4 windows, the glass adding none
                break
        else:
            pytest.fail("no window over a group edge with a few nuclei")
        settled, job, tiles = count(window, recall_only=False)
        assert not job.unsettled and tiles == 2  # the rest was read and counted: 2 windows of 4, scaled
        loose, job, tiles = count(window, recall_only=True)
        assert job.unsettled and tiles == 1 and loose == 2 * settled  # one window of 4, scaled, left so


def test_every_region_says_where_its_count_comes_from(synth_slide, shipped_models):
    """On a graded slide: regions graded at high power carry a high-power count (scaled and unsettled only
    where the reading record says so), regions left unread their area estimate, and adequacy adds them up."""
    result = grade(synth_slide("VI"), {"early_stop": {"recall_windows": 1}}, models=shipped_models)
    sources = [g.region.cells_source for g in result.regions]
    for g, source in zip(result.regions, sources):
        if g.decided_by in ("stage2", "fallback"):
            assert source in ("high-power", "scaled") and g.region.counted_cells == g.region.cells
        else:
            assert source == "area" and g.region.cells == g.region.est_cells
    assert result.reading is not None and sources.count("scaled") == result.reading["unsettled"]
    assert sum(result.adequacy.n_adequate_by_source.values()) == result.adequacy.n_adequate_groups
    assert sources.count("high-power") > 0


def _planned(coarse, **stage2) -> Job:
    cfg = config_from_dict({"stage2": {"mpp": 0.5, **stage2}})  # a plan is made at a resolved mpp
    region = dataclasses.replace(make_region(0, coarse), polygon=box(0, 0, 512, 512))  # 2 x 2 windows of 256 px
    return plan_windows(Job(0, region), 0.25, cfg, 128, TBSRTC.coarse[-1])


def test_regions_stage1_calls_less_severe_are_planned_with_fewer_windows():
    """stage2.windows_less_severe: a benign- or suspicious-called region keeps its best-covered window and
    is narrowed (the fallback and the count take the rest as the windows stage 2 would have read); a
    malignant-called one keeps windows_per_region."""
    top = _planned(MALIGNANT)
    assert len(top.windows.boxes) == 2 and len(top.rest.boxes) == 2 and not top.narrowed
    for coarse in ((1.0, 0.0, 0.0), (0.1, 0.8, 0.1)):
        low = _planned(coarse)
        assert len(low.windows.boxes) == 1 and low.cut == 1 and low.narrowed and not low.for_recall
        assert low.windows.boxes[0] == top.windows.boxes[0] and low.rest.boxes[0] == top.windows.boxes[1]
        assert len(_planned(coarse, windows_less_severe=0).windows.boxes) == 2  # 0: as windows_per_region
    # narrowed twice (at planning, then for recall), the cut adds up and the dropped windows lead the rest
    job = _planned((1.0, 0.0, 0.0), windows_per_region=3, windows_less_severe=2)
    assert job.cut == 1
    best = list(job.windows.boxes)
    narrow(job, 1)
    assert job.cut == 2 and job.windows.boxes == best[:1] and job.rest.boxes[:1] == best[1:]


def test_a_slide_read_with_fewer_windows_for_less_severe_regions_keeps_its_answer(synth_slide, shipped_models):
    path = synth_slide("IV")
    whole = grade(path, {"stage2": {"windows_less_severe": 0}}, models=shipped_models)
    fewer = grade(path, {}, models=shipped_models)
    assert fewer.category == whole.category == "IV"
    graded = [r.cost.stages["stage2_infer"].model_items for r in (whole, fewer)]
    assert graded[1] < graded[0]
