"""mode="both": how the cascade's answer compares with the exhaustive baseline's on the same slide."""

from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import Point, Polygon, box
from shapely.prepared import prep

from ..labels import LabelSet
from ..types import SlideResult
from .config import GradeConfig
from .exhaustive import ExhaustiveOutput
from .patch_rule import vote


def high_power_pixels(result: SlideResult) -> int:
    """Pixels read by the high-power passes (stage 2 + fallback, or the exhaustive tiles)."""
    names = ("stage2_read", "fallback") if result.mode == "cascade" else ("exhaustive_read",)
    return int(sum(result.cost.stages[n].pixels for n in names if n in result.cost.stages))


def summary(result: SlideResult) -> dict[str, Any]:
    return {
        "category": result.category,
        "category_reason": result.category_reason,
        "adequate": result.adequacy.adequate,
        "n_adequate_groups": int(result.adequacy.n_adequate_groups),
        "counts": dict(result.counts),
        "n_regions": len(result.regions),
        "cost": result.cost.to_dict(),
    }


def compare(
    cascade: SlideResult, exhaustive: SlideResult, ex_out: ExhaustiveOutput, labels: LabelSet, cfg: GradeConfig
) -> dict[str, Any]:
    """The record stored in ``SlideResult.comparison``: the exhaustive summary, slide-category agreement,
    and per cascade region the grade the exhaustive tiles inside it give (tiles whose centre lies in the
    region, decided by the same patch rule), with the agreement rate over regions that have such tiles."""
    plan, probs = ex_out.plan, ex_out.probs
    centres = [Point(x + w / 2.0, y + h / 2.0) for x, y, w, h in plan.boxes]
    per_region: list[dict[str, Any]] = []
    n_cmp = n_agree = 0
    for rg in cascade.regions:
        pp = prep(rg.region.polygon)
        idx = [i for i, c in enumerate(centres) if pp.contains(c) and not np.isnan(probs[i]).any()]
        if not idx:  # a small region may hold no tile centre: use the tiles that touch it
            idx = [i for i, b in enumerate(plan.boxes) if pp.intersects(_box(b)) and not np.isnan(probs[i]).any()]
        ex_grade = None
        if idx:
            ex_grade = vote(probs[idx], labels, cfg, tiles=True).grade
        agree = None if ex_grade is None else ex_grade == rg.fine_grade
        if agree is not None:
            n_cmp += 1
            n_agree += int(agree)
        per_region.append(
            {
                "id": rg.region.id,
                "cascade_grade": rg.fine_grade,
                "exhaustive_grade": ex_grade,
                "n_tiles": len(idx),
                "agree": agree,
            }
        )
    hp_c, hp_e = high_power_pixels(cascade), high_power_pixels(exhaustive)
    return {
        "exhaustive": summary(exhaustive),
        "category_agreement": cascade.category == exhaustive.category,
        "regions": per_region,
        "region_agreement": (n_agree / n_cmp) if n_cmp else None,
        "regions_compared": n_cmp,
        "high_power_pixels": {"cascade": hp_c, "exhaustive": hp_e, "ratio": (hp_c / hp_e) if hp_e else None},
        "seconds": {"cascade": float(cascade.cost.wall_seconds), "exhaustive": float(exhaustive.cost.wall_seconds)},
    }


def _box(b: tuple[int, int, int, int]) -> Polygon:
    x, y, w, h = b
    return box(x, y, x + w, y + h)
