"""The gate between stage 1 and stage 2: may this slide be graded, and which regions are evidence?

``assess_slide`` runs after stage 1 (it needs the low-power thumbnail and stage 1's features, both already
in hand) and gives a ``GateDecision``: the quality-control records, the in-domain score of the slide and of
every region, and the status. Out-of-domain regions are not evidence (stage 2 never reads them); a slide
that fails a quality check or lies out of the model's domain is "withheld": no category. With
``force=True`` (research) everything is graded anyway and every output says it was forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import mapping

from ..errors import SlideError
from ..models.domain import DomainModel, box_cells, material_cells, slide_scores, within
from ..models.stage1_runner import FEATURE_STRIDE
from ..types import Region
from .brightfield import check_brightfield
from .colour import check_colour
from .focus import N_WINDOWS, check_focus
from .record import QcRecord, failed
from .resolution import check_extent, check_resolution, stage2_limit
from .stain import check_stain


@dataclass
class RegionScore:
    region: Region
    score: float | None  # mean Mahalanobis distance of its material cells (None: no features)
    in_domain: bool

    def to_dict(self, geometry: bool = True) -> dict[str, Any]:
        r = self.region
        d = {
            "id": r.id,
            "bbox": list(r.bbox),
            "coarse_grade": r.coarse_grade,
            "score": self.score,
            "in_domain": self.in_domain,
        }
        if geometry:
            d["geometry"] = mapping(r.polygon)
        return d


@dataclass
class GateDecision:
    qc: list[QcRecord]
    status: str  # "graded" | "withheld"
    reasons: list[str]  # why withheld (or, when forced, why it would have been)
    forced: bool = False
    slide_score: float | None = None  # median Mahalanobis distance of the slide's material cells
    slide_threshold: float | None = None
    cell_threshold: float | None = None
    regions: list[RegionScore] = field(default_factory=list)
    note: str = ""  # e.g. "the stage-1 card records no domain"

    @property
    def grade_anyway(self) -> bool:
        return self.status == "graded" or self.forced

    def evidence(self, regions: list[Region]) -> list[Region]:
        """The regions stage 2 may read: none for a withheld slide, the in-domain ones otherwise (all when
        forced)."""
        if self.forced:
            return list(regions)
        if self.status != "graded":
            return []
        out = {rs.region.id for rs in self.regions if not rs.in_domain}
        return [r for r in regions if r.id not in out]

    def domain_dict(self) -> dict[str, Any]:
        return {
            "slide_score": self.slide_score,
            "slide_threshold": self.slide_threshold,
            "cell_threshold": self.cell_threshold,
            "in_domain": self.slide_in_domain,
            "n_regions": len(self.regions),
            "n_regions_out": sum(not r.in_domain for r in self.regions),
            # outlines where they are shown (a withheld slide's candidates, out-of-domain regions)
            "regions": [r.to_dict(self.status == "withheld" or not r.in_domain) for r in self.regions],
            "note": self.note,
        }

    @property
    def slide_in_domain(self) -> bool | None:
        if self.slide_score is None or self.slide_threshold is None:
            return None
        return within(self.slide_score, self.slide_threshold)


def score_domain(
    model: DomainModel, features: np.ndarray, thumb: np.ndarray, regions: list[Region], scale: float
) -> tuple[float | None, list[RegionScore]]:
    """(median distance of the slide's material cells, each region's score)."""
    fh, fw = -(-thumb.shape[0] // FEATURE_STRIDE), -(-thumb.shape[1] // FEATURE_STRIDE)
    feats = features[:fh, :fw]
    mask = material_cells(thumb, feats.shape[:2], FEATURE_STRIDE)
    boxes = [box_cells(r.bbox, scale, feats.shape[:2]) for r in regions]
    share, scores = slide_scores(model, feats, mask, boxes)
    return share, [RegionScore(r, s, s is None or within(s, model.cell_threshold)) for r, s in zip(regions, scores)]


def focus_windows(slide: Any, regions: list[Region], mpp: float, size: int, cost: Any = None) -> list[np.ndarray]:
    """High-power windows at the centres of the most confident regions (N_WINDOWS at most)."""
    best = sorted(regions, key=lambda r: -r.confidence)[:N_WINDOWS]
    side = size * mpp / slide.mpp  # level-0 px
    out = []
    for r in best:
        c = r.polygon.centroid
        try:
            out.append(
                np.asarray(slide.read_region(int(c.x - side / 2), int(c.y - side / 2), int(side), int(side), mpp))
            )
            if cost is not None:  # high-power reads like stage 2's: counted where the cost record counts them
                px = out[-1].shape[0] * out[-1].shape[1]
                cost.add_read(mpp, px, 1)
                cost.stage("gate").pixels += px
                cost.stage("gate").tiles += 1
        except SlideError:  # counted in the slide's read log, judged with stage 2's reads (slide/limits.py)
            continue
    return out


def assess_slide(
    slide: Any,
    thumb: np.ndarray,
    features: np.ndarray | None,
    regions: list[Region],
    s1card: Any,
    s2card: Any,
    stage2_mpp: float,
    window_px: int,
    *,
    force: bool = False,
    cost: Any = None,
) -> GateDecision:
    """Quality control and the domain gate for one slide, from stage 1's thumbnail, features and regions."""
    limit = stage2_limit(s2card, stage2_mpp)
    width_px, height_px = slide.dimensions
    qc = [
        check_resolution(float(slide.mpp), getattr(slide, "mpp_source", "file"), limit),
        check_extent(width_px, height_px, float(slide.mpp), window_px * stage2_mpp),
        check_brightfield(thumb),
    ]
    domain = getattr(s1card, "domain", None) or {}
    qc.append(check_stain(thumb, domain.get("stain")))
    colour = check_colour(thumb, domain.get("colour"))  # None: the card records no colours (older cards)
    if colour is not None:
        qc.append(colour)
    if not failed(qc):  # high-power reads only where the slide could be graded at all
        qc.append(check_focus(focus_windows(slide, regions, max(stage2_mpp, slide.mpp), window_px, cost)))
    decision = GateDecision(qc=qc, status="graded", reasons=[f"{r.name}: {r.detail}" for r in failed(qc)], forced=force)
    model = DomainModel.from_dict(domain.get("features"))
    if model is None or features is None:
        decision.note = (
            "the stage-1 model card records no domain: regions and slide not scored"
            if model is None
            else "the stage-1 engine gives no features: regions and slide not scored"
        )
        decision.regions = [RegionScore(r, None, True) for r in regions]
    else:
        scale = thumb.shape[1] / max(slide.dimensions[0], 1)
        share, decision.regions = score_domain(model, features, thumb, regions, scale)
        decision.slide_score, decision.slide_threshold = share, model.slide_threshold
        decision.cell_threshold = model.cell_threshold
        if share is not None and not within(share, model.slide_threshold):
            decision.reasons.append(
                f"domain: the slide's stained material lies outside what the models were trained on (typical "
                f"distance {share:.1f}, beyond {model.slide_threshold:.1f}, the model card's limit for in-domain slides)"
            )
        n = len(regions)
        n_out = sum(not r.in_domain for r in decision.regions)
        if n and n_out * 2 > n:
            decision.reasons.append(f"domain: {n_out} of {n} candidate regions lie outside the models' domain")
    if decision.reasons:
        decision.status = "withheld"
    return decision
