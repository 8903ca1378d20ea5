"""The label set: fine grades, coarse grades and how they nest.

The method is general; TBSRTC (thyroid FNA) is the default label set. Everything that needs grade
names, colours, severity order or the coarse->fine mapping takes a ``LabelSet`` instead of literals.
Label sets are written as TOML files (``zoomgrade/labels/*.toml``, docs/label-sets.md) and read by
``zoomgrade.labels.load_label_set``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabelSet:
    name: str
    #: Fine region grades, least to most severe (stage-2 classes, in this order).
    fine: tuple[str, ...]
    #: Coarse region grades, least to most severe (stage-1 classes, in this order).
    coarse: tuple[str, ...]
    #: coarse grade -> the fine grades it contains.
    coarse_to_fine: dict[str, tuple[str, ...]]
    #: slide category for "not enough material" (adequacy failure).
    nondiagnostic: str
    #: every slide category (nondiagnostic included) -> human name.
    category_names: dict[str, str]
    #: slide category -> risk of malignancy (fraction).
    risk_of_malignancy: dict[str, float]
    #: fine grade / category -> display colour (hex), used by GeoJSON, overlays and reports.
    colors: dict[str, str] = field(default_factory=dict)
    #: Short name shown before a category (e.g. in the overlay's banner); "" = the category alone.
    abbreviation: str = ""
    title: str = ""
    #: The publication the categories and risks come from.
    source: str = ""
    #: The slide rule's defaults per category (``min_count``, ``min_area_um2``, ``min_confidence``,
    #: ``min_share``: fine grade -> value), and the fallback's ``severity_from``; a grading config overrides them.
    slide_rule: dict[str, dict[str, float]] = field(default_factory=dict)
    severity_from: str = ""
    #: Notes per category on where its risk figure comes from (which value of a published range).
    risk_notes: dict[str, str] = field(default_factory=dict)
    #: The published range per category where the source gives one (``risk_of_malignancy`` lies inside).
    risk_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def fine_index(self, grade: str) -> int:
        return self.fine.index(grade)

    def coarse_index(self, grade: str) -> int:
        return self.coarse.index(grade)

    def coarse_of(self, fine: str) -> str:
        for c, fines in self.coarse_to_fine.items():
            if fine in fines:
                return c
        raise KeyError(fine)

    def severity(self, grade: str) -> int:
        """Rank of a fine grade or slide category: higher is more severe; nondiagnostic is -1."""
        if grade == self.nondiagnostic:
            return -1
        return self.fine.index(grade)

    def color_rgb(self, grade: str) -> tuple[int, int, int]:
        h = self.colors.get(grade, "#808080").lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)

    @property
    def categories(self) -> tuple[str, ...]:
        """Every slide category, nondiagnostic first, then the fine grades least to most severe."""
        return (self.nondiagnostic, *self.fine)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (model cards and result.json carry the whole label set)."""
        d = asdict(self)
        d["fine"] = list(self.fine)
        d["coarse"] = list(self.coarse)
        d["coarse_to_fine"] = {k: list(v) for k, v in self.coarse_to_fine.items()}
        return d

    def same_as(self, other: LabelSet) -> bool:
        """Same grades, order, nesting and categories (display names, colours and sources may differ)."""
        return (self.name, self.fine, self.coarse, self.nondiagnostic, self.coarse_to_fine) == (
            other.name,
            other.fine,
            other.coarse,
            other.nondiagnostic,
            other.coarse_to_fine,
        )

    def describe(self) -> str:
        """One line: name and grades, for error messages."""
        return f"{self.name} (fine {', '.join(self.fine)}; coarse {', '.join(self.coarse)})"
