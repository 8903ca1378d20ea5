"""The exhaustive baseline's tissue mask: everything on the glass at low power.

As CLAM and TIAToolbox separate tissue from background, but by optical density over the glass colour: an
Otsu split of a cytology smear separates dense blood from the rest and drops pale cell groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .config import ExhaustiveConfig


def glass_colour(thumb: NDArray[np.uint8], peak_fraction: float = 0.5) -> NDArray[np.float32]:
    """The colour of empty glass, the bright flat mode of a brightfield thumbnail: on the luminance
    histogram (5-level running sum) of the brighter half of the pixels, the brightest level holding at
    least ``peak_fraction`` of the tallest level's count (glass is brighter than anything on it, and a
    tail of bright specks is far below the glass peak); then the per-channel median of the pixels within
    2 levels of it. Where no glass shows, this is the palest common material."""
    rgb = thumb[..., :3].reshape(-1, 3)
    lum = np.clip(np.rint(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)), 0, 255)
    lum = lum.astype(np.int64)
    hist = np.convolve(np.bincount(lum, minlength=256), np.ones(5), mode="same")
    hist[: int(np.median(lum))] = 0
    level = int(np.nonzero(hist >= peak_fraction * hist.max())[0].max())
    glass: NDArray[np.float32] = np.median(rgb[np.abs(lum - level) <= 2], axis=0).astype(np.float32)
    return glass


def tissue_mask(
    thumb: NDArray[np.uint8],
    min_od: float = 0.02,
    smooth_sigma: float = 1.0,
    min_object_px: int = 4,
    dilate_px: int = 1,
    glass_peak_fraction: float = 0.5,
) -> NDArray[np.bool_]:
    """Everything on the glass at low power: pixels whose optical density relative to the glass colour
    exceeds ``min_od`` in any channel (cytology smears hold pale, barely stained cell groups next to dense
    blood, so the darkest-material split an Otsu threshold makes would drop them).

    thumb: (H, W, 3|4) uint8 RGB(A) thumbnail. min_od: OD floor over glass (log10 units; glass noise and
    JPEG ringing stay well below it). smooth_sigma: Gaussian smoothing (px) before thresholding, against
    pixel noise. min_object_px: specks smaller than this are dropped. dilate_px: the mask grows by this
    many px so that the faint rims of pale groups are tiled too. glass_peak_fraction: see ``glass_colour``.
    """
    if thumb.ndim != 3 or thumb.shape[0] == 0 or thumb.shape[1] == 0 or thumb.shape[2] < 3:
        return np.zeros(thumb.shape[:2], bool)
    rgb = thumb[..., :3].astype(np.float32)
    if smooth_sigma > 0:
        rgb = ndimage.gaussian_filter(rgb, sigma=(smooth_sigma, smooth_sigma, 0), mode="nearest")
    glass = glass_colour(thumb, glass_peak_fraction)
    od = np.log10((glass + 1.0) / (rgb + 1.0)).max(axis=-1)  # darker than glass in any channel
    mask = od > min_od
    if min_object_px > 1:
        lab, _ = ndimage.label(mask, structure=np.ones((3, 3), int))
        mask = (np.bincount(lab.ravel()) >= min_object_px)[lab] & mask
    if dilate_px > 0:
        mask = ndimage.binary_dilation(mask, iterations=dilate_px)
    return np.asarray(mask, dtype=bool)


def tissue_mask_kwargs(ex: ExhaustiveConfig) -> dict[str, Any]:
    """The tissue-mask parameters of an ``ExhaustiveConfig``."""
    return {
        "min_od": ex.mask_min_od,
        "smooth_sigma": ex.mask_smooth_sigma,
        "min_object_px": ex.mask_min_object_px,
        "dilate_px": ex.mask_dilate_px,
        "glass_peak_fraction": ex.mask_glass_peak_fraction,
    }
