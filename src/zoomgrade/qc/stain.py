"""Stain: is the slide's colour that of the stains the models were trained on? The slide's stain directions
and the reference the card records are measured as ``models/stain.py`` describes; here, the verdict."""

from __future__ import annotations

import numpy as np

from ..models.stain import MIN_STAINED_SHARE, angle_to, stain_vectors
from ..models.stain import fit_stain_reference as fit_stain_reference
from .record import QcRecord


def check_stain(thumb: np.ndarray, reference: dict | None) -> QcRecord:
    v, share = stain_vectors(thumb)
    if v is None:
        return QcRecord(
            "stain",
            share,
            MIN_STAINED_SHARE,
            "fail",
            f"almost no stained material ({share:.1%} of the slide): unstained or empty, nothing to grade",
        )
    if not reference or not reference.get("directions"):
        return QcRecord("stain", None, None, "warn", "the model card records no training stains to compare with")
    thr = float(reference["threshold_deg"])
    ang = angle_to(v, np.asarray(reference["directions"], np.float64))
    if ang > thr:
        return QcRecord(
            "stain",
            ang,
            thr,
            "fail",
            f"the stain colour is {ang:.0f} degrees from every training slide's: another stain or "
            "preparation than the models know",
        )
    return QcRecord("stain", ang, thr, "pass", f"stain colour within {ang:.1f} degrees of a training slide's")
