"""Focus: the share of high-power windows that are out of focus.

A few stage-1 regions (the most confident, where stage 2 will read anyway: the reads warm the tile cache
it then uses) are read at the stage-2 resolution and each window's sharpness is measured as the RMS of
its Laplacian over the standard deviation of its grey levels (contrast-free: a pale smear is not a
blurred one). Defocus removes the Laplacian's energy first. The window threshold separates in-focus
windows of synthetic smears from the same windows blurred by the mildest defocus the synthetic
generator renders (Gaussian sigma 1.25 px at 0.5 um/px): docs/quality-control.md has the measurement.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .record import QcRecord

#: a window with sharpness under this is out of focus (docs/quality-control.md)
MIN_SHARPNESS = 0.30
#: shares of out-of-focus windows that warn / fail (most of the evidence blurred: no grade)
WARN_SHARE, FAIL_SHARE = 0.25, 0.5
N_WINDOWS = 6


def sharpness(window: np.ndarray) -> float:
    g = np.asarray(window, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    sd = float(g.std())
    if sd < 2.0:  # flat glass: nothing to be in or out of focus
        return float("nan")
    return float(np.sqrt(np.mean(ndimage.laplace(g) ** 2)) / sd)


def check_focus(windows: list[np.ndarray]) -> QcRecord:
    s = np.array([sharpness(w) for w in windows], np.float64)
    s = s[np.isfinite(s)]
    if not len(s):
        return QcRecord("focus", None, FAIL_SHARE, "pass", "no cell-group window to measure focus on")
    share = float(np.mean(s < MIN_SHARPNESS))
    what = f"{np.sum(s < MIN_SHARPNESS)} of {len(s)} high-power windows out of focus"
    if share > FAIL_SHARE:
        return QcRecord("focus", share, FAIL_SHARE, "fail", what + ": most of the evidence is blurred")
    if share > WARN_SHARE:
        return QcRecord("focus", share, FAIL_SHARE, "warn", what + ": grades rest on fewer sharp windows")
    return QcRecord("focus", share, FAIL_SHARE, "pass", what)
