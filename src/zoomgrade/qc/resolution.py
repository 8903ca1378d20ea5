"""Resolution and extent: does the slide hold the pixels stage 2 needs, and enough of them?

A slide scanned coarser than the stage-2 model's finest allowed input (its card's ``mpp_range``) has no
high-power grade: the category is withheld, not warned about (reading it "at high power" would upsample
low-power pixels). A slide smaller than one stage-2 window holds nothing a cell group could be read from.
"""

from __future__ import annotations

from typing import Any

from .record import QcRecord

#: a file's mpp may be rounded (0.2525 written as 0.253): 1% over the limit still passes
TOLERANCE = 1.01


def stage2_limit(card: Any, run_mpp: float) -> float:
    """The coarsest slide resolution stage 2 may be fed from: the coarse end of the card's ``mpp_range``
    (its input mpp without one); ``run_mpp`` only without a card. Not the run's mpp when there is a card:
    the cascade raises that to a coarse slide's own resolution (``fit_to_slide``)."""
    if card is None:
        return float(run_mpp)
    rng = getattr(card, "mpp_range", None)
    return float(rng[1]) if rng else float(getattr(card, "input_mpp", run_mpp))


def check_resolution(slide_mpp: float, mpp_source: str, limit: float) -> QcRecord:
    if slide_mpp > limit * TOLERANCE:
        return QcRecord(
            "resolution",
            float(slide_mpp),
            float(limit),
            "fail",
            f"the slide's finest pixels are {slide_mpp:.3g} um/px, coarser than the {limit:g} um/px "
            "stage 2 needs: it holds no high-power image to grade",
        )
    if mpp_source == "estimate":
        return QcRecord(
            "resolution",
            float(slide_mpp),
            float(limit),
            "warn",
            f"{slide_mpp:.3g} um/px estimated from the objective power (not recorded in the file)",
        )
    return QcRecord(
        "resolution",
        float(slide_mpp),
        float(limit),
        "pass",
        f"{slide_mpp:.3g} um/px, at least as fine as the {limit:g} um/px stage 2 needs",
    )


def check_extent(width_px: int, height_px: int, slide_mpp: float, window_um: float) -> QcRecord:
    side = min(width_px, height_px) * slide_mpp
    if side < window_um:
        return QcRecord(
            "extent",
            float(side),
            float(window_um),
            "fail",
            f"the image is {side:.0f} um on its short side, smaller than one {window_um:g} um "
            "high-power window: it cannot hold a gradable cell group",
        )
    return QcRecord("extent", float(side), float(window_um), "pass", f"{side / 1000:.2f} mm on its short side")
