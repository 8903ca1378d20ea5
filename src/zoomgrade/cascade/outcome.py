"""What became of each region, and the one rule that turns those outcomes into the slide's region grades.

Stage 2 gives every queued region an ``Outcome``; the fallback replaces the outcomes of the regions stage 2
left undecided or failed on. ``merge`` then keeps every graded region, drops the dismissed ones, and gives
every region that was not graded at high power its stage-2 grade if it has one, else its stage-1 grade
(``stage1_grade``): the one place where a region keeps a lower-power grade.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

import numpy as np

from ..labels import LabelSet
from ..types import DecidedBy, Region, RegionGrade
from .fusion import coarse_prior


class Outcome(enum.Enum):
    GRADED = "graded"  # stage 2 or the fallback decided a grade
    UNDECIDED = "undecided"  # stage 2's grade is not confident enough, or it saw too little: the fallback's turn
    DISMISSED = "dismissed"  # no cell group at high power: a stage-1 false alarm, not in the result
    OVER_BUDGET = "over_budget"  # not read at high power: the budget was spent
    UNREAD = "unread"  # not read at high power: the early stop had decided the slide (early_stop.py)
    FAILED = "failed"  # reading or grading failed


@dataclass(frozen=True)
class RegionOutcome:
    order: int  # position in the severity queue
    region: Region  # with its high-power cell count where stage 2 made one
    kind: Outcome
    grade: RegionGrade | None = None  # GRADED: the grade; otherwise a stage-2 grade to keep, if any
    error: str | None = None  # what failed, for the record


def stage1_grade(
    region: Region,
    labels: LabelSet,
    order: int,
    floor: float,
    error: str | None = None,
    decided_by: DecidedBy = "stage1-budget",
) -> RegionGrade:
    """A region that keeps its stage-1 grade: the prior over the fine grades, and the least severe fine
    grade of its coarse grade (a low-power guess never claims more than the coarse grade says).
    ``decided_by``: why it was not read ("stage1-budget", or "stage1-early-stop")."""
    prior = coarse_prior(region.coarse_probs, labels, floor)
    fine = labels.coarse_to_fine[region.coarse_grade][0]
    return RegionGrade(
        region=region,
        fine_grade=fine,
        confidence=float(np.max(prior)),
        fine_probs=prior,
        stage2_probs=None,
        decided_by=decided_by,
        order=order,
        error=error,
    )


def kept_grade(o: RegionOutcome, labels: LabelSet, floor: float) -> RegionGrade:
    """The grade of a region not graded at high power: its stage-2 grade if it has one, else its stage-1
    grade; either carries the outcome's error."""
    if o.grade is not None:
        return dataclasses.replace(o.grade, error=o.error)
    why: DecidedBy = "stage1-early-stop" if o.kind is Outcome.UNREAD else "stage1-budget"
    return stage1_grade(o.region, labels, o.order, floor, o.error, why)


@dataclass(frozen=True)
class Merged:
    grades: list[RegionGrade]  # in severity-queue order
    notes: list[str]  # for the result's warnings
    n_dismissed: int
    n_budget: int  # regions left with their stage-1 grade by the budget


def merge(outcomes: list[RegionOutcome], labels: LabelSet, prior_floor: float) -> Merged:
    """The region grades of a slide from one outcome per region (pure: same outcomes, same result)."""
    grades: dict[int, RegionGrade] = {}
    n_dismissed = n_budget = 0
    for o in outcomes:
        if o.kind is Outcome.GRADED and o.grade is not None:
            grades[o.order] = o.grade
        elif o.kind is Outcome.DISMISSED:
            n_dismissed += 1
        else:
            grades[o.order] = kept_grade(o, labels, prior_floor)
            n_budget += int(o.kind is Outcome.OVER_BUDGET and o.grade is None)
    notes = []
    if n_dismissed:
        notes.append(f"{n_dismissed} stage-1 regions showed no cell group at high power and were dismissed")
    if n_budget:
        notes.append(f"high-power budget spent: {n_budget} regions keep their stage-1 grade")
    return Merged([grades[k] for k in sorted(grades)], notes, n_dismissed, n_budget)
