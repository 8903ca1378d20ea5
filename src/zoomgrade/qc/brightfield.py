"""Brightfield: a transmitted-light image has bright glass; fluorescence and dark-field have a dark field.

Measured on the stage-1 thumbnail (the whole slide at low power, already read): the 90th percentile of
luminance (0-255). A smear leaves most of the glass bare, and even a packed section shows its glass in
the brightest tenth of its pixels; a fluorescence image is dark except its stained objects.
"""

from __future__ import annotations

import numpy as np

from .record import QcRecord

#: luminance of the brightest decile below which the image is not brightfield; chosen from the
#: measurements in docs/quality-control.md (synthetic smears >= 226, real brightfield >= 225,
#: fluorescence 20): well below every brightfield image, far above a dark field
MIN_GLASS_LUMINANCE = 150.0
QUANTILE = 90


def luminance(thumb: np.ndarray) -> np.ndarray:
    t = np.asarray(thumb, np.float32)
    return t[..., 0] * 0.299 + t[..., 1] * 0.587 + t[..., 2] * 0.114


def glass_luminance(thumb: np.ndarray) -> float:
    t = np.asarray(thumb)
    k = max(1, int(np.sqrt(t.shape[0] * t.shape[1] / (1 << 18))))  # a sample of about 262k pixels
    return float(np.percentile(luminance(t[::k, ::k]), QUANTILE))


def check_brightfield(thumb: np.ndarray) -> QcRecord:
    v = glass_luminance(thumb)
    if v < MIN_GLASS_LUMINANCE:
        return QcRecord(
            "brightfield",
            v,
            MIN_GLASS_LUMINANCE,
            "fail",
            f"the brightest tenth of the image has luminance {v:.0f}/255: a dark field (fluorescence or "
            "dark-field), not a brightfield smear",
        )
    return QcRecord("brightfield", v, MIN_GLASS_LUMINANCE, "pass", f"bright glass (luminance {v:.0f}/255)")
