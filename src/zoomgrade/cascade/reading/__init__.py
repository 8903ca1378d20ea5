"""Reading at high power, the only threads of the cascade: readers (``Reader``), read-ahead hints
(``hint_ahead``, ``PlanAhead``), and reading overlapped with batched inference (``read_and_grade``)."""

from .batches import Graded, Read, grade_batch, read_and_grade, read_and_grade_high_power
from .hints import PLAN_AHEAD, PlanAhead, hint_ahead, slide_hinter
from .reader import Reader, fit

__all__ = [
    "PLAN_AHEAD",
    "Graded",
    "PlanAhead",
    "Read",
    "Reader",
    "fit",
    "grade_batch",
    "hint_ahead",
    "read_and_grade",
    "read_and_grade_high_power",
    "slide_hinter",
]
