"""The label set: fine grades, coarse grades and how they nest.

The method is general; TBSRTC (thyroid FNA) is the default label set. Everything that needs grade
names, colours, severity order or the coarse->fine mapping takes a ``LabelSet`` instead of literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


TBSRTC = LabelSet(
    name="tbsrtc-3",
    fine=("II", "III", "IV", "V", "VI"),
    coarse=("benign", "suspicious_follicular", "malignant"),
    coarse_to_fine={
        "benign": ("II",),
        "suspicious_follicular": ("III", "IV"),
        "malignant": ("V", "VI"),
    },
    nondiagnostic="I",
    category_names={
        "I": "Nondiagnostic",
        "II": "Benign",
        "III": "Atypia of undetermined significance",
        "IV": "Follicular neoplasm",
        "V": "Suspicious for malignancy",
        "VI": "Malignant",
    },
    # TBSRTC 3rd edition (2023), mean risk of malignancy.
    risk_of_malignancy={"I": 0.13, "II": 0.04, "III": 0.22, "IV": 0.30, "V": 0.74, "VI": 0.97},
    colors={
        "I": "#9e9e9e",
        "II": "#2e7d32",
        "III": "#f9a825",
        "IV": "#ef6c00",
        "V": "#c62828",
        "VI": "#6a1b9a",
        "benign": "#2e7d32",
        "suspicious_follicular": "#ef6c00",
        "malignant": "#c62828",
    },
)
