"""When the high-power pass may stop: no unread region can change the slide's category or adequacy.

The high-power pass reads regions most severe first. After each batch, the regions split into *graded* ones
(final grade, high-power cell count) and *ungraded* ones: not read yet (they would keep their stage-1
grade), or read but waiting for the fallback (anything is possible). For every category, most severe first,
the slide rule (``slide_rule.holds``) is evaluated on two bounding tallies:

- **could hold**: every ungraded region that might become evidence for the category does, with the
  largest areas, joining the category's sibling pool as it must, and as few of the others are gradable
  groups as the regions read allow (fewest groups for the share to reach; ``Undergrade.least_groups``);
- **must hold**: no ungraded region becomes evidence, every one is a gradable group, and as many as might
  join the category's sibling pool do.

An ungraded region *might* become evidence for a category when its reach (the most severe fine grade its
stage-1 coarse grade contains; the top grade for a region awaiting the fallback) is at least that category.
Regions whose reach is below it can only get there by being under-graded at low power; of ``n`` such
regions at most ``Undergrade.most`` are counted (``undergrade.py``: a binomial quantile at an upper bound on
how often stage 1 under-grades, and the posterior predictive of the validation slides' prior where there is
one).
A graded region whose count is unsettled (``Graded.settled``: scaled up from fewer windows once only recall
was open) is a gradable group in each tally where that bounds: in could-hold where it is evidence, in
must-hold where it is not.
The rule is monotone in each tally (``slide_rule.holds``), so when the first category that could hold must
hold, and adequacy is the same at both extremes, every completion of the unread regions within those
bounds gives the same category and adequacy, including the stage-1 grades the unread regions keep.

Everything here is in severity indices of the label set (0 = least severe fine grade): pure functions of
plain records, no slide and no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import AdequacyConfig, SlideRuleConfig
from .decision import Tally, holds
from .recall_bound import GIVEN_PRIOR
from .undergrade import Undergrade


@dataclass(frozen=True)
class Graded:
    """A region whose grade is final."""

    severity: int  # index of its fine grade
    p_at_least: tuple[float, ...]  # P(grade index >= k), k = 0 .. n_fine - 1
    cells: int
    area_um2: float
    settled: bool = True  # False: the count may lie on either side of every threshold (``Job.unsettled``)


@dataclass(frozen=True)
class Ungraded:
    """A region not graded yet: unread, or awaiting the fallback."""

    reach: int  # most severe fine index it reaches without being under-graded at low power
    area_um2: float
    est_cells: int = 0  # stage 1's estimate: the count the slide rule uses if it stays unread
    awaiting: bool = False  # read, and the fallback decides it: not one of the unread regions sampled


@dataclass(frozen=True)
class Verdict:
    category: int | None  # severity index of the category that holds; None: none above the least severe
    adequate: bool
    reason: str


class _Arrays:
    """The graded and ungraded regions as arrays: the rule runs about once per model batch over every
    region, which in Python loops cost a tenth of a 20 x 20 mm slide's grading."""

    def __init__(self, graded: Sequence[Graded], ungraded: Sequence[Ungraded], n_fine: int) -> None:
        self.sev = np.fromiter((g.severity for g in graded), np.int64, len(graded))
        self.p = np.array([g.p_at_least for g in graded], np.float64).reshape(len(graded), n_fine)
        self.cells = np.fromiter((g.cells for g in graded), np.int64, len(graded))
        self.area = np.fromiter((g.area_um2 for g in graded), np.float64, len(graded))
        self.unsettled = np.fromiter((not g.settled for g in graded), bool, len(graded))
        self.reach = np.fromiter((u.reach for u in ungraded), np.int64, len(ungraded))
        self.u_area = np.fromiter((u.area_um2 for u in ungraded), np.float64, len(ungraded))
        unread = [u for u in ungraded if not u.awaiting]
        self.unread_reach = np.fromiter((u.reach for u in unread), np.int64, len(unread))
        self.unread_cells = np.fromiter((u.est_cells for u in unread), np.int64, len(unread))


def _tally(a: _Arrays, k: int, pool: int, rule: SlideRuleConfig, fine: Sequence[str], could: bool = True) -> Tally:
    """The graded regions' tally for category ``k``. A region whose count is unsettled is a group in the
    completion that bounds: for ``could`` (hold) where it would be evidence, for must-hold where it would not
    (a group that is evidence adds as much evidence as it adds to the gradable groups and the pool)."""
    cat, base = fine[k], fine[pool]
    graded_k = (a.sev >= k) & (a.p[:, k] >= rule.min_confidence.get(cat, 0.5))
    grad = a.cells >= rule.min_cells
    if a.unsettled.any():
        grad = np.where(a.unsettled, graded_k if could else ~graded_k, grad)
    ev = grad & graded_k
    in_pool = grad & (a.sev >= pool) & (a.p[:, pool] >= rule.min_confidence.get(base, 0.5))
    sure = ev & (a.p[:, k] >= rule.single_confidence) & (a.area >= rule.single_min_area_um2)
    return Tally(int(ev.sum()), float(a.area[ev].sum()), int(sure.sum()), int(grad.sum()), int(in_pool.sum()))


def _most(a: _Arrays, k: int, under: Undergrade, large_only: float = 0.0) -> int:
    reach = a.reach[a.u_area >= large_only] if large_only > 0 else a.reach
    if not len(reach):
        return 0
    values, counts = np.unique(reach, return_counts=True)
    return sum(under.most(int(n), int(r), k) for r, n in zip(values, counts))


def _least_groups(a: _Arrays, under: Undergrade, min_cells: int) -> int:
    """How many unread regions are gradable groups at the least: per stage-1 grade, the lower of the bound
    from the regions of that grade read (``Undergrade.least_groups``) and those stage 1's own estimate makes
    groups, so that the stage-1 grades and counts the unread regions keep are within the bound too."""
    total = 0
    for r in np.unique(a.unread_reach):
        mine = a.unread_reach == r
        by_estimate = int((a.unread_cells[mine] >= min_cells).sum())
        total += min(under.least_groups(int(mine.sum()), int(r)), by_estimate)
    return total


def _in_pool(k: int, pool: int, rule: SlideRuleConfig, fine: Sequence[str]) -> bool:
    """Whether evidence for ``k`` is always in its sibling pool too (graded worse than the pool's grade, with
    a confidence the pool accepts): then each region that becomes evidence joins the pool as well, and a
    share of the pool is no easier to reach than that."""
    return pool < k and rule.min_confidence.get(fine[pool], 0.5) <= rule.min_confidence.get(fine[k], 0.5)


def decide(
    graded: Sequence[Graded],
    ungraded: Sequence[Ungraded],
    fine: Sequence[str],
    pools: Sequence[int],
    rule: SlideRuleConfig,
    adequacy: AdequacyConfig,
    under: Undergrade,
) -> Verdict | None:
    """The slide's category and adequacy if no completion of ``ungraded`` within the under-grade bounds can
    change them, else None. ``fine``: the fine grades, least severe first; ``pools[k]``: the index of the
    least severe fine grade of grade k's coarse grade."""
    n_un = len(ungraded)
    arr = _Arrays(graded, ungraded, len(fine))
    n_ok = int((~arr.unsettled & (arr.cells >= adequacy.adequate_count)).sum())
    if n_ok >= adequacy.min_groups:
        adequate = True
    elif n_ok + int(arr.unsettled.sum()) + n_un < adequacy.min_groups:
        adequate = False
    else:
        return None
    areas = np.sort(arr.u_area)[::-1]
    floor = _least_groups(arr, under, rule.min_cells)  # unread regions that are gradable groups, at the least
    for k in range(len(fine) - 1, 0, -1):
        t = _tally(arr, k, pools[k], rule, fine)
        m = _most(arr, k, under)
        m_sure = _most(arr, k, under, large_only=rule.single_min_area_um2)
        could = Tally(
            t.n_evidence + m,
            t.area_um2 + float(areas[:m].sum()),
            t.n_sure + m_sure,
            t.n_gradable + max(m, floor),
            t.n_pool + (m if _in_pool(k, pools[k], rule, fine) else 0),
        )
        if (t.n_evidence + m) == 0 or holds(fine[k], could, rule) is None:
            continue
        m_pool = _most(arr, pools[k], under) if pools[k] < k else 0
        if arr.unsettled.any():
            t = _tally(arr, k, pools[k], rule, fine, could=False)
        must = Tally(t.n_evidence, t.area_um2, t.n_sure, t.n_gradable + n_un, t.n_pool + m_pool)
        if t.n_evidence and holds(fine[k], must, rule) is not None:
            return Verdict(
                k,
                adequate,
                (
                    f"{fine[k]} holds on {t.n_evidence} evidence regions even if all {n_un} ungraded regions were "
                    f"gradable groups{f' and {m_pool} joined the {fine[pools[k]]} pool' if m_pool else ''}, and no "
                    f"more severe category can hold"
                ),
            )
        return None
    groups = f", and at least {floor} of them gradable groups as of those read" if floor else ""
    return Verdict(
        None,
        adequate,
        (
            f"no category above {fine[0]} can hold whatever the {n_un} ungraded regions show (under-grading bounded "
            f"at the {under.confidence:g} quantile{GIVEN_PRIOR if under.priors else ''}{groups}), "
            f"and adequacy is settled ({n_ok} adequate groups graded)"
        ),
    )


__all__ = ["Graded", "Ungraded", "Verdict", "decide"]
