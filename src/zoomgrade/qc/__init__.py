"""Slide quality control and the domain gate: may a slide be graded at all (docs/quality-control.md).

One module per check (``resolution``, ``brightfield``, ``stain``, ``focus``), each returning a ``QcRecord``;
``gate.assess_slide`` runs them after stage 1 with the domain score of the slide and its regions.
"""

from .gate import GateDecision, RegionScore, assess_slide
from .record import QcRecord

__all__ = ["GateDecision", "QcRecord", "RegionScore", "assess_slide"]
