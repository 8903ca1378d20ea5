"""Stain: a slide's stain directions, and the reference of them a model card records (``qc/stain.py``
checks a slide against it).

Beer-Lambert: a stain's colour is a direction in optical-density (OD) space, its amount the length. For
every slide, over its stained pixels (OD above the slide's own glass > ``MATERIAL_OD``), two unit
directions are taken: the mean OD of all stained pixels (cytoplasm, colloid, blood: the counterstain)
and the mean OD of the densest tenth (nuclei: the nuclear stain). Training records these pairs of its
slides in the stage-1 card (``fit_stain_reference``); a slide's value is the angle (degrees) to the
nearest training slide, the larger of the two directions' angles. The threshold is chosen on the
validation slides (their largest angle plus a margin, ``fit_stain_reference``). Papanicolaou and
Diff-Quik smears against H&E sections, IHC/DAB or an unstained slide differ by tens of degrees.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .domain import glass_colour, step_for

MATERIAL_OD = 0.15  # per-pixel mean OD above glass that counts as stained
#: fewer stained pixels than this share: unstained or empty (synthetic smears measured >= 0.17, the
#: pale IHC kidney 0.004: docs/quality-control.md)
MIN_STAINED_SHARE = 0.02
SAMPLE_PIXELS = 1 << 18  # colour statistics from about this many pixels (every k-th pixel of big slides)
MARGIN_DEG = 4.0  # added to the largest leave-one-out angle among the reference slides
#: never tighter than this: other stain families lie 30-45 degrees away; one family's slide-to-slide
#: spread reached 12.3 degrees on held-out synthetic slides (docs/quality-control.md)
MIN_THRESHOLD_DEG = 15.0


def stain_vectors(thumb: np.ndarray) -> tuple[np.ndarray, float] | tuple[None, float]:
    """((2, 3) unit OD directions: all stained pixels, densest tenth), share of stained pixels)."""
    k = step_for(thumb.shape[0] * thumb.shape[1], SAMPLE_PIXELS)
    t = np.asarray(thumb)[::k, ::k].reshape(-1, 3).astype(np.float32)
    glass = glass_colour(t)
    od = np.log(glass / np.clip(t, 1.0, None)).clip(0, None)
    dens = od.mean(axis=1)
    stained = dens > MATERIAL_OD
    share = float(stained.mean()) if len(dens) else 0.0
    if share < MIN_STAINED_SHARE or stained.sum() < 20:
        return None, share
    od, dens = od[stained], dens[stained]
    dense = od[dens >= np.quantile(dens, 0.9)]
    v = np.stack([od.mean(axis=0), dense.mean(axis=0)])
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9), share


def angle_to(v: np.ndarray, refs: np.ndarray) -> float:
    """Degrees from the (2, 3) directions ``v`` to the nearest of ``refs`` (K, 2, 3), the larger of the two."""
    cos = np.clip(np.einsum("kjc,jc->kj", refs, v), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).max(axis=1).min())


def fit_stain_reference(train: Iterable[np.ndarray], val: Iterable[np.ndarray]) -> dict:
    """The card's stain record from the training and validation slides' thumbnails: every slide's
    directions, and a threshold from the largest leave-one-out angle (each slide to its nearest other)."""
    refs = [v for v in (stain_vectors(t)[0] for t in [*train, *val]) if v is not None]
    if not refs:
        return {}
    r = np.stack(refs)
    loo = [angle_to(r[i], np.delete(r, i, 0)) for i in range(len(r))] if len(r) > 1 else [0.0]
    widest = max(loo)
    return {
        "directions": r.round(5).tolist(),
        "threshold_deg": max(MIN_THRESHOLD_DEG, widest + MARGIN_DEG),
        "loo_max_deg": widest,
        "n_slides": len(r),
        "material_od": MATERIAL_OD,
    }
