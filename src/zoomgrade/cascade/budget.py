"""The high-power budget: megapixels read at high power and/or seconds spent in the high-power passes.

Once spent, the regions still queued (the least severe ones: the queue is severity-ordered) are not read;
they keep their stage-1 grade and are marked ``decided_by="stage1-budget"``.
"""

from __future__ import annotations

import time

import numpy as np

from ..labels import LabelSet
from ..types import DecidedBy, Region, RegionGrade
from .config import BudgetConfig
from .fusion import coarse_prior
from .windows import Reader


class Budget:
    def __init__(self, cfg: BudgetConfig) -> None:
        self.max_pixels = cfg.high_power_megapixels * 1e6
        self.max_seconds = cfg.seconds
        self.t0 = time.perf_counter()
        self.readers: list[Reader] = []

    @property
    def limited(self) -> bool:
        return self.max_pixels > 0 or self.max_seconds > 0

    def pixels(self) -> int:
        return sum(r.pixels for r in self.readers)

    def exhausted(self) -> bool:
        if self.max_pixels > 0 and self.pixels() >= self.max_pixels:
            return True
        return self.max_seconds > 0 and time.perf_counter() - self.t0 >= self.max_seconds


def stage1_grade(region: Region, labels: LabelSet, order: int, floor: float,
                 decided_by: DecidedBy = "stage1-budget") -> RegionGrade:
    """A region that keeps its stage-1 grade: the prior over the fine grades, and the least severe fine
    grade of its coarse grade (a low-power guess never claims more than the coarse grade says).
    ``decided_by``: why it was not read ("stage1-budget", or "stage1-early-stop")."""
    prior = coarse_prior(region.coarse_probs, labels, floor)
    fine = labels.coarse_to_fine[region.coarse_grade][0]
    return RegionGrade(region=region, fine_grade=fine, confidence=float(np.max(prior)), fine_probs=prior,
                       stage2_probs=None, decided_by=decided_by, order=order)
