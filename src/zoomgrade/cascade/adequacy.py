"""Adequacy (TBSRTC): enough groups of enough well-preserved follicular cells to grade the slide."""

from __future__ import annotations

from ..types import Adequacy, RegionGrade
from .config import AdequacyConfig


def assess_adequacy(grades: list[RegionGrade], cfg: AdequacyConfig) -> Adequacy:
    """A region is an adequate group when its estimated cell count reaches ``min_cells``; the slide is
    adequate with at least ``min_groups`` of them. (Atypia overrides inadequacy: see ``slide_rule``.)"""
    n = len(grades)
    n_ok = sum(1 for g in grades if g.region.est_cells >= cfg.min_cells)
    adequate = n_ok >= cfg.min_groups
    if adequate:
        reason = f"{n_ok} groups of >= {cfg.min_cells} cells (needs {cfg.min_groups})"
    else:
        reason = f"only {n_ok} of {n} groups hold >= {cfg.min_cells} cells (needs {cfg.min_groups})"
    return Adequacy(adequate, n, n_ok, cfg.min_groups, cfg.min_cells, reason)
