"""The slide's category: the most severe category the slide shows with enough evidence.

For a category C above the least severe fine grade, a region is evidence when it is a group of at least
``min_cells`` cells (as adequacy counts them: a pair of stray nuclei is not a group to grade), it is
graded C or worse, and its fused probability of "C or worse" is at least ``min_confidence[C]``. C holds with at least
``min_count[C]`` evidence regions, and at least ``min_share[C]`` of the slide's gradable groups (those of
``min_cells`` or more), covering at least ``min_area_um2[C]`` together, or with a single region
whose P(C or worse) is at least ``single_confidence`` and whose area is at least ``single_min_area_um2``
(one convincing malignant group outweighs a hundred benign ones; a single doubtful one does not). Where
the share of the gradable groups is more than one region, that many convincing regions are needed.
The share matters on large smears: a grader that misgrades 1% of groups finds five false groups among
five hundred, more than any fixed count asks for, while a slide of that category shows far more.
Counting "C or worse" lets weak evidence of a severe grade still support a less severe category
(a few doubtful malignant groups: suspicious for malignancy).

When no category above the least severe holds: an adequate slide takes the least severe fine grade
(benign); an inadequate one the label set's nondiagnostic category. Atypia overrides inadequacy: a slide
with enough evidence of a category above the least severe is never nondiagnostic. The per-category
thresholds come from the config where it names the category, else from the label set's file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..labels import LabelSet
from ..types import Adequacy, RegionGrade
from .config import SlideRuleConfig


@dataclass
class SlideCategory:
    category: str
    reason: str


def evidence(grades: list[RegionGrade], category: str, labels: LabelSet, min_confidence: float,
             min_cells: int = 0) -> list[tuple[RegionGrade, float]]:
    """Regions of at least ``min_cells`` cells graded ``category`` or worse with P(category or worse) >=
    min_confidence, with that probability."""
    k = labels.fine_index(category)
    out = []
    for g in grades:
        if labels.fine_index(g.fine_grade) < k or g.region.est_cells < min_cells:
            continue
        p = float(np.sum(np.asarray(g.fine_probs)[k:]))
        if p >= min_confidence:
            out.append((g, p))
    return out


def setting(cfg: SlideRuleConfig, labels: LabelSet | None, key: str, cat: str, default: float) -> float:
    """The config's per-category value, else the label set file's (its [slide_rule]), else ``default``."""
    given = getattr(cfg, key)
    if cat in given:
        return given[cat]
    return (labels.slide_rule.get(key, {}) if labels is not None else {}).get(cat, default)


def needed(cat: str, n_gradable: int, cfg: SlideRuleConfig, min_count: int | None = None,
           labels: LabelSet | None = None) -> int:
    """Evidence regions category ``cat`` needs on a slide of ``n_gradable`` gradable groups: the count
    (``min_count[cat]``, or ``min_count``) or the share of the gradable groups, whichever is more."""
    count = setting(cfg, labels, "min_count", cat, 1) if min_count is None else min_count
    return max(int(count), math.ceil(setting(cfg, labels, "min_share", cat, 0.0) * n_gradable - 1e-9))


def slide_category(grades: list[RegionGrade], adequacy: Adequacy, labels: LabelSet, cfg: SlideRuleConfig) -> SlideCategory:
    n_gradable = sum(1 for g in grades if g.region.est_cells >= cfg.min_cells)
    for cat in reversed(labels.fine[1:]):  # most severe first; the least severe fine grade is "benign"
        min_conf = setting(cfg, labels, "min_confidence", cat, 0.5)
        ev = evidence(grades, cat, labels, min_conf, cfg.min_cells)
        if not ev:
            continue
        n_need = needed(cat, n_gradable, cfg, labels=labels)
        a_need = setting(cfg, labels, "min_area_um2", cat, 0.0)
        area = sum(g.region.area_um2 for g, _ in ev)
        if len(ev) >= n_need and area >= a_need:
            return SlideCategory(cat, (
                f"{len(ev)} regions graded {cat} or worse with P >= {min_conf:g}, {area:,.0f} um2 "
                f"(needs {n_need} of {n_gradable} gradable groups and {a_need:,.0f} um2)"))
        # Convincing regions: one is enough where one is at least the share of the gradable groups; on a
        # smear of hundreds of groups a grader's rare confident error is not a convincing group.
        sure = [t for t in ev if t[1] >= cfg.single_confidence and t[0].region.area_um2 >= cfg.single_min_area_um2]
        n_sure = needed(cat, n_gradable, cfg, min_count=1, labels=labels)
        if len(sure) >= n_sure:
            best = max(sure, key=lambda t: t[1])
            if n_sure == 1:
                return SlideCategory(cat, (
                    f"one region graded {best[0].fine_grade} with P({cat} or worse) = {best[1]:.2f} "
                    f">= {cfg.single_confidence:g}, {best[0].region.area_um2:,.0f} um2"))
            return SlideCategory(cat, (
                f"{len(sure)} regions graded {cat} or worse with P >= {cfg.single_confidence:g} and "
                f">= {cfg.single_min_area_um2:,.0f} um2 each (needs {n_sure} of {n_gradable} gradable groups)"))
    if adequacy.adequate:
        benign = labels.fine[0]
        return SlideCategory(benign, f"adequate ({adequacy.reason}) and no atypia with enough evidence")
    return SlideCategory(labels.nondiagnostic, f"nondiagnostic: {adequacy.reason}, no atypia with enough evidence")


def counts(grades: list[RegionGrade], labels: LabelSet) -> dict[str, int]:
    """Regions per fine grade (every grade of the label set present, zeros included)."""
    out = dict.fromkeys(labels.fine, 0)
    for g in grades:
        out[g.fine_grade] = out.get(g.fine_grade, 0) + 1
    return out
