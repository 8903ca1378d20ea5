"""What every pass of one grading run shares, in one typed place: ``PassContext`` (the slide, the models,
the config, the label set, the cost record, the high-power budget, progress), and the faces of the slide
and the models the passes rely on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..labels import LabelSet
from ..slide.info import SlideInfo
from ..types import CostRecord
from .config import GradeConfig
from .decision import Budget

if TYPE_CHECKING:  # pragma: no cover
    from ..models.runners import Stage1Maps

Box = tuple[int, int, int, int]  # x, y, w, h in level-0 pixels
#: progress(stage, done, total): told as items of a pass complete.
Progress = Callable[[str, int, int], None]


class SlideLike(Protocol):
    """What the passes read from: a ``zoomgrade.slide.Slide``, or anything with these (tests wrap one)."""

    mpp: float
    dimensions: tuple[int, int]

    def read_region(self, x: int, y: int, w: int, h: int, mpp: float) -> NDArray[np.uint8]: ...

    def thumbnail(self, mpp: float | None = None, max_size: int = 1024, *, workers: int = 1) -> NDArray[np.uint8]: ...

    def info(self) -> SlideInfo: ...


class Stage1Model(Protocol):
    """Low power: the whole slide's image -> maps (``zoomgrade.models.runners.Stage1Runner``)."""

    card: Any

    def predict(self, image: NDArray[np.uint8]) -> Stage1Maps: ...


class Stage2Model(Protocol):
    """High power: (N, H, W, 3) uint8 -> (N, n_fine + 1) probabilities (``Stage2Runner``)."""

    card: Any

    def predict(self, images: NDArray[np.uint8]) -> NDArray[np.floating]: ...


@dataclass
class PassContext:
    """One slide's grading run, as every pass sees it."""

    slide: SlideLike
    cfg: GradeConfig
    labels: LabelSet
    stage1: Stage1Model | None = None
    stage2: Stage2Model | None = None
    window_px: int = 0  # side of a high-power window (fallback patch, baseline tile) at its mpp
    cost: CostRecord = field(default_factory=CostRecord)
    budget: Budget | None = None  # made when the high-power passes start (its clock starts with it)
    progress: Progress | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def low_power_model(self) -> Stage1Model:
        if self.stage1 is None:
            raise ValueError("this pass needs a stage-1 model")
        return self.stage1

    def high_power_model(self) -> Stage2Model:
        if self.stage2 is None or self.window_px <= 0:
            raise ValueError("this pass needs a stage-2 model and a window size")
        return self.stage2

    def high_power_budget(self) -> Budget:
        """The run's budget, started on first use: stage 2 and the fallback share it."""
        if self.budget is None:
            self.budget = Budget(self.cfg.budget, self.cost)
        return self.budget
