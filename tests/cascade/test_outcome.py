"""merge(): one outcome per region -> the slide's region grades (pure; every kind of outcome)."""

from __future__ import annotations

import dataclasses

from cascade_builders import make_grade, make_region

from zoomgrade.cascade.outcome import Outcome, RegionOutcome, kept_grade, merge, stage1_grade

FLOOR = 0.02


def _outcome(order: int, kind: Outcome, fine: str | None = None, error: str | None = None) -> RegionOutcome:
    region = make_region(order, (0.1, 0.2, 0.7))
    grade = None if fine is None else dataclasses.replace(make_grade(fine, rid=order), region=region)
    return RegionOutcome(order, region, kind, grade, error)


def test_each_kind_of_outcome(labels):
    outcomes = [
        _outcome(3, Outcome.GRADED, "VI"),
        _outcome(0, Outcome.DISMISSED),
        _outcome(1, Outcome.OVER_BUDGET),  # never read: the stage-1 grade, counted as budget
        _outcome(2, Outcome.OVER_BUDGET, "IV"),  # read by stage 2, the fallback not: the stage-2 grade stands
        _outcome(4, Outcome.FAILED, error="OSError: bad tile"),
        _outcome(5, Outcome.UNDECIDED, "III"),  # no fallback: the fused grade stands
    ]
    m = merge(outcomes, labels, FLOOR)
    assert [g.order for g in m.grades] == [1, 2, 3, 4, 5]  # queue order; the dismissed one is gone
    by = {g.order: g for g in m.grades}
    assert by[3] is outcomes[0].grade
    assert by[1].decided_by == "stage1-budget" and by[1].fine_grade == "V" and by[1].error is None
    assert by[2].fine_grade == "IV" and by[2].decided_by == "stage2"
    assert by[4].decided_by == "stage1-budget" and by[4].error == "OSError: bad tile"
    assert by[5].fine_grade == "III"
    assert (m.n_dismissed, m.n_budget) == (1, 1)
    assert m.notes == [
        "1 stage-1 regions showed no cell group at high power and were dismissed",
        "high-power budget spent: 1 regions keep their stage-1 grade",
    ]


def test_merge_is_pure(labels):
    outcomes = [_outcome(0, Outcome.FAILED, "II", error="boom"), _outcome(1, Outcome.GRADED, "V")]
    before = [(o.grade.error if o.grade else None) for o in outcomes]
    a, b = merge(outcomes, labels, FLOOR), merge(outcomes, labels, FLOOR)
    assert [g.fine_grade for g in a.grades] == [g.fine_grade for g in b.grades] == ["II", "V"]
    assert a.grades[0].error == "boom" and a.notes == [] == b.notes
    assert [(o.grade.error if o.grade else None) for o in outcomes] == before  # inputs untouched


def test_kept_grade_is_the_stage1_grade_once(labels):
    o = _outcome(7, Outcome.OVER_BUDGET)
    a, b = kept_grade(o, labels, FLOOR), stage1_grade(o.region, labels, 7, FLOOR)
    assert (a.fine_grade, a.confidence, a.decided_by, a.order, a.region) == (
        b.fine_grade,
        b.confidence,
        b.decided_by,
        b.order,
        b.region,
    )
    assert (a.fine_probs == b.fine_probs).all()
    g = stage1_grade(make_region(0, (0.05, 0.9, 0.05)), labels, 0, FLOOR)
    assert g.fine_grade == labels.coarse_to_fine["suspicious_follicular"][0] and g.stage2_probs is None
    assert abs(g.fine_probs.sum() - 1) < 1e-9 and g.confidence == g.fine_probs.max()
