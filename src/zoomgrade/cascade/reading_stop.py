"""The high-power pass's early stop, as it reads: which regions are graded, which are not, and whether the
slide's answer is decided (the rule itself: ``early_stop.decide``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..labels import LabelSet
from ..types import Region, RegionGrade
from .config import GradeConfig
from .decision import pool_grade, resolved
from .early_stop import Graded, Ungraded, Verdict, decide
from .measured import table
from .outcome import Outcome
from .recall_bound import RecallCheck, RecallTarget, recall_check
from .undergrade import p_at_least, reach_of, surprises, undergrade_from_config


@dataclass
class Reading:
    """What the result records of the high-power pass's reading (result.json ``reading``)."""

    early_stop: bool  # the rule was on
    stopped: bool  # reading stopped before every region was read
    regions: int  # regions stage 1 found
    read: int  # regions read at high power by stage 2
    unread: int  # regions left with their stage-1 grade by the early stop
    reason: str
    stopped_by: str | None = None  # "category" or "recall": the condition that held last; None: not stopped
    narrowed: int = 0  # regions read from fewer windows (early_stop.recall_windows) once only recall was open
    unsettled: int = 0  # regions read so whose count, scaled up, was not settled against the thresholds

    def to_dict(self) -> dict[str, object]:
        return {
            "early_stop": self.early_stop,
            "stopped": self.stopped,
            "regions": self.regions,
            "read": self.read,
            "unread": self.unread,
            "reason": self.reason,
            "stopped_by": self.stopped_by,
            "narrowed": self.narrowed,
            "unsettled": self.unsettled,
        }


class ReadingStop:
    """Regions keyed by queue order; ``check()`` says whether reading may stop (a ``Verdict``) or not (None)."""

    def __init__(self, regions: list[Region], labels: LabelSet, cfg: GradeConfig) -> None:
        self.cfg, self.labels = cfg, labels
        self.fine = labels.fine
        self.pools = [labels.fine_index(pool_grade(f, labels)) for f in labels.fine]
        self.under = undergrade_from_config(cfg.early_stop, labels)
        self.rule = resolved(cfg.slide_rule, labels)  # per-category values from the config or the label set
        self.top = len(labels.fine) - 1
        self.unread = {
            i: Ungraded(reach_of(r.coarse_grade, labels), float(r.area_um2), int(r.est_cells))
            for i, r in enumerate(regions)
        }
        self.reach = {i: u.reach for i, u in self.unread.items()}
        self.seen: dict[tuple[int, int], list[int]] = {}  # (reach, grade) -> [graded, evidence] on this slide
        self.seen_coarse: dict[tuple[int, int], list[int]] = {}  # (reach, coarse) -> [graded, evidence for any]
        self.graded: dict[int, Graded] = {}
        self.pending: dict[int, Ungraded] = {}
        self.verdict: Verdict | None = None
        # The recall bound (recall_bound.py) in coarse indices: regions of the most severe coarse grade stay
        # marked unread; the others' severe share is sampled from those read.
        es = cfg.early_stop
        priors = {labels.coarse_index(c): ab for c, ab in table(es.recall_prior).items() if c in labels.coarse}
        self.recall = RecallTarget(es.recall, es.recall_confidence, es.recall_slack, priors)
        self.top_coarse = labels.coarse[-1]
        self.severe = {labels.fine_index(f) for f in labels.coarse_to_fine[self.top_coarse]}
        self.coarse = {i: labels.coarse_index(r.coarse_grade) for i, r in enumerate(regions)}
        self.reach_of_coarse = {labels.coarse_index(c): reach_of(c, labels) for c in labels.coarse}
        # coarse index -> [read, graded severe, gradable groups]: the recall bound's sample and the group floor's
        self.sampled: dict[int, list[int]] = {}
        self.found_read = 0
        self.category_decided_at: int | None = None  # regions read when the category was first decided
        self.stopped_by: str | None = None

    def graded_as(self, order: int, g: RegionGrade) -> None:
        """A region read and graded; its count is unsettled (an estimate that may lie on either side of the
        thresholds) where its region says so (``Region.counted_settled``)."""
        self.unread.pop(order, None)
        at_least = p_at_least(g.fine_probs)
        sev = self.labels.fine_index(g.fine_grade)
        cells, settled = int(g.region.cells), g.region.counted_settled
        self.graded[order] = Graded(sev, at_least, cells, float(g.region.area_um2), settled)
        # an unsettled count is taken the way that bounds least: no group for the group floor's sample, and a
        # group for the under-grading tally (the more surprises, the higher the rate)
        self._sampled(order, sev in self.severe, settled and cells >= self.rule.min_cells)
        reach = self.reach[order]
        as_counted = cells if settled else max(cells, self.rule.min_cells)
        by_k, by_coarse = surprises(
            reach, sev, at_least, as_counted, self.rule, self.fine, self.under.coarse_of
        )  # how this slide's stage 1 under-grades, so far
        for k, ev in by_k.items():
            _count(self.seen, (reach, k), ev)
        for c, ev in by_coarse.items():
            _count(self.seen_coarse, (reach, c), ev)

    def awaits_fallback(self, order: int, region: Region) -> None:
        """Read, but the fallback decides it: any grade is possible."""
        self.unread.pop(order, None)
        self.pending[order] = Ungraded(self.top, float(region.area_um2), awaiting=True)

    def dismissed(self, order: int) -> None:
        self.unread.pop(order, None)
        self._sampled(order, False, False)  # read: no group, so no severe one

    def _sampled(self, order: int, severe: bool, group: bool) -> None:
        tally = self.sampled.setdefault(self.coarse[order], [0, 0, 0])
        tally[0] += 1
        tally[1] += severe
        tally[2] += group
        self.found_read += severe

    def recall_now(self) -> RecallCheck:
        top = len(self.labels.coarse) - 1
        unread: dict[int, int] = {}
        for order in self.unread:
            unread[self.coarse[order]] = unread.get(self.coarse[order], 0) + 1
        found = self.found_read + unread.pop(top, 0)  # unread ones called most severe keep such a grade
        seen = {c: (v[0], v[1]) for c, v in self.sampled.items()}
        return recall_check(found, unread, seen, self.recall)

    def check(self) -> Verdict | None:
        if not self.unread:
            return None  # nothing left to save
        if self.category_decided_at is not None and not self.recall_now().holds:
            return None  # the category was decided; the recall bound, the cheaper check, is still open
        under = dataclasses.replace(
            self.under,
            seen={k: (v[0], v[1]) for k, v in self.seen.items()},
            seen_coarse={k: (v[0], v[1]) for k, v in self.seen_coarse.items()},
            groups={self.reach_of_coarse[c]: (v[0], v[2]) for c, v in self.sampled.items()},
        )
        self.verdict = decide(
            list(self.graded.values()),
            [*self.unread.values(), *self.pending.values()],
            self.fine,
            self.pools,
            self.rule,
            self.cfg.adequacy,
            under,
        )
        if self.verdict is None:
            self.category_decided_at = None  # decided before, reopened by a region read since
            return None
        return self._with_recall(self.verdict)

    def _with_recall(self, verdict: Verdict) -> Verdict | None:
        """Both conditions hold: the verdict, its reason naming the one that held last; else None."""
        n_read = len(self.coarse) - len(self.unread)
        if self.recall.target <= 0:
            self.stopped_by = "category"
            self.verdict = dataclasses.replace(verdict, reason=f"the category and adequacy: {verdict.reason}")
            return self.verdict
        rc = self.recall_now()
        severe = "/".join(self.labels.coarse_to_fine[self.top_coarse])
        if not rc.holds:
            if self.category_decided_at is None:
                self.category_decided_at = n_read
            self.verdict = None
            return None
        if self.category_decided_at is not None:
            self.stopped_by = "recall"
            why = (
                f"the recall bound: {rc.describe(self.recall, severe)}; the category and adequacy were decided "
                f"{n_read - self.category_decided_at} regions earlier ({verdict.reason})"
            )
        else:
            self.stopped_by = "category"
            why = (
                f"the category and adequacy: {verdict.reason}; the recall bound held already "
                f"({rc.describe(self.recall, severe)})"
            )
        self.verdict = dataclasses.replace(verdict, reason=why)
        return self.verdict


def _count(tallies: dict[tuple[int, int], list[int]], key: tuple[int, int], hit: bool) -> None:
    tally = tallies.setdefault(key, [0, 0])
    tally[0] += 1
    tally[1] += hit


def reading_record(decisions: list[Any], stop: ReadingStop | None) -> Reading:
    """The result's ``reading`` record from stage 2's decisions (``Stage2Decision``) and the early stop."""
    unread = sum(1 for d in decisions if d.outcome.kind is Outcome.UNREAD)
    was_read = [d for d in decisions if d.outcome.kind not in (Outcome.UNREAD, Outcome.OVER_BUDGET)]
    read, narrowed = len(was_read), sum(1 for d in was_read if d.job.for_recall)
    if stop is None:
        why = "early stop off (early_stop.enabled = false): every region read"
    elif unread:
        why = stop.verdict.reason if stop.verdict is not None else "decided"
    elif stop.category_decided_at is not None:
        why = "every region read: the category was decided, but the recall bound held only with none left unread"
    else:
        why = "every region read: the slide's answer was open until the last ones"
    by = stop.stopped_by if stop is not None and unread else None
    unsettled = sum(1 for d in was_read if d.job.unsettled)
    return Reading(stop is not None, unread > 0, len(decisions), read, unread, why, by, narrowed, unsettled)
