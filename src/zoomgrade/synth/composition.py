"""The slide category mix: how many follicular groups of each fine category a slide holds, and the
truth rule that turns a slide's groups back into its TBSRTC category."""

from __future__ import annotations

import numpy as np

from ..labels import TBSRTC

CATEGORIES = ("I", "II", "III", "IV", "V", "VI")
ADEQUATE_CELLS = 10  # TBSRTC adequacy: >= 6 groups of >= 10 well-preserved follicular cells
ADEQUATE_GROUPS = 6
GRADABLE_CELLS = 15  # a group that can carry a grade
KEY_GROUPS = 3  # groups of one category needed to call the slide that category

RULE = (
    "I if fewer than 6 groups have >= 10 cells and no group is atypical (III-VI); otherwise the most "
    "severe fine category (III-VI) held by >= 3 groups of >= 15 cells; otherwise II"
)

#: Density of follicular groups per mm^2 of slide (a 4 x 4 mm slide holds ~10-40 groups).
_GROUPS_PER_MM2 = (0.65, 1.9)


def slide_category(groups: list[tuple[str, int]]) -> str:
    """Apply ``RULE`` to (fine category, cell count) pairs."""
    atypical = any(TBSRTC.severity(f) > 0 for f, _ in groups)
    adequate = sum(1 for _, n in groups if n >= ADEQUATE_CELLS)
    if adequate < ADEQUATE_GROUPS and not atypical:
        return "I"
    for fine in reversed(TBSRTC.fine[1:]):
        if sum(1 for f, n in groups if f == fine and n >= GRADABLE_CELLS) >= KEY_GROUPS:
            return fine
    return "II"


def _sizes(rng: np.random.Generator, k: int, lo: int, hi: int) -> list[int]:
    """Cell counts, log-uniform between lo and hi (many small groups, a few large)."""
    return [int(round(np.exp(rng.uniform(np.log(lo), np.log(hi))))) for _ in range(k)]


def group_mix(category: str, area_mm2: float, rng: np.random.Generator) -> list[tuple[str, int]]:
    """(fine category, cell count) for every follicular group of a slide of ``category``."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    n = int(round(rng.uniform(*_GROUPS_PER_MM2) * area_mm2))
    if category == "I":
        # Blood, colloid and a few small or tiny clusters: fewer than 6 adequate groups, all benign.
        adequate = int(rng.integers(0, ADEQUATE_GROUPS))
        tiny = int(rng.integers(2, 6) + area_mm2 * rng.uniform(0.1, 0.4))
        return [("II", s) for s in _sizes(rng, adequate, 10, 30)] + [("II", s) for s in _sizes(rng, tiny, 3, 9)]
    n = max(n, ADEQUATE_GROUPS + KEY_GROUPS + 1)
    if category == "II":
        return [("II", s) for s in _sizes(rng, n, 10, 150)]
    # share of the slide's groups that carry its category (V raised from 0.25: with ~3 V
    # groups a slide, V was the rarest class in training and in the separability measurement)
    key = {"III": 0.25, "IV": 0.75, "V": 0.4, "VI": 0.4}[category]
    k = max(KEY_GROUPS, int(round(n * key * rng.uniform(0.8, 1.2))))
    groups = [(category, s) for s in _sizes(rng, k, GRADABLE_CELLS, 150)]
    rest = n - k
    if category == "V":
        n_iii = int(rng.integers(0, 3))
        groups += [("III", s) for s in _sizes(rng, min(n_iii, rest), GRADABLE_CELLS, 80)]
        rest -= min(n_iii, rest)
    groups += [("II", s) for s in _sizes(rng, max(rest, 0), 10, 150)]
    return groups


#: Material between the groups, per mm^2, by slide category: (colloid blobs, macrophages, blood level 0-1).
BACKGROUND = {
    "I": (0.4, 5.0, 0.9),
    "II": (1.6, 2.5, 0.45),
    "III": (1.1, 2.0, 0.5),
    "IV": (0.25, 0.8, 0.65),
    "V": (0.9, 1.5, 0.55),
    "VI": (0.9, 1.5, 0.55),
}
#: share of thick ("bubblegum") colloid among colloid blobs
THICK_COLLOID = {"I": 0.1, "II": 0.25, "III": 0.25, "IV": 0.5, "V": 0.4, "VI": 0.6}
