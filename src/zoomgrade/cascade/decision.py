"""The slide decision: adequacy, the slide rule, and when high-power reading must stop (the budget).

Adequacy (TBSRTC): enough groups of enough well-preserved follicular cells to grade the slide.

The slide's category: the most severe category the slide shows with enough evidence.

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

The high-power budget: megapixels read at high power and/or seconds spent in the high-power passes. Once
spent, the regions still queued (the least severe ones: the queue is severity-ordered) are not read; they
keep their stage-1 grade (``outcome.stage1_grade``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..labels import LabelSet
from ..types import CELL_SOURCES, Adequacy, CostRecord, RegionGrade
from .config import AdequacyConfig, BudgetConfig, SlideRuleConfig

#: The cost stages whose pixels are read at high power by the cascade (the budget counts them).
HIGH_POWER_STAGES = ("stage2_read", "fallback")


class Budget:
    """When high-power reading must stop. Its clock starts when it is made (as the high-power passes start)."""

    def __init__(self, cfg: BudgetConfig, cost: CostRecord) -> None:
        self.max_pixels = cfg.high_power_megapixels * 1e6
        self.max_seconds = cfg.seconds
        self.cost = cost
        self.t0 = time.perf_counter()

    @property
    def limited(self) -> bool:
        return self.max_pixels > 0 or self.max_seconds > 0

    def pixels(self) -> int:
        return self.cost.pixels_in(*HIGH_POWER_STAGES)

    def exhausted(self) -> bool:
        if self.max_pixels > 0 and self.pixels() >= self.max_pixels:
            return True
        return self.max_seconds > 0 and time.perf_counter() - self.t0 >= self.max_seconds


def assess_adequacy(grades: list[RegionGrade], cfg: AdequacyConfig) -> Adequacy:
    """A region is an adequate group when its cell count reaches ``min_cells`` plus ``count_margin`` (the
    count's error); the slide is adequate with at least ``min_groups`` of them. (Atypia overrides
    inadequacy: see ``slide_category``.)"""
    n = len(grades)
    by_source: dict[str, int] = dict.fromkeys(CELL_SOURCES, 0)
    for g in grades:
        if g.region.cells >= cfg.adequate_count:
            by_source[g.region.cells_source] += 1
    n_ok = sum(by_source.values())
    adequate = n_ok >= cfg.min_groups
    counted = f", counted at >= {cfg.adequate_count}" if cfg.count_margin else ""
    if adequate:
        reason = f"{n_ok} groups of >= {cfg.min_cells} cells{counted} (needs {cfg.min_groups})"
    else:
        reason = f"only {n_ok} of {n} groups hold >= {cfg.min_cells} cells{counted} (needs {cfg.min_groups})"
    return Adequacy(
        adequate, n, n_ok, cfg.min_groups, cfg.min_cells, reason + _sources(by_source), cfg.count_margin, by_source
    )


#: How the adequacy reason names each count source that is not a high-power count of the whole region.
_SOURCE_WORDS = {
    "scaled": "scaled up from part of the region",
    "area": "estimated from the area (not counted at high power)",
}


def _sources(by_source: dict[str, int]) -> str:
    """Where the adequate groups' counts come from, said whenever not all of them were counted at high
    power: an early stop, a budget or a pass without the count leaves regions with estimates, and a person
    reading "807 groups" should know how many of them were counted."""
    if sum(by_source.values()) == by_source["high-power"]:
        return ""
    parts = [f"{by_source['high-power']} counted at high power"]
    parts += [f"{by_source[s]} {words}" for s, words in _SOURCE_WORDS.items() if by_source[s]]
    return "; of them " + ", ".join(parts)


@dataclass
class SlideCategory:
    category: str
    reason: str


def evidence(
    grades: list[RegionGrade], category: str, labels: LabelSet, min_confidence: float, min_cells: int = 0
) -> list[tuple[RegionGrade, float]]:
    """Regions of at least ``min_cells`` cells graded ``category`` or worse with P(category or worse) >=
    min_confidence, with that probability."""
    k = labels.fine_index(category)
    out: list[tuple[RegionGrade, float]] = []
    for g in grades:
        if labels.fine_index(g.fine_grade) < k or g.region.cells < min_cells:
            continue
        p = float(np.sum(np.asarray(g.fine_probs)[k:]))
        if p >= min_confidence:
            out.append((g, p))
    return out


def setting(cfg: SlideRuleConfig, labels: LabelSet | None, key: str, cat: str, default: float) -> float:
    """The config's per-category value, else the label set file's (its [slide_rule]), else ``default``."""
    given: dict[str, float] = getattr(cfg, key)
    if cat in given:
        return given[cat]
    return float((labels.slide_rule.get(key, {}) if labels is not None else {}).get(cat, default))


def needed(
    cat: str, n_gradable: int, cfg: SlideRuleConfig, min_count: int | None = None, labels: LabelSet | None = None
) -> int:
    """Evidence regions category ``cat`` needs on a slide of ``n_gradable`` gradable groups: the count
    (``min_count[cat]``, or ``min_count``) or the share of the gradable groups, whichever is more."""
    count = setting(cfg, labels, "min_count", cat, 1) if min_count is None else min_count
    return max(int(count), math.ceil(setting(cfg, labels, "min_share", cat, 0.0) * n_gradable - 1e-9))


RULE_TABLES = ("min_count", "min_area_um2", "min_confidence", "min_share", "min_pool_share")
_TABLE_DEFAULTS = {"min_count": 1, "min_area_um2": 0.0, "min_confidence": 0.5, "min_share": 0.0, "min_pool_share": 0.0}


def resolved(cfg: SlideRuleConfig, labels: LabelSet) -> SlideRuleConfig:
    """``cfg`` with every per-category table filled for every graded category of ``labels`` (the config's
    value, else the label set file's, else the default): what the rule and the early stop read."""
    cats = labels.fine[1:]
    tables: dict[str, Any] = {k: {c: setting(cfg, labels, k, c, _TABLE_DEFAULTS[k]) for c in cats} for k in RULE_TABLES}
    return dataclasses.replace(cfg, **tables)


@dataclass(frozen=True)
class Tally:
    """What the rule weighs for one category: its evidence regions, their area, the convincing ones among
    them, the slide's gradable groups, and the evidence for the least severe grade of the category's coarse
    grade (the sibling pool; equal to ``n_evidence`` for that grade itself)."""

    n_evidence: int
    area_um2: float
    n_sure: int
    n_gradable: int
    n_pool: int


def tally(grades: list[RegionGrade], cat: str, labels: LabelSet, cfg: SlideRuleConfig) -> Tally:
    """``cfg``: a ``resolved`` config."""
    ev = evidence(grades, cat, labels, cfg.min_confidence.get(cat, 0.5), cfg.min_cells)
    sure = sum(1 for g, p in ev if p >= cfg.single_confidence and g.region.area_um2 >= cfg.single_min_area_um2)
    base = pool_grade(cat, labels)
    pool = ev if base == cat else evidence(grades, base, labels, cfg.min_confidence.get(base, 0.5), cfg.min_cells)
    n_gradable = sum(1 for g in grades if g.region.cells >= cfg.min_cells)
    return Tally(len(ev), sum(g.region.area_um2 for g, _ in ev), sure, n_gradable, len(pool))


def pool_grade(cat: str, labels: LabelSet) -> str:
    """The least severe fine grade of ``cat``'s coarse grade: stage 2 tells the grades of one coarse grade
    apart with its largest errors (V from VI, III from IV), so ``cat`` is weighed against that pool."""
    return labels.coarse_to_fine[labels.coarse_of(cat)][0]


def holds(cat: str, t: Tally, cfg: SlideRuleConfig) -> str | None:
    """Which path makes ``cat`` hold on tally ``t`` ("count", "single") or None (``cfg``: ``resolved``).
    Monotone: more evidence, area or convincing regions never make it fail; more gradable groups or a larger
    pool never make it hold (the early stop's bounds rely on this, ``cascade/early_stop.py``)."""
    if t.n_evidence < cfg.min_pool_share.get(cat, 0.0) * max(t.n_pool, t.n_evidence):
        return None
    if t.n_evidence >= needed(cat, t.n_gradable, cfg) and t.area_um2 >= cfg.min_area_um2.get(cat, 0.0):
        return "count"
    if t.n_sure >= needed(cat, t.n_gradable, cfg, min_count=1):
        return "single"
    return None


def slide_category(
    grades: list[RegionGrade], adequacy: Adequacy, labels: LabelSet, cfg: SlideRuleConfig
) -> SlideCategory:
    cfg = resolved(cfg, labels)
    for cat in reversed(labels.fine[1:]):  # most severe first; the least severe fine grade is "benign"
        t = tally(grades, cat, labels, cfg)
        path = holds(cat, t, cfg) if t.n_evidence else None
        if path is None:
            continue
        min_conf = cfg.min_confidence.get(cat, 0.5)
        base = pool_grade(cat, labels)
        pool = (
            f", {t.n_evidence} of the {t.n_pool} regions graded {base} or worse"
            if base != cat and cfg.min_pool_share.get(cat, 0.0) > 0
            else ""
        )
        if path == "count":
            return SlideCategory(
                cat,
                (
                    f"{t.n_evidence} regions graded {cat} or worse with P >= {min_conf:g}, {t.area_um2:,.0f} um2 "
                    f"(needs {needed(cat, t.n_gradable, cfg)} of {t.n_gradable} gradable groups and "
                    f"{cfg.min_area_um2.get(cat, 0.0):,.0f} um2){pool}"
                ),
            )
        # Convincing regions: one is enough where one is at least the share of the gradable groups; on a
        # smear of hundreds of groups a grader's rare confident error is not a convincing group.
        n_sure = needed(cat, t.n_gradable, cfg, min_count=1)
        if n_sure == 1:
            ev = evidence(grades, cat, labels, min_conf, cfg.min_cells)
            best = max(
                (e for e in ev if e[1] >= cfg.single_confidence and e[0].region.area_um2 >= cfg.single_min_area_um2),
                key=lambda e: e[1],
            )
            return SlideCategory(
                cat,
                (
                    f"one region graded {best[0].fine_grade} with P({cat} or worse) = {best[1]:.2f} "
                    f">= {cfg.single_confidence:g}, {best[0].region.area_um2:,.0f} um2{pool}"
                ),
            )
        return SlideCategory(
            cat,
            (
                f"{t.n_sure} regions graded {cat} or worse with P >= {cfg.single_confidence:g} and "
                f">= {cfg.single_min_area_um2:,.0f} um2 each (needs {n_sure} of {t.n_gradable} gradable groups){pool}"
            ),
        )
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
