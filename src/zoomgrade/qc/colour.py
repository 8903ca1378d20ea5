"""Colour: are the hues of the slide's stained material those of the training slides? Measured and fitted as
``models/colour.py`` describes (a Gaussian mixture of the training slides' stained-pixel hues, its threshold
chosen leave-one-slide-out); here, the verdict."""

from __future__ import annotations

import numpy as np

from ..models.colour import FIRST_HUE_OD, MIN_HUE_PIXELS, QUANTILE, hue_plane, neg_log_likelihood
from ..models.colour import fit_colour_reference as fit_colour_reference
from .record import QcRecord


def check_colour(thumb: np.ndarray, reference: dict | None) -> QcRecord | None:
    """The colour record's verdict; None when the card records no colour (cards fitted before this check)."""
    if not reference or not reference.get("mixture"):
        return None
    x = hue_plane(thumb, float(reference.get("hue_od", FIRST_HUE_OD)))  # as the card was fitted
    if len(x) < MIN_HUE_PIXELS:  # the stain check reports an unstained or empty slide
        return QcRecord(
            "colour",
            None,
            float(reference["threshold"]),
            "warn",
            "too little stained material to compare its colours with the training slides'",
        )
    value = float(np.median(neg_log_likelihood(reference["mixture"], x)))
    thr = float(reference["threshold"])
    if value > thr:
        return QcRecord(
            "colour",
            value,
            thr,
            "fail",
            f"the stained material's colours are unlike the training "
            f"slides' (typical pixel {value:.1f} against {thr:.1f}: stranger than "
            f"{float(reference.get('quantile', QUANTILE)):.0%} of held-out "
            "training pixels)",
        )
    return QcRecord(
        "colour", value, thr, "pass", f"stained colours like the training slides' ({value:.1f} within {thr:.1f})"
    )
