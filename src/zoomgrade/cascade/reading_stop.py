"""The high-power pass's early stop, as it reads: which regions are graded, which are not, and whether the
slide's answer is decided (the rule itself: ``early_stop.decide``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..labels import LabelSet
from ..types import Region, RegionGrade
from .config import GradeConfig
from .decision import pool_grade, resolved
from .early_stop import (
    Graded,
    Ungraded,
    Verdict,
    decide,
    reach_of,
    undergrade_from_config,
)
from .outcome import Outcome


@dataclass
class Reading:
    """What the result records of the high-power pass's reading (result.json ``reading``)."""

    early_stop: bool  # the rule was on
    stopped: bool  # reading stopped before every region was read
    regions: int  # regions stage 1 found
    read: int  # regions read at high power by stage 2
    unread: int  # regions left with their stage-1 grade by the early stop
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "early_stop": self.early_stop,
            "stopped": self.stopped,
            "regions": self.regions,
            "read": self.read,
            "unread": self.unread,
            "reason": self.reason,
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
        self.unread = {i: Ungraded(reach_of(r.coarse_grade, labels), float(r.area_um2)) for i, r in enumerate(regions)}
        self.reach = {i: u.reach for i, u in self.unread.items()}
        self.seen: dict[tuple[int, int], list[int]] = {}  # (reach, grade) -> [graded, evidence] on this slide
        self.graded: dict[int, Graded] = {}
        self.pending: dict[int, Ungraded] = {}
        self.verdict: Verdict | None = None

    def graded_as(self, order: int, g: RegionGrade) -> None:
        self.unread.pop(order, None)
        p = np.asarray(g.fine_probs, dtype=np.float64)
        at_least = tuple(float(x) for x in np.cumsum(p[::-1])[::-1])
        sev = self.labels.fine_index(g.fine_grade)
        self.graded[order] = Graded(sev, at_least, int(g.region.cells), float(g.region.area_um2))
        rule, reach = self.rule, self.reach[order]
        for k in range(reach + 1, len(self.fine)):  # how this slide's stage 1 under-grades, so far
            tally = self.seen.setdefault((reach, k), [0, 0])
            tally[0] += 1
            tally[1] += (
                sev >= k
                and at_least[k] >= rule.min_confidence.get(self.fine[k], 0.5)
                and g.region.cells >= rule.min_cells
            )

    def awaits_fallback(self, order: int, region: Region) -> None:
        """Read, but the fallback decides it: any grade is possible."""
        self.unread.pop(order, None)
        self.pending[order] = Ungraded(self.top, float(region.area_um2))

    def dismissed(self, order: int) -> None:
        self.unread.pop(order, None)

    def check(self) -> Verdict | None:
        if not self.unread:
            return None  # nothing left to save
        under = dataclasses.replace(self.under, seen={k: (v[0], v[1]) for k, v in self.seen.items()})
        self.verdict = decide(
            list(self.graded.values()),
            [*self.unread.values(), *self.pending.values()],
            self.fine,
            self.pools,
            self.rule,
            self.cfg.adequacy,
            under,
        )
        return self.verdict


def reading_record(decisions: list[Any], stop: ReadingStop | None) -> Reading:
    """The result's ``reading`` record from stage 2's decisions (``Stage2Decision``) and the early stop."""
    kinds = [d.outcome.kind for d in decisions]
    unread = sum(1 for k in kinds if k is Outcome.UNREAD)
    read = sum(1 for k in kinds if k not in (Outcome.UNREAD, Outcome.OVER_BUDGET))
    if stop is None:
        why = "early stop off (early_stop.enabled = false): every region read"
    elif unread:
        why = stop.verdict.reason if stop.verdict is not None else "decided"
    else:
        why = "every region read: the slide's answer was open until the last ones"
    return Reading(stop is not None, unread > 0, len(decisions), read, unread, why)
