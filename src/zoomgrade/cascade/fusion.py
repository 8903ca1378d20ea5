"""Prior fusion: a region's stage-2 likelihood over the fine grades, re-weighted by its stage-1 grade.

Stage 2 outputs, per high-power window, probabilities over the fine grades plus a last "none" class (no
follicular cell group in the window). A region's likelihood pools its windows' fine-grade probabilities,
renormalised without "none" and weighted by how much each window shows cells and overlaps the region;
where the windows are mostly "none" the likelihood is flattened towards uniform, which lowers the
confidence and sends the region to the fallback.

The stage-1 coarse probabilities become a prior over the fine grades (each coarse probability spread
evenly over the fine grades it contains) and the posterior is ``likelihood * prior ** w``, normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..labels import LabelSet
from ..models.pooling import pool_windows

_EPS = 1e-12


def coarse_prior(coarse_probs: np.ndarray, labels: LabelSet, floor: float = 0.0) -> np.ndarray:
    """Stage-1 coarse probabilities -> a prior over ``labels.fine`` (sums to 1).

    Each coarse probability (floored at ``floor`` so that no fine grade is ruled out) is split evenly
    between the fine grades that coarse grade contains.
    """
    cp = np.maximum(np.asarray(coarse_probs, dtype=np.float64), floor)
    cp = cp / max(cp.sum(), _EPS)
    prior = np.zeros(len(labels.fine), dtype=np.float64)
    for ci, coarse in enumerate(labels.coarse):
        fines = labels.coarse_to_fine[coarse]
        for f in fines:
            prior[labels.fine_index(f)] += cp[ci] / len(fines)
    out: NDArray[np.float64] = prior / max(prior.sum(), _EPS)
    return out


def fine_to_coarse(fine_probs: np.ndarray, labels: LabelSet) -> np.ndarray:
    """Sum fine-grade probabilities into their coarse grades (the inverse direction of the prior)."""
    out = np.zeros(len(labels.coarse), dtype=np.float64)
    for fi, f in enumerate(labels.fine):
        out[labels.coarse_index(labels.coarse_of(f))] += fine_probs[fi]
    return out


@dataclass
class Likelihood:
    probs: np.ndarray  # (n_fine,) pooled, sums to 1
    presence: float  # overlap-weighted mean P(cell group) of the windows, in [0, 1]
    n_windows: int


def region_likelihood(window_probs: np.ndarray, overlap: np.ndarray | None = None) -> Likelihood:
    """Pool a region's window outputs (N, n_fine + 1) into a likelihood over the fine grades.

    Each window votes with weight overlap * P(cell): windows that barely touch the region or show no
    cells say little. The pooled vector is then mixed with uniform by the presence (the overlap-weighted
    mean P(cell)), so a region whose windows are mostly "none" comes out unconfident.
    """
    probs = np.asarray(window_probs, dtype=np.float64)
    n_fine = probs.shape[1] - 1
    if probs.shape[0] == 0:
        return Likelihood(np.full(n_fine, 1.0 / n_fine), 0.0, 0)
    ov = np.ones(len(probs)) if overlap is None else np.asarray(overlap, dtype=np.float64)
    p_cell = 1.0 - probs[:, -1]
    presence = float((ov * p_cell).sum() / max(ov.sum(), _EPS))
    pooled = pool_windows(probs, ov * p_cell)
    # presence >= 0.5 counts as fully present: a group rarely fills every window of its bounding box.
    trust = min(1.0, 2.0 * presence)
    lik = trust * pooled + (1.0 - trust) / n_fine
    return Likelihood(lik / lik.sum(), presence, int(len(probs)))


def fuse(likelihood: np.ndarray, prior: np.ndarray, weight: float) -> np.ndarray:
    """posterior ~ likelihood * prior ** weight, normalised (weight 0: the likelihood itself)."""
    lik = np.asarray(likelihood, dtype=np.float64)
    pr = np.maximum(np.asarray(prior, dtype=np.float64), _EPS)
    # In log space: a tiny prior times a tiny likelihood must not underflow to 0/0.
    logp = np.log(np.maximum(lik, _EPS)) + weight * np.log(pr)
    logp -= logp.max()
    post: NDArray[np.float64] = np.exp(logp)
    post /= post.sum()
    return post
