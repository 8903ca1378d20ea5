"""Scoring graded regions against a slide's truth, and the low-power-only ablation.

Scoring (the same for every mode): each truth group (``OUT.geojson``) takes the fine grade of the region
that overlaps it most ("missed" when none does); regions that overlap no truth group are false alarms
(true label "none"). From these pairs: per-class F1 over the fine grades and their macro mean, and the
recall of the V/VI groups (a V/VI group is recalled when any region graded V or VI overlaps it).

Ablation: grade from low power alone. Stage 1 runs as in the cascade; each region gets a fine grade by a
fixed coarse -> fine map, with the stage-1 coarse probability as its confidence; adequacy and the slide
rule are the cascade's own. Two maps: the product's (``cascade.outcome.stage1_grade``: the least severe
fine grade of the coarse grade) and the best constant map for the benchmark's own truth (each coarse
grade -> its most frequent fine grade among the truth groups), an upper bound for any fixed map.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from shapely import STRtree

from ..annotations import Annotation, load_annotations
from ..labels import LabelSet
from ..types import CostRecord, Region, RegionGrade

MISSED, NONE = "missed", "none"


@dataclass
class ModeScore:
    pairs: list[tuple[str, str]]  # (truth, predicted) per truth group, then ("none", grade) per false alarm
    vvi_recalled: list[bool]  # per truth V/VI group

    def to_dict(self, labels: LabelSet) -> dict[str, Any]:
        return {
            "macro_f1": macro_f1(self.pairs, labels.fine),
            "vvi_groups": len(self.vvi_recalled),
            "vvi_recalled": int(sum(self.vvi_recalled)),
            "vvi_recall": recall(self.vvi_recalled),
            "false_alarms": sum(1 for t, _ in self.pairs if t == NONE),
            "missed": sum(1 for _, p in self.pairs if p == MISSED),
        }


def truth_groups(slide_path: str | Path) -> list[Annotation]:
    from ..synth import truth_paths

    return load_annotations(truth_paths(slide_path)[0])


def score_regions(groups: list[Annotation], regions: list[RegionGrade], labels: LabelSet) -> ModeScore:
    severe = {labels.fine[-2], labels.fine[-1]}  # V and VI in TBSRTC: the two most severe fine grades
    polys = [rg.region.polygon for rg in regions]
    tree = STRtree(polys) if polys else None
    pairs: list[tuple[str, str]] = []
    vvi: list[bool] = []
    touched: set[int] = set()
    for g in groups:
        hits = [] if tree is None else [int(i) for i in tree.query(g.geometry, predicate="intersects")]
        areas = [(polys[i].intersection(g.geometry).area, i) for i in hits]
        areas = [(a, i) for a, i in areas if a > 0]
        touched.update(i for _, i in areas)
        pairs.append((g.label, regions[max(areas)[1]].fine_grade if areas else MISSED))
        if g.label in severe:
            vvi.append(any(regions[i].fine_grade in severe for _, i in areas))
    pairs += [(NONE, rg.fine_grade) for i, rg in enumerate(regions) if i not in touched]
    return ModeScore(pairs, vvi)


def f1_per_class(pairs: list[tuple[str, str]], classes: tuple[str, ...]) -> dict[str, float | None]:
    """F1 of each class; None for a class absent from both truth and predictions."""
    out: dict[str, float | None] = {}
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        out[c] = None if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    return out


def macro_f1(pairs: list[tuple[str, str]], classes: tuple[str, ...]) -> float | None:
    vals = [v for v in f1_per_class(pairs, classes).values() if v is not None]
    return float(np.mean(vals)) if vals else None


def groups_found(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``groups``: truth groups among ``pairs``; ``groups_found``: the fraction some region overlaps."""
    truth = [p for t, p in pairs if t != NONE]
    return {"groups": len(truth), "groups_found": recall([p != MISSED for p in truth])}


def recall(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def relative_recall(cascade: list[bool], exhaustive: list[bool]) -> float | None:
    """Of the truth V/VI groups the exhaustive baseline recalled, the fraction the cascade recalled too."""
    both = [c for c, e in zip(cascade, exhaustive) if e]
    return recall(both)


# -- the low-power-only ablation ---------------------------------------------------------------------
def product_map(labels: LabelSet) -> dict[str, str]:
    return {c: fines[0] for c, fines in labels.coarse_to_fine.items()}


def best_constant_map(groups: list[Annotation], labels: LabelSet) -> dict[str, str]:
    """Each coarse grade -> the fine grade most frequent among truth groups of that coarse grade."""
    seen = Counter(g.label for g in groups if g.label in labels.fine)
    return {c: max(fines, key=lambda f: (seen[f], -labels.fine_index(f))) for c, fines in labels.coarse_to_fine.items()}


def low_power_grades(regions: list[Region], mapping: dict[str, str], labels: LabelSet) -> list[RegionGrade]:
    """Each region's fine grade from its stage-1 coarse grade alone (its coarse probabilities moved onto
    the mapped fine grades)."""
    out = []
    for k, r in enumerate(regions):
        probs = np.zeros(len(labels.fine))
        for ci, c in enumerate(labels.coarse):
            probs[labels.fine_index(mapping[c])] += float(r.coarse_probs[ci])
        fine = mapping[r.coarse_grade]
        out.append(
            RegionGrade(
                region=r,
                fine_grade=fine,
                confidence=float(probs[labels.fine_index(fine)]),
                fine_probs=probs,
                stage2_probs=None,
                decided_by="stage1-budget",
                order=k,
            )
        )
    return out


def stage1_regions(slide: Any, stage1: Any, cfg: Any, labels: LabelSet) -> list[Region]:
    from ..cascade.context import PassContext
    from ..cascade.stage1 import run_stage1

    return run_stage1(PassContext(slide, cfg, labels, stage1)).regions


def ablation_category(slide: Any, grades: list[RegionGrade], cfg: Any, labels: LabelSet) -> str | None:
    """The slide category the cascade's own adequacy check and slide rule give these grades (None: withheld)."""
    from ..cascade.grade import build_result

    return build_result(slide, "cascade", grades, cfg, labels, CostRecord(), {}, {}, []).category
