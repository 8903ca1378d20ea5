"""Stage 2's window outputs pooled into one region's fine-grade probabilities: the one pooling rule, used by
the cascade's likelihood (``cascade.fusion``) and by the models' window evaluation (``runners.combine_windows``).

Stage 2 outputs, per window, probabilities over the fine grades plus a last "none" class (no follicular
cell group in the window)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_EPS = 1e-12


def split_none(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, n_fine + 1) stage-2 outputs -> (fine probs renormalised without "none" (N, n_fine), P(none) (N,))."""
    probs = np.asarray(probs, dtype=np.float64)
    p_none = probs[:, -1]
    fine = probs[:, :-1]
    fine = fine / np.maximum(fine.sum(axis=1, keepdims=True), _EPS)
    return fine, p_none


def pool_windows(window_probs: np.ndarray, weights: np.ndarray | None = None) -> NDArray[np.float64]:
    """The one region pooling rule: windows' stage-2 outputs (N, n_fine + 1) -> (n_fine,) fine-grade
    probabilities, the mean of each window's (renormalised without "none") weighted by ``weights``
    (default: each window's P(cell)); uniform when no window carries weight."""
    fine, p_none = split_none(window_probs)
    w = 1.0 - p_none if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() <= _EPS:
        return np.full(fine.shape[1], 1.0 / fine.shape[1])
    pooled: NDArray[np.float64] = (w[:, None] * fine).sum(axis=0) / w.sum()
    return pooled
