"""The fallback's severity-aware patch rule, shared with the exhaustive baseline and the comparison.

A region stage 2 cannot decide is tiled into patches at high power; each patch is graded by the stage-2
network. Patches whose P(none) is at least ``none_threshold`` show no follicular cells and do not vote.
Among the voting patches, each takes the fine grade it finds most likely. Then, from the most severe
grade down, a grade wins when it is held by at least ``min_count`` patches (or by at least
``min_fraction`` of the voting patches) whose mean confidence is at least ``min_confidence``: a few
convincing malignant patches outweigh many benign ones, as a cytologist's eye would, but one doubtful
patch does not. When no grade qualifies, the grade with the largest summed probability wins.

The region's probabilities are the mean over the patches that decided it (the winning grade's patches
under the severity rule, every voting patch under the majority rule), so that the slide rule's
"P(category or worse)" reads the same evidence the decision did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..labels import LabelSet
from .fusion import split_none


@dataclass
class PatchVote:
    grade: str | None  # None: no patch showed cells
    probs: np.ndarray  # (n_fine,) mean fine probabilities of the deciding patches (uniform if none)
    confidence: float  # mean probability of the winning grade over the patches that hold it
    patch_grades: list[str] = field(default_factory=list)  # every voting patch's grade, in patch order
    n_patches: int = 0
    n_voting: int = 0
    rule: str = ""  # "severity" or "majority" (or "empty")


def patch_rule(
    patch_probs: np.ndarray,
    labels: LabelSet,
    *,
    none_threshold: float,
    min_count: int,
    min_fraction: float,
    min_confidence: float,
) -> PatchVote:
    """Decide a region from its patches' stage-2 outputs (N, n_fine + 1)."""
    probs = np.asarray(patch_probs, dtype=np.float64).reshape(-1, len(labels.fine) + 1)
    n_fine = len(labels.fine)
    fine, p_none = split_none(probs)
    voting = p_none < none_threshold
    if not voting.any():
        return PatchVote(None, np.full(n_fine, 1.0 / n_fine), 0.0, [], len(probs), 0, "empty")
    fv = fine[voting]
    idx = fv.argmax(axis=1)
    conf = fv.max(axis=1)
    grades = [labels.fine[i] for i in idx]
    mean_probs = fv.mean(axis=0)
    n = len(fv)
    for gi in range(n_fine - 1, -1, -1):  # most severe first
        held = idx == gi
        k = int(held.sum())
        if k == 0:
            continue
        enough = k >= min_count or k / n >= min_fraction
        if enough and float(conf[held].mean()) >= min_confidence:
            return PatchVote(labels.fine[gi], fv[held].mean(axis=0), float(conf[held].mean()), grades, len(probs), n,
                             "severity")
    gi = int(mean_probs.argmax())
    held = idx == gi
    c = float(conf[held].mean()) if held.any() else float(mean_probs[gi])
    return PatchVote(labels.fine[gi], mean_probs, c, grades, len(probs), n, "majority")
