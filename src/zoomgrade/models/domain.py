"""The domain a model was trained on, in the model's own feature space, and how far a slide is from it.

Stage 1's stride-16 features (``Stage1Maps.features``, those entering its attention block: one vector per
16 x 16 low-power px, 128 um at 8 um/px) are collected over the stained material of the training slides
(glass excluded). A Gaussian with a Ledoit-Wolf shrinkage covariance (well conditioned with a few thousand
samples in 64 dimensions) describes them; a cell's score is its Mahalanobis distance to that Gaussian. A
slide's score is the median distance of its material cells; a region's, the mean distance of its material
cells.

The thresholds are the largest scores among *calibration* slides the Gaussian did not see (the validation
slides of a training run, or a folder given to ``domain_fit --calibrate``): a slide is out of domain when its
score exceeds every calibration slide's, a region when its score exceeds every calibration region's. For a
slide exchangeable with n calibration slides that is a conformal bound: an in-domain slide is withheld with
probability at most 1 / (n + 1). Why the largest and not only a quantile of pooled cells (the rule before,
now a floor for few slides): slide medians differ from slide to slide far more than cells do within one
(the two smear stains form two clusters), so a cell quantile only worked where the few validation slides
happened to lie far out; measured in docs/quality-control.md.

The result is stored in the stage-1 model card (``ModelCard.domain``) so any model trained with
``zoomgrade train`` carries its own domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .stage1_runner import FEATURE_STRIDE

#: the feature space recorded (a card made for another space is refused by ``DomainModel.from_dict``)
SPACE = "stage1.c16"
#: a feature cell is stained material when its mean optical density above the glass exceeds this
MATERIAL_OD = 0.06
#: Floors under the thresholds, as quantiles of the calibration slides' pooled cell distances: with few
#: calibration slides (a training run's validation split: one of five in tests/qc/test_gate_trained.py) the
#: largest median is a tight bound (an in-domain slide lies beyond it with probability up to 1 / (n + 1)),
#: and the cells' spread is then the wider. With the 41 validation slides the largest scores are far above
#: them (docs/quality-control.md).
SLIDE_QUANTILE = 0.90
CELL_QUANTILE = 0.99
#: the card's words for the thresholds' rule (``to_dict``)
SLIDE_RULE = (
    "the largest median distance among the calibration slides, or the 0.9 quantile of their cells' distances "
    "if that is larger"
)
REGION_RULE = (
    "the largest region score (mean distance of its material cells) among the calibration slides' stage-1 "
    "regions (the largest cell distance where they hold none), or the 0.99 quantile of their cells' distances "
    "if that is larger"
)
#: Torch and ONNX Runtime give features about 1e-7 apart (relative), so a score is compared with its
#: threshold to this relative tolerance: the calibration slide that set a threshold must not fall beyond it
#: when graded by the other engine.
ROUNDING = 1e-6


def within(score: float, threshold: float) -> bool:
    """Whether a slide's or region's ``score`` is within ``threshold`` (in domain)."""
    return bool(score <= threshold * (1.0 + ROUNDING))


@dataclass
class DomainModel:
    """A Gaussian of in-domain features and the thresholds chosen on validation slides."""

    mean: np.ndarray  # (C,)
    precision: np.ndarray  # (C, C), inverse of the shrunk covariance
    cell_threshold: float  # a region's mean cell distance beyond which it is out of domain (the card's name)
    slide_threshold: float  # median cell distance beyond which a slide is out of domain
    n_train_cells: int = 0
    n_val_cells: int = 0
    n_train_slides: int = 0
    n_val_slides: int = 0
    shrinkage: float = 0.0
    val_max_median: float = 0.0  # the largest median distance among the calibration slides
    n_val_regions: int = 0  # calibration regions the region threshold was drawn from
    val_max_region: float = 0.0  # the largest region score among them (0: none)
    space: str = SPACE

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``x`` (N, C)."""
        d = np.asarray(x, np.float64) - self.mean
        # (d P) . d row by row: the matrix product goes to BLAS. A three-operand einsum loops in C without
        # it, 10x slower (0.09 against 0.009 s for 20,000 x 64; equal to 5e-15 relative).
        return np.sqrt(np.maximum(np.einsum("nc,nc->n", d @ self.precision, d), 0.0))

    def to_dict(self) -> dict:
        return {
            "space": self.space,
            "method": "gaussian, Ledoit-Wolf shrinkage covariance, Mahalanobis distance",
            "mean": [float(v) for v in self.mean],
            "precision": [[float(v) for v in r] for r in self.precision],
            "cell_threshold": float(self.cell_threshold),
            "region_rule": REGION_RULE,
            "slide_threshold": float(self.slide_threshold),
            "slide_rule": SLIDE_RULE,
            "slide_score": "median distance of the material cells",
            "material_od": MATERIAL_OD,
            "n_train_cells": self.n_train_cells,
            "n_val_cells": self.n_val_cells,
            "n_train_slides": self.n_train_slides,
            "n_val_slides": self.n_val_slides,
            "n_val_regions": self.n_val_regions,
            "shrinkage": float(self.shrinkage),
            "val_max_median": float(self.val_max_median),
            "val_max_region": float(self.val_max_region),
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> DomainModel | None:
        """The model a card records, or None (older cards have none; another feature space is not ours)."""
        if not d or d.get("space") != SPACE:
            return None
        return cls(
            mean=np.asarray(d["mean"], np.float64),
            precision=np.asarray(d["precision"], np.float64),
            cell_threshold=float(d["cell_threshold"]),
            slide_threshold=float(d["slide_threshold"]),
            n_train_cells=int(d.get("n_train_cells", 0)),
            n_val_cells=int(d.get("n_val_cells", 0)),
            n_train_slides=int(d.get("n_train_slides", 0)),
            n_val_slides=int(d.get("n_val_slides", 0)),
            shrinkage=float(d.get("shrinkage", 0.0)),
            val_max_median=float(d.get("val_max_median", 0.0)),
            n_val_regions=int(d.get("n_val_regions", 0)),
            val_max_region=float(d.get("val_max_region", 0.0)),
        )


def step_for(n_pixels: int, max_pixels: int) -> int:
    """The pixel step (1, 2, 4 or 8: a divisor of 16) that brings ``n_pixels`` near ``max_pixels``:
    colour statistics need a sample, not every pixel of a 20 x 20 mm slide's thumbnail."""
    k = 1
    while k < 8 and n_pixels / (k * k) > max_pixels:
        k *= 2
    return k


def glass_colour(pixels: np.ndarray) -> np.ndarray:
    """(3,) the slide's glass: the 95th percentile of brightness per channel, from at most ~65k pixels."""
    flat = np.asarray(pixels).reshape(-1, 3)
    flat = flat[:: max(1, len(flat) // 65536)]
    return np.maximum(np.percentile(flat.astype(np.float32), 95, axis=0), 1.0)


def glass_od(thumb: np.ndarray) -> np.ndarray:
    """Optical density of every pixel above the slide's own glass (``glass_colour``): a faint,
    yellowish or bluish glass does not count as material."""
    t = np.asarray(thumb, np.float32)
    return np.log(glass_colour(t) / np.clip(t, 1.0, None)).clip(0, None).mean(axis=2)


def material_cells(thumb: np.ndarray, shape: tuple[int, int], stride: int = FEATURE_STRIDE) -> np.ndarray:
    """(h, w) bool: feature cells (``stride`` thumbnail px a side) whose mean OD above glass is material
    (the mean over every ``k``-th pixel of the cell on big thumbnails)."""
    k = step_for(thumb.shape[0] * thumb.shape[1], 1 << 20) if stride % 8 == 0 else 1
    od = glass_od(np.asarray(thumb)[::k, ::k])
    s = stride // k
    h, w = shape
    pad = np.zeros((h * s, w * s), np.float32)
    hh, ww = min(od.shape[0], h * s), min(od.shape[1], w * s)
    pad[:hh, :ww] = od[:hh, :ww]
    return pad.reshape(h, s, w, s).mean(axis=(1, 3)) > MATERIAL_OD


def slide_cells(features: np.ndarray, thumb: np.ndarray, stride: int = FEATURE_STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """(features of material cells (N, C), material mask (h, w)) of one slide's stage-1 output."""
    mask = material_cells(thumb, features.shape[:2], stride)
    return features[mask], mask


@dataclass(frozen=True)
class CalibrationSlide:
    """What the thresholds are drawn from, for one slide: its stage-1 feature grid, which cells are material,
    and the cells under each of its stage-1 regions (``box_cells``)."""

    features: np.ndarray  # (h, w, C)
    material: np.ndarray  # (h, w) bool
    boxes: tuple[tuple[slice, slice], ...] = ()


def box_cells(bbox: tuple[float, float, float, float], scale: float, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Feature-grid rows/cols under a level-0 box (x, y, w, h); ``scale`` = stage-1 input px per level-0 px."""
    x, y, w, h = bbox
    f = scale / FEATURE_STRIDE
    r0, c0 = int(np.floor(y * f)), int(np.floor(x * f))
    r1, c1 = max(r0 + 1, int(np.ceil((y + h) * f))), max(c0 + 1, int(np.ceil((x + w) * f)))
    return slice(min(r0, shape[0] - 1), min(r1, shape[0])), slice(min(c0, shape[1] - 1), min(c1, shape[1]))


def slide_scores(
    model: DomainModel, features: np.ndarray, material: np.ndarray, boxes: Iterable[tuple[slice, slice]]
) -> tuple[float | None, list[float | None]]:
    """(the slide's score: the median distance of its material cells; each box's score: the mean distance of
    its material cells, or of all its cells where none is material at low power). The gate scores a slide
    with it and the calibration draws the thresholds with it, so the two cannot drift apart."""
    dist = np.full(material.shape, np.nan)
    if material.any():
        dist[material] = model.distance(features[material])
    median = float(np.median(dist[material])) if material.any() else None
    scores: list[float | None] = []
    for rows, cols in boxes:
        d = dist[rows, cols]
        d = d[np.isfinite(d)]
        if not len(d):  # no material under the box: score its cells all the same
            d = model.distance(features[rows, cols].reshape(-1, features.shape[-1]))
        scores.append(float(d.mean()) if len(d) else None)
    return median, scores


def fit_domain(train: Iterable[np.ndarray], val: Iterable[CalibrationSlide]) -> DomainModel:
    """Fit on the material-cell features of training slides (one (N_i, C) array per slide); draw the
    thresholds from the calibration slides (the largest slide and region scores among them)."""
    from sklearn.covariance import LedoitWolf

    train = [t for t in train if len(t)]
    val = [v for v in val if v.material.any()]
    if not train:
        raise ValueError("no stained material in the training slides: no domain to record")
    x = np.concatenate(train).astype(np.float64)
    lw = LedoitWolf().fit(x)
    model = DomainModel(
        mean=lw.location_,
        precision=lw.precision_,
        cell_threshold=np.inf,
        slide_threshold=np.inf,
        n_train_cells=len(x),
        n_train_slides=len(train),
        shrinkage=float(lw.shrinkage_),
    )
    # a tiny set with no calibration slide: thresholds from training (n_val_slides 0 says so in the card)
    held = val or [CalibrationSlide(t[None], np.ones((1, len(t)), bool)) for t in train]
    dists = [model.distance(v.features[v.material]) for v in held]
    regions = [r for v in held for r in slide_scores(model, v.features, v.material, v.boxes)[1] if r is not None]
    pooled = np.concatenate(dists)
    model.val_max_median = max(float(np.median(d)) for d in dists)
    model.slide_threshold = max(model.val_max_median, float(np.quantile(pooled, SLIDE_QUANTILE)))
    model.val_max_region = max(regions, default=0.0)
    largest = model.val_max_region if regions else float(pooled.max())
    model.cell_threshold = max(largest, float(np.quantile(pooled, CELL_QUANTILE)))
    model.n_val_cells = int(sum(len(d) for d in dists))
    model.n_val_regions = len(regions)
    model.n_val_slides = len(held) if val else 0
    return model


__all__ = [
    "SPACE",
    "CalibrationSlide",
    "DomainModel",
    "box_cells",
    "fit_domain",
    "glass_od",
    "material_cells",
    "slide_cells",
    "slide_scores",
    "within",
]
