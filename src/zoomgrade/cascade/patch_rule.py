"""The fallback's severity-aware patch rule, shared with the exhaustive baseline and the comparison.

A region stage 2 cannot decide is tiled into patches at high power; each patch is graded by the stage-2
network. Patches whose P(none) is at least ``none_threshold`` show no follicular cells and do not vote.
Among the voting patches, each takes the fine grade it finds most likely. Then, from the most severe
coarse grade down to the one of ``severity_from``, a coarse grade wins when its grades (from
``severity_from`` up) are held by at least ``min_count`` patches (or by at least ``min_fraction`` of the
voting patches) whose mean probability of that coarse grade is at least ``min_confidence``: a few
convincing malignant patches outweigh many benign ones, as a cytologist's eye would, but one doubtful
patch does not. Within the winning coarse grade the fine grade is the one most likely on average over
those patches: the override is about finding malignancy, not about which of two sibling grades stage 2
confuses most (V and VI: a V region with one VI patch of two was VI; docs/cascade.md). When no coarse
grade qualifies, the grade with the largest summed probability wins.

The override stops at ``severity_from`` (by default the label set's; for TBSRTC the malignant grades)
because below it the grades are patterns that must predominate, not focal findings: a follicular
neoplasm (IV) is a cellular, mostly microfollicular sample, while "a few microfollicles" in a group is atypia (III). On the twelve validation
slides, stopping at V instead of applying the override to every grade cut the baseline's over-graded
regions from 161 to 107 and the cascade's from 81 to 77, found as many V/VI groups (647 vs 646) and left
every slide category as it was.

The region's probabilities are the mean over the patches that decided it (the winning grade's patches
under the severity rule, every voting patch under the majority rule), so that the slide rule's
"P(category or worse)" reads the same evidence the decision did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..labels import LabelSet
from ..models.pooling import split_none

if TYPE_CHECKING:
    from .config import FallbackConfig, GradeConfig


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
    severity_from: str | None = None,
) -> PatchVote:
    """Decide a region from its patches' stage-2 outputs (N, n_fine + 1).

    severity_from: the least severe grade the severity override applies to (None or "": every grade)."""
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
    lowest = severity_index(severity_from, labels)
    for members in _override_groups(labels, lowest):  # most severe coarse grade first
        held = np.isin(idx, members)
        k = int(held.sum())
        if k == 0:
            continue
        enough = k >= min_count or k / n >= min_fraction
        # A patch's confidence is its probability of the coarse grade: V and VI are one finding here.
        if enough and float(fv[held][:, members].sum(axis=1).mean()) >= min_confidence:
            mp = fv[held].mean(axis=0)
            win = members[int(np.argmax(mp[members]))]  # among siblings, the most likely on average
            return PatchVote(labels.fine[win], mp, float(mp[win]), grades, len(probs), n, "severity")
    gi = int(mean_probs.argmax())
    held = idx == gi
    c = float(conf[held].mean()) if held.any() else float(mean_probs[gi])
    return PatchVote(labels.fine[gi], mean_probs, c, grades, len(probs), n, "majority")


def _override_groups(labels: LabelSet, lowest: int) -> list[list[int]]:
    """The fine indices (>= ``lowest``) of each coarse grade, most severe coarse grade first."""
    groups: dict[str, list[int]] = {}
    for i in range(lowest, len(labels.fine)):
        groups.setdefault(labels.coarse_of(labels.fine[i]), []).append(i)
    return sorted(groups.values(), key=lambda m: -m[-1])


def severity_index(severity_from: str | None, labels: LabelSet) -> int:
    """Index in ``labels.fine`` where the severity override stops (0: every grade; "auto": the label set's)."""
    if severity_from == "auto":
        severity_from = labels.severity_from
    if not severity_from:
        return 0
    if severity_from not in labels.fine:
        raise ConfigError(
            f"fallback.severity_from: {severity_from!r} is not a fine grade of the label set ({', '.join(labels.fine)})"
        )
    return labels.fine_index(severity_from)


def rule_kwargs(fb: FallbackConfig, none_threshold: float | None = None) -> dict[str, Any]:
    """The patch rule's keyword arguments from a ``FallbackConfig`` (the baseline passes its own
    ``none_threshold``)."""
    return {
        "none_threshold": fb.none_threshold if none_threshold is None else none_threshold,
        "min_count": fb.min_count,
        "min_fraction": fb.min_fraction,
        "min_confidence": fb.min_confidence,
        "severity_from": fb.severity_from,
    }


def vote(probs: np.ndarray, labels: LabelSet, cfg: GradeConfig, *, tiles: bool = False) -> PatchVote:
    """The one way patches or tiles decide a region: the fallback's patches (``tiles=False``), or the
    exhaustive baseline's tiles (``tiles=True``: its own ``none_threshold``), whether they form a cluster
    of the baseline or lie in a cascade region being compared."""
    nt = cfg.exhaustive.none_threshold if tiles else None
    return patch_rule(probs, labels, **rule_kwargs(cfg.fallback, nt))
