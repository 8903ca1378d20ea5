"""``zoomgrade data check``: what is wrong with a folder (or CSV manifest) of annotated slides before
any training or evaluation reads it.

Problems (the check fails, exit 1): a slide without annotations (no GeoJSON beside it, an unreadable
one, or none of its objects carries a grade of the label set), a classification name the label set
lacks, a polygon outside the slide or invalid, a slide that does not open, a slide-level category the
label set lacks. Facts: per-class counts (polygons per fine grade, per split), slide categories.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import box

from ..annotations import load_annotations
from ..errors import ZoomgradeError
from ..labels import LabelSet
from .datasets import SLIDE_SUFFIXES, SlideItem, find_slides

#: a polygon may overhang the slide's edge by this fraction of its area (QuPath's brush stops at
#: the edge; a little rounding is not a mistake)
OUTSIDE_TOLERANCE = 0.01


@dataclass
class Problem:
    kind: str  # no_annotations | unknown_class | outside_slide | invalid_polygon | unreadable | unknown_category
    slide: str
    detail: str


@dataclass
class DataReport:
    source: str
    n_slides: int
    class_counts: dict[str, int]  # fine grade -> polygons, over every slide
    split_counts: dict[str, dict[str, int]]  # split -> fine grade -> polygons
    categories: dict[str, int]  # slide-level category -> slides (None: "unknown")
    unknown_classes: dict[str, int]  # classification names the label set lacks -> polygons
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "n_slides": self.n_slides,
            "class_counts": self.class_counts,
            "split_counts": self.split_counts,
            "categories": self.categories,
            "unknown_classes": self.unknown_classes,
            "problems": [{"kind": p.kind, "slide": p.slide, "detail": p.detail} for p in self.problems],
        }


def _items(source: Path) -> tuple[list[SlideItem], list[Problem]]:
    """The slides to check, and the slides of a folder that have no GeoJSON beside them at all."""
    if source.is_dir():
        bare = [
            Problem("no_annotations", p.name, "no .geojson beside it")
            for p in sorted(source.iterdir())
            if p.suffix.lower() in SLIDE_SUFFIXES and not p.with_suffix(".geojson").exists()
        ]
        try:
            return find_slides(source), bare
        except ZoomgradeError:
            if bare:
                return [], bare
            raise
    return find_slides(source), []


def check_data(source: str | Path, labels: LabelSet) -> DataReport:
    """Check every slide of ``source`` (folder or CSV manifest) against ``labels``."""
    from ..slide import open_slide

    src = Path(source)
    items, problems = _items(src)
    counts: Counter[str] = Counter()
    splits: dict[str, Counter[str]] = {}
    unknown: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    for it in items:
        name = it.slide.name
        cats[it.category or "unknown"] += 1
        if it.category and it.category not in labels.category_names:
            problems.append(
                Problem(
                    "unknown_category",
                    name,
                    f"slide category {it.category!r} is not in {labels.name} ({', '.join(labels.category_names)})",
                )
            )
        try:
            anns = load_annotations(it.geojson)
        except ZoomgradeError as err:
            problems.append(Problem("no_annotations", name, str(err)))
            continue
        try:
            with open_slide(it.slide) as slide:
                extent = box(0, 0, *slide.dimensions)
        except ZoomgradeError as err:
            problems.append(Problem("unreadable", name, str(err)))
            extent = None
        graded = 0
        for k, a in enumerate(anns):
            if a.label not in labels.fine:
                unknown[a.label] += 1
                problems.append(
                    Problem(
                        "unknown_class",
                        name,
                        f"object {k}: classification {a.label!r} is not a "
                        f"grade of {labels.name} ({', '.join(labels.fine)})",
                    )
                )
                continue
            graded += 1
            counts[a.label] += 1
            splits.setdefault(it.split or "unsplit", Counter())[a.label] += 1
            if not a.geometry.is_valid:
                problems.append(
                    Problem("invalid_polygon", name, f"object {k} ({a.label}): invalid polygon (self-intersecting?)")
                )
            elif (
                extent is not None
                and a.geometry.area > 0
                and a.geometry.difference(extent).area > OUTSIDE_TOLERANCE * a.geometry.area
            ):
                x0, y0, x1, y1 = (round(v) for v in a.geometry.bounds)
                problems.append(
                    Problem(
                        "outside_slide",
                        name,
                        f"object {k} ({a.label}): polygon bounds "
                        f"({x0}, {y0})-({x1}, {y1}) px outside the slide "
                        f"{int(extent.bounds[2])}x{int(extent.bounds[3])} px",
                    )
                )
        if graded == 0:
            problems.append(
                Problem("no_annotations", name, f"{it.geojson.name}: no object classified as a grade of {labels.name}")
            )
    return DataReport(
        str(src),
        len(items) + sum(p.kind == "no_annotations" and p.detail == "no .geojson beside it" for p in problems),
        {g: counts[g] for g in labels.fine},
        {s: {g: c[g] for g in labels.fine} for s, c in sorted(splits.items())},
        dict(sorted(cats.items())),
        dict(unknown),
        problems,
    )
