"""Shared builders for the cascade tests: regions and region grades made from plain numbers."""

from __future__ import annotations

import numpy as np
from shapely.geometry import box

from zoomgrade.labels import TBSRTC
from zoomgrade.types import Region, RegionGrade


def make_region(
    rid: int = 0,
    coarse=(1.0, 0.0, 0.0),
    *,
    x: int = 0,
    y: int = 0,
    side: int = 400,
    confidence: float | None = None,
    area_um2: float | None = None,
    est_cells: int = 50,
) -> Region:
    p = np.asarray(coarse, dtype=np.float64)
    k = int(np.argmax(p))
    return Region(
        id=rid,
        polygon=box(x, y, x + side, y + side),
        coarse_probs=p,
        coarse_grade=TBSRTC.coarse[k],
        confidence=float(p[k]) if confidence is None else confidence,
        area_um2=float(side * side * 0.0625) if area_um2 is None else area_um2,
        est_cells=est_cells,
    )


def make_grade(
    fine: str, probs=None, *, conf: float | None = None, area_um2: float = 5000.0, est_cells: int = 50, rid: int = 0
) -> RegionGrade:
    n = len(TBSRTC.fine)
    if probs is None:
        c = 0.9 if conf is None else conf
        probs = np.full(n, (1 - c) / (n - 1))
        probs[TBSRTC.fine_index(fine)] = c
    probs = np.asarray(probs, dtype=np.float64)
    region = make_region(rid, area_um2=area_um2, est_cells=est_cells)
    return RegionGrade(
        region=region,
        fine_grade=fine,
        confidence=float(probs.max()),
        fine_probs=probs,
        stage2_probs=probs,
        decided_by="stage2",
        order=rid,
    )


def untrained_runners(seed: int = 0, input_size: int = 128):
    """Real stage-1/stage-2 runners around freshly initialised networks (fixed seed). Their grades mean
    nothing; they exercise every read, shape and edge case of the cascade without the shipped weights."""
    import torch

    from zoomgrade.models.card import ModelCard
    from zoomgrade.models.runners import Stage1Runner, Stage2Runner
    from zoomgrade.models.stage1 import Stage1Config, Stage1Net
    from zoomgrade.models.stage2 import Stage2Config, Stage2Net

    torch.manual_seed(seed)
    c1, c2 = Stage1Config(), Stage2Config()
    m1, m2 = Stage1Net(c1), Stage2Net(c2)
    card1 = ModelCard(
        name="stage1",
        version="untrained",
        architecture="Stage1Net",
        hyperparameters=c1.to_dict(),
        input_mpp=8.0,
        input_size=None,
        label_set=TBSRTC.name,
        labels=list(TBSRTC.coarse),
    )
    card2 = ModelCard(
        name="stage2",
        version="untrained",
        architecture="Stage2Net",
        hyperparameters=c2.to_dict(),
        input_mpp=0.5,
        input_size=input_size,
        label_set=TBSRTC.name,
        labels=[*TBSRTC.fine, "none"],
    )
    return Stage1Runner(m1, card1, "cpu"), Stage2Runner(m2, card2, "cpu")


def context(slide, models, cfg, labels=TBSRTC, cost=None):
    """The pass context of one run over ``slide`` with ``models`` (stage 1, stage 2) and ``cfg``."""
    from zoomgrade.cascade.context import PassContext
    from zoomgrade.cascade.resolution import at_model_mpp
    from zoomgrade.types import CostRecord

    cfg = at_model_mpp(cfg, models[0], models[1])  # as grade() does: 0 = the card's resolution
    return PassContext(
        slide, cfg, labels, models[0], models[1], models[1].card.input_size, cost=CostRecord() if cost is None else cost
    )
