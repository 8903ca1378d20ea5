"""The high-power passes on a real pyramid file: reads by mpp, severity order, budget, fallback."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from cascade_builders import context, make_region

from zoomgrade.bench.slide_io import write_aperio_from_array
from zoomgrade.cascade.config import GradeConfig, config_from_dict
from zoomgrade.cascade.fallback import run_fallback
from zoomgrade.cascade.outcome import Outcome, stage1_grade
from zoomgrade.cascade.regions import severity_order
from zoomgrade.cascade.stage1 import run_stage1
from zoomgrade.cascade.stage2 import run_stage2
from zoomgrade.slide import open_slide
from zoomgrade.types import CostRecord


class Recording:
    """A slide that records every read's resolution (delegates everything else)."""

    def __init__(self, slide):
        self._s = slide
        self.reads: list[tuple[str, float]] = []

    def __getattr__(self, name):
        return getattr(self._s, name)

    def read_region(self, x, y, w, h, mpp):
        self.reads.append(("region", mpp))
        return self._s.read_region(x, y, w, h, mpp)

    def thumbnail(self, mpp=None, max_size=1024, *, workers=1):
        self.reads.append(("thumbnail", mpp))
        return self._s.thumbnail(mpp, max_size, workers=workers)


@pytest.fixture(scope="module")
def textured(tmp_path_factory):
    rng = np.random.default_rng(1_000_200)
    img = np.full((2048, 2048, 3), 235, np.uint8)
    for _ in range(12):
        y, x = rng.integers(100, 1900, 2)
        img[y - 60 : y + 60, x - 60 : x + 60] = rng.integers(40, 160, (120, 120, 3))
    path = tmp_path_factory.mktemp("passes") / "textured.svs"
    write_aperio_from_array(path, img, tile=256, step=4, n_levels=3, mpp=0.25, mag=40)
    return path


def regions_grid():
    coarse = [(0.8, 0.1, 0.1), (0.1, 0.1, 0.8), (0.2, 0.7, 0.1), (0.1, 0.2, 0.7), (0.9, 0.05, 0.05), (0.3, 0.6, 0.1)]
    return [make_region(i, c, x=300 * i, y=300 * (i % 3), side=256) for i, c in enumerate(coarse)]


def test_stage1_reads_low_power_only_and_stage2_high_power_only(textured, any_models, labels):
    # no region narrowed (stage2.windows_less_severe = 0) and no count: a narrowed region's count may read
    # windows it does not grade, and a region the count dismisses is not graded; here every window read must be
    cfg = config_from_dict({"stage2": {"windows_less_severe": 0}, "adequacy": {"count_nuclei": False}})
    with open_slide(textured) as s:
        rec = Recording(s)
        cost = CostRecord()
        run_stage1(context(rec, any_models, cfg, labels, cost))
        assert rec.reads == [("thumbnail", any_models[0].card.input_mpp)]  # stage1.mpp 0: the card's
        rec.reads.clear()
        regs = severity_order(regions_grid(), labels)
        size = any_models[1].card.input_size
        run_stage2(context(rec, any_models, cfg, labels, cost), regs)
        assert rec.reads and {m for _, m in rec.reads} == {any_models[1].card.input_mpp}  # stage2.mpp 0: the card's
    st = cost.stages["stage2_read"]
    assert st.pixels == st.tiles * size * size == cost.pixels_at(any_models[1].card.input_mpp)
    assert cost.stages["stage2_infer"].model_items == st.tiles


def test_a_region_the_count_dismisses_gets_no_forward_pass(textured, any_models, labels):
    """The count runs in the reader, before the model: a region it dismisses (too few nuclei) is dismissed
    whatever the model would say, so its windows are read and counted but never graded."""
    with open_slide(textured) as s:
        slide = Recording(s)
        regs = severity_order(regions_grid(), labels)
        by_count = {}
        for count in (True, False):
            cfg = config_from_dict({"stage2": {"windows_less_severe": 0}, "adequacy": {"count_nuclei": count}})
            cost = CostRecord()
            by_count[count] = cost, run_stage2(context(slide, any_models, cfg, labels, cost), regs)
    cost, decisions = by_count[True]
    dismissed = [d for d in decisions if d.outcome.kind is Outcome.DISMISSED]
    kept = [d for d in decisions if d.outcome.kind is not Outcome.DISMISSED]
    assert dismissed  # the textured squares hold no nuclei
    assert all(d.outcome.region.counted_cells < config_from_dict({}).adequacy.min_nuclei_per_group for d in dismissed)
    assert cost.stages["stage2_read"].tiles == by_count[False][0].stages["stage2_read"].tiles  # read all the same
    assert cost.stages["stage2_infer"].model_items == sum(len(d.job.windows.boxes) for d in kept)
    uncounted = {d.job.order: d.outcome.kind for d in by_count[False][1]}
    assert all(uncounted[d.job.order] is not Outcome.DISMISSED for d in dismissed)  # the model alone keeps them


def test_decisions_follow_the_severity_queue(textured, any_models, labels):
    cfg = GradeConfig()
    regs = severity_order(regions_grid(), labels)
    # malignant 1 and 3, suspicious 2 and 5, then benign 0 (P(worse) 0.2) before the surer benign 4 (0.1)
    assert [r.id for r in regs] == [1, 3, 2, 5, 0, 4]
    with open_slide(textured) as s:
        out = run_stage2(context(s, any_models, cfg, labels, CostRecord()), regs)
    assert [d.job.region.id for d in out] == [1, 3, 2, 5, 0, 4]
    assert [d.job.order for d in out] == list(range(6))
    for d in out:
        if d.grade is not None:
            assert d.grade.stage2_probs is not None and d.grade.fine_probs.sum() == pytest.approx(1.0)
            undecided = d.outcome.kind is Outcome.UNDECIDED
            assert undecided == (d.grade.confidence < cfg.fallback.confidence_threshold)
            assert undecided or d.outcome.kind is Outcome.GRADED


def test_budget_leaves_the_least_severe_regions_to_stage1(textured, any_models, labels):
    size = any_models[1].card.input_size
    cfg = GradeConfig()
    one = size * size
    cfg.budget.high_power_megapixels = 2.5 * one / 1e6  # room for about two windows
    regs = severity_order(regions_grid(), labels)
    cost = CostRecord()
    with open_slide(textured) as s:
        out = run_stage2(context(s, any_models, cfg, labels, cost), regs)
    skipped = [d.outcome.kind is Outcome.OVER_BUDGET for d in out]
    assert any(skipped) and not all(skipped)
    k = skipped.index(True)
    assert all(skipped[k:])  # a tail of the queue: the least severe regions
    largest = max(len(d.job.windows.boxes) for d in out) * one
    assert cost.pixels_at(any_models[1].card.input_mpp) <= cfg.budget.high_power_megapixels * 1e6 + largest
    g = stage1_grade(out[-1].job.region, labels, out[-1].job.order, cfg.fusion.prior_floor)
    assert g.decided_by == "stage1-budget" and g.fine_grade == "II" and g.stage2_probs is None


def test_fallback_reuses_stage2_windows_reads_the_rest_and_shifted_patches_only_when_short(
    textured, any_models, labels
):
    cfg = GradeConfig()
    cfg.adequacy.count_nuclei = False  # counted, every textured square is dismissed (no nuclei) and never graded
    cfg.stage2.windows_less_severe = 0  # every region un-narrowed here (narrowed ones: below)
    cfg.fallback.none_threshold = 1.01  # every patch votes, whatever the network says
    size = any_models[1].card.input_size
    regs = severity_order(regions_grid(), labels)
    cost = CostRecord()
    with open_slide(textured) as s:
        decisions = run_stage2(context(s, any_models, cfg, labels, cost), regs)
        outs = run_fallback(context(s, any_models, cfg, labels, cost), decisions[:3])
        cfg1 = GradeConfig()
        cfg1.stage2.windows_less_severe = 0
        cfg1.fallback.none_threshold, cfg1.fallback.min_count = 1.01, 1
        cost1 = CostRecord()
        outs1 = run_fallback(context(s, any_models, cfg1, labels, cost1), decisions[:3])
    assert len(outs) == 3
    for o, d in zip(outs, decisions[:3]):
        g = o.grade
        assert g is not None and g.decided_by == "fallback" and g.fine_grade in labels.fine
        assert o.vote.n_patches == len(d.window_probs) + o.n_read
        assert len(g.patch_grades) == o.vote.n_voting == o.vote.n_patches
        # the rest of the region's grid always; shifted patches only when stage 2's windows were short
        short = len(d.window_probs) < cfg.fallback.min_count
        assert o.n_read >= len(d.job.rest.boxes) and (o.n_read > len(d.job.rest.boxes)) == short
    fb = cost.stages["fallback"]
    assert fb.tiles == sum(o.n_read for o in outs) and fb.model_items == fb.tiles
    assert fb.pixels == fb.tiles * size * size
    assert "fallback_infer" not in cost.stages
    # with enough windows already graded, the fallback reads only the rest of the grid, nothing shifted
    assert all(o.n_read == len(d.job.rest.boxes) and o.grade is not None for o, d in zip(outs1, decisions))
    assert cost1.stages["fallback"].tiles == sum(len(d.job.rest.boxes) for d in decisions[:3])


def test_fallback_tiles_the_rest_of_a_region_stage2_read_only_in_part(textured, any_models, labels):
    """Stage 2 reads a large region's two best-covered windows; the fallback reads every other window of
    its grid (never the two again), and the patch vote counts them all."""
    cfg = GradeConfig()
    cfg.adequacy.count_nuclei = False  # counted, every textured square is dismissed (no nuclei) and never graded
    cfg.stage2.windows_per_region = 2
    cfg.fallback.none_threshold = 1.01  # every patch votes, whatever the network says
    regs = [make_region(0, (0.1, 0.2, 0.7), x=200, y=200, side=900)]
    cost = CostRecord()
    with open_slide(textured) as s:
        (d,) = run_stage2(context(s, any_models, cfg, labels, cost), regs)
        assert len(d.job.windows.boxes) == 2 and len(d.job.rest.boxes) >= 7
        (o,) = run_fallback(context(s, any_models, cfg, labels, cost), [d])
    assert not set(d.job.windows.boxes) & set(d.job.rest.boxes)
    assert o.n_read == len(d.job.rest.boxes) and cost.stages["fallback"].tiles == o.n_read
    assert o.vote.n_patches == 2 + o.n_read and o.grade.decided_by == "fallback"


def test_a_region_read_from_fewer_windows_gets_the_shifted_grid_only_where_its_planned_windows_were_short(
    textured, any_models, labels
):
    """A region stage 2 read from one of two planned windows (``Job.cut``): the fallback reads its rest, and
    its shifted grid only when the two planned windows give fewer than ``min_count`` voting patches, as it
    would have for the region read from both."""
    cfg = GradeConfig()
    cfg.adequacy.count_nuclei = False  # counted, every textured square is dismissed (no nuclei) and never graded
    cfg.stage2.windows_per_region = 1
    regs = [make_region(0, (0.1, 0.2, 0.7), x=200, y=200, side=900)]
    with open_slide(textured) as s:
        (d,) = run_stage2(context(s, any_models, cfg, labels, CostRecord()), regs)
        narrowed = dataclasses.replace(d, job=dataclasses.replace(d.job, cut=1))
        rest = len(d.job.rest.boxes)

        def read(decision, none_threshold: float) -> tuple[int, int]:
            c = GradeConfig()
            c.fallback.none_threshold, c.fallback.min_count = none_threshold, 2
            cost = CostRecord()
            (o,) = run_fallback(context(s, any_models, c, labels, cost), [decision])
            assert cost.stages["fallback"].tiles == o.n_read
            return o.n_read, o.vote.n_patches

        plain_voting, plain_silent = read(d, 1.01), read(d, -1.0)
        narrowed_voting, narrowed_silent = read(narrowed, 1.01), read(narrowed, -1.0)
    assert narrowed.job.narrowed and not d.job.narrowed
    assert plain_voting[0] > rest and plain_silent[0] > rest  # one window of one: shifted grid read
    # every patch votes: the window stage 2 read and the one it was planned to read make two, enough
    assert narrowed_voting == (rest, 1 + rest)
    # no patch votes: the shifted grid too, in a second pass, the same patches as the region read whole
    assert narrowed_silent == plain_silent == (plain_silent[0], 1 + plain_silent[0])


class Hinting(Recording):
    """Also records the boxes read and the boxes hinted (``will_need``), by mpp."""

    def __init__(self, slide):
        super().__init__(slide)
        self.read_boxes: list[tuple[tuple[int, int, int, int], float]] = []
        self.hinted: list[tuple[tuple[int, int, int, int], float]] = []

    def read_region(self, x, y, w, h, mpp):
        self.read_boxes.append(((x, y, w, h), mpp))
        return super().read_region(x, y, w, h, mpp)

    def will_need(self, boxes, mpp):
        boxes = list(boxes)
        self.hinted.extend((tuple(b), mpp) for b in boxes)
        return self._s.will_need(boxes, mpp)


@pytest.mark.parametrize("readahead", [True, False])
def test_stage2_and_fallback_hint_exactly_the_windows_they_read(textured, any_models, labels, readahead):
    cfg = GradeConfig()
    cfg.adequacy.count_nuclei = False  # counted, every textured square is dismissed (no nuclei) and never graded
    cfg.stage2.readahead = readahead
    # un-narrowed: a narrowed region's count may read the rest of its grid at once, unhinted (a few windows)
    cfg.stage2.windows_less_severe = 0
    cfg.fallback.none_threshold = 1.01
    cfg.fallback.min_count = 100  # the fallback reads shifted patches for every region it is given
    regs = severity_order(regions_grid(), labels)
    cost = CostRecord()
    with open_slide(textured) as s:
        rec = Hinting(s)
        decisions = run_stage2(context(rec, any_models, cfg, labels, cost), regs)
        n_stage2 = len(rec.read_boxes)
        outs = run_fallback(context(rec, any_models, cfg, labels, cost), decisions[:3])
    assert n_stage2 and len(rec.read_boxes) > n_stage2 and any(o.n_read for o in outs)
    if readahead:
        assert set(rec.hinted) == set(rec.read_boxes)  # every window read was hinted, and only those
        assert len(rec.hinted) == len(rec.read_boxes)  # each once
        assert {"stage2_hints", "fallback_hints"} <= set(cost.stages)
    else:
        assert rec.hinted == [] and "stage2_hints" not in cost.stages
    assert cost.stages["stage2_plan"].seconds > 0  # windows are planned in the planner thread either way


def test_readahead_changes_no_decision(textured, any_models, labels):
    regs = severity_order(regions_grid(), labels)
    grades = []
    for readahead in (True, False):
        cfg = GradeConfig()
        cfg.stage2.readahead = readahead
        with open_slide(textured) as s:
            out = run_stage2(context(s, any_models, cfg, labels, CostRecord()), regs)
        grades.append(
            [(d.job.windows.boxes, None if d.grade is None else (d.grade.fine_grade, d.grade.confidence)) for d in out]
        )
    assert grades[0] == grades[1]


def test_exhaustive_hints_exactly_the_tiles_it_reads(textured, any_models, labels):
    from zoomgrade.cascade.exhaustive import run_exhaustive

    cfg = GradeConfig()
    cost = CostRecord()
    with open_slide(textured) as s:
        rec = Hinting(s)
        run_exhaustive(context(rec, any_models, cfg, labels, cost))
    high = [b for b in rec.read_boxes if b[1] == any_models[1].card.input_mpp]  # exhaustive.mpp 0: the card's
    # every tile once in the grading pass, as hinted; the cell count reads cell-group tiles again after it
    first, again = high[: len(rec.hinted)], high[len(rec.hinted) :]
    assert first and sorted(rec.hinted) == sorted(first)
    assert set(again) <= set(first) and len(again) == cost.stages["exhaustive_count"].tiles > 0
    assert "exhaustive_hints" in cost.stages
