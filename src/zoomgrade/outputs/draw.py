"""Drawing helpers shared by overlay.png, heatmap.png and the report gallery (Pillow only)."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..types import SlideResult

WHITE, BLACK, DARK, GREY = (255, 255, 255), (0, 0, 0), (33, 33, 33), (117, 117, 117)

# Perceptually ordered colour ramps (anchor colours sampled from matplotlib's viridis and ColorBrewer's YlOrRd),
# interpolated linearly: enough for a legible map without a plotting dependency.
VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
# Probabilities: light (unlikely) to dark red (likely), so that "nothing here" reads as pale (as YlOrRd).
YLORRD = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]


@functools.cache
def font(size: int, bold: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A scalable font: DejaVu when the system has it, else Pillow's built-in (scalable since 10.1)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for path in (name, f"/usr/share/fonts/truetype/dejavu/{name}"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def text_size(draw: ImageDraw.ImageDraw, text: str, f: Any) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=f)
    return int(x1 - x0), int(y1 - y0)


def colormap(values: np.ndarray, ramp: Sequence[tuple[int, int, int]] = VIRIDIS) -> np.ndarray:
    """Map values in [0, 1] (NaN -> 0) to RGB uint8 along ``ramp``."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    anchors = np.asarray(ramp, dtype=np.float32)
    pos = v * (len(anchors) - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, len(anchors) - 2)
    t = (pos - i0)[..., None]
    return np.round(anchors[i0] * (1 - t) + anchors[i0 + 1] * t).astype(np.uint8)


def display_thumbnail(
    result: SlideResult, slide: Any = None, max_side: int = 1400, min_side: int = 700
) -> tuple[Image.Image, float]:
    """The low-power thumbnail resized for display, and its scale (display px per level-0 px).

    Uses ``result.maps["thumbnail"]``; without it, reads one from ``slide``; without that, a blank
    canvas of the slide's shape (the outlines are still right).
    """
    w0, h0 = result.slide.width, result.slide.height
    thumb = result.maps.get("thumbnail")
    if thumb is None and slide is not None:
        try:
            thumb = slide.thumbnail(max(result.slide.mpp * max(w0, h0) / max_side, result.slide.mpp))
        except Exception:
            thumb = None
    long0 = max(w0, h0)
    # Shown at about the thumbnail's own resolution (enlarging adds bytes, not detail), but at least
    # min_side so that small regions stay visible, and at most max_side so that huge slides stay light.
    native = max(np.asarray(thumb).shape[:2]) if thumb is not None else long0
    target = min(max(min_side, native), max_side)
    scale = target / long0
    size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
    if thumb is None:
        return Image.new("RGB", size, (245, 245, 245)), scale
    img = Image.fromarray(np.ascontiguousarray(np.asarray(thumb, dtype=np.uint8)[..., :3]))
    # Shrinking: the area average (BOX), a third to a quarter of Lanczos's time on a 20 x 20 mm slide's
    # 2,500 px thumbnail (25 against 88 ms to 1,400 px, 17 against 64 ms to 700), within 2.5 grey levels of
    # it on average; the whole write of five bench slides took 0.91 of the CPU time. Enlarging a small
    # slide's thumbnail: Lanczos.
    shrink = size[0] <= img.width and size[1] <= img.height
    return img.resize(size, Image.Resampling.BOX if shrink else Image.Resampling.LANCZOS), scale


def map_to_display(m: np.ndarray, result: SlideResult, size: tuple[int, int]) -> np.ndarray:
    """Resample a low-power map (level-0 extent at ``maps["map_mpp"]``) onto a display image of ``size``.

    Maps are made on a stride grid, so they can be a little larger than the slide: crop by physical
    extent rather than stretch, so that a map pixel stays over the place it describes.
    """
    m = np.asarray(m, dtype=np.float32)
    map_mpp = float(result.maps.get("map_mpp") or 0)
    if map_mpp > 0:
        cover_w = m.shape[1] * map_mpp / result.slide.mpp  # level-0 px the map covers
        cover_h = m.shape[0] * map_mpp / result.slide.mpp
        full = (
            max(1, round(size[0] * cover_w / result.slide.width)),
            max(1, round(size[1] * cover_h / result.slide.height)),
        )
    else:
        full = size
    img = Image.fromarray(m, mode="F").resize(full, Image.Resampling.BILINEAR)
    out = np.zeros((size[1], size[0]), np.float32)
    a = np.asarray(img)[: size[1], : size[0]]
    out[: a.shape[0], : a.shape[1]] = a
    return out


def scale_bar(draw: ImageDraw.ImageDraw, img_size: tuple[int, int], um_per_px: float) -> None:
    """A 'nice' length scale bar (0.1, 0.2, 0.5, 1, 2, 5 mm ...) at the bottom-left corner."""
    target_um = img_size[0] * um_per_px / 5
    nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    um = max([n for n in nice if n <= target_um] or [nice[0]])
    px = um / um_per_px
    x, y = 12, img_size[1] - 18
    label = f"{um / 1000:g} mm" if um >= 1000 else f"{um:g} µm"
    f = font(14, bold=True)
    tw, th = text_size(draw, label, f)
    draw.rectangle([x - 6, y - th - 12, x + max(px, tw) + 6, y + 8], fill=(255, 255, 255, 200))
    draw.rectangle([x, y, x + px, y + 4], fill=BLACK)
    draw.text((x, y - th - 8), label, fill=BLACK, font=f)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    # zlib level 1: a quarter of level 6's CPU time on the overlay and heatmap for 5-25% more bytes (level 6
    # was a third of all writing on a 4 x 4 mm slide); optimize=True costs seconds for ~5% less.
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def jpeg_bytes(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
