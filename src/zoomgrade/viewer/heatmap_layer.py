"""The heatmap layer: stage 1's coarse-grade map, cut from the slide's own heatmap.png and made transparent
where stage 1 found nothing, so it can lie over the slide in the viewer.

result.json does not carry the stage-1 maps; heatmap.png does (its first panel: the coarse grade of cell
groups, opacity = P(cell group), blended over a grey thumbnail of the whole slide). The panel's place is
given by the heatmap writer's layout (``outputs.heatmap``), checked against the slide's shape; a file that
does not fit that layout gives no layer (and the page says so) rather than a misplaced one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..outputs.heatmap import FOOT_H, TITLE_H

#: chroma (max - min of R, G, B) at which a map pixel is fully opaque; the grey base has chroma 0
_FULL_CHROMA = 60.0
#: the panel is framed by 10 px on each side (``outputs.heatmap._panel``)
_MARGIN = 10


def panel_box(png_size: tuple[int, int], slide_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the first map panel in a heatmap.png of ``png_size`` for a slide of ``slide_size``."""
    pw, ph = png_size
    w0, h0 = slide_size
    h = ph - TITLE_H - FOOT_H
    if h <= 0 or w0 <= 0 or h0 <= 0:
        return None
    for n in (1, 2, 3):  # one to three panels of equal width, side by side
        if pw % n:
            continue
        w = pw // n - 2 * _MARGIN
        # the thumbnail keeps the slide's aspect (each side rounded): accept one pixel of rounding
        if w > 0 and abs(w * h0 - h * w0) <= max(w0, h0):
            return _MARGIN, TITLE_H, w, h
    return None


def heatmap_overlay(path: Path, slide_size: tuple[int, int]) -> bytes | None:
    """The first panel of ``path`` as an RGBA PNG (alpha from colour strength), or None if it does not fit."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    box = panel_box(rgb.size, slide_size)
    if box is None:
        return None
    x, y, w, h = box
    a = np.asarray(rgb.crop((x, y, x + w, y + h)), dtype=np.float32)
    chroma = a.max(-1) - a.min(-1)
    alpha = np.clip(chroma / _FULL_CHROMA, 0, 1) * 255
    out = np.concatenate([a, alpha[..., None]], -1).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out, "RGBA").save(buf, format="PNG")
    return buf.getvalue()
