"""heatmap.png: what stage 1 saw at low power, over the thumbnail, side by side:
the coarse grade where it found cell groups, P(most severe coarse grade) there, and where its attention went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from ..atomic import atomic_write_bytes
from ..labels import LabelSet
from ..types import SlideResult
from .draw import DARK, GREY, VIRIDIS, WHITE, YLORRD, colormap, display_thumbnail, font, map_to_display, png_bytes
from .withheld import stamp

PANEL_SIDE = 560
TITLE_H, FOOT_H = 58, 70


def _base(thumb: Image.Image) -> np.ndarray:
    # Grey, lightened, slightly smoothed thumbnail: the map's colours must not mix with the stain's, and
    # the smear's speckle is context here, not evidence (it also makes the PNG several times larger).
    grey = ImageOps.grayscale(thumb).filter(ImageFilter.GaussianBlur(1.0)).convert("RGB")
    return np.asarray(grey, np.float32) * 0.55 + 255 * 0.45


def _blend(base: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    a = np.clip(alpha, 0, 1)[..., None]
    return Image.fromarray(np.round(base * (1 - a) + rgb.astype(np.float32) * a).astype(np.uint8))


def _colour_bar(
    img: Image.Image, d: ImageDraw.ImageDraw, x: int, y: int, w: int, ramp: list, left: str, right: str
) -> None:
    bar = colormap(np.linspace(0, 1, w)[None, :].repeat(12, 0), ramp)
    img.paste(Image.fromarray(bar), (x, y))
    d.rectangle([x, y, x + w - 1, y + 11], outline=GREY)
    d.text((x, y + 16), left, fill=DARK, font=font(12))
    d.text((x + w, y + 16), right, fill=DARK, font=font(12), anchor="ra")


def _panel(img: Image.Image, title: str, subtitle: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    w, h = img.size
    p = Image.new("RGB", (w + 20, h + TITLE_H + FOOT_H), WHITE)
    p.paste(img, (10, TITLE_H))
    d = ImageDraw.Draw(p)
    d.text((10, 8), title, fill=DARK, font=font(16, bold=True))
    d.text((10, 32), subtitle, fill=GREY, font=font(12))
    return p, d


def render_heatmap(result: SlideResult, labels: LabelSet, slide: Any = None) -> Image.Image:
    thumb, _ = display_thumbnail(result, slide, max_side=PANEL_SIDE, min_side=PANEL_SIDE)
    size = thumb.size
    base = _base(thumb)
    maps = result.maps
    panels: list[Image.Image] = []
    foot_y = size[1] + TITLE_H + 14
    bar_w = min(size[0] - 20, 300)

    group = map_to_display(maps["group"], result, size) if maps.get("group") is not None else None
    grade = maps.get("grade")
    if grade is not None and group is not None:
        grade = np.asarray(grade, np.float32)
        chans = np.stack([map_to_display(grade[..., k], result, size) for k in range(grade.shape[-1])], -1)
        idx = chans.argmax(-1)
        lut = np.asarray([labels.color_rgb(c) for c in labels.coarse], np.uint8)
        p, d = _panel(
            _blend(base, lut[idx], group * 0.85),
            "Stage 1: coarse grade of cell groups",
            "colour = most likely coarse grade; opacity = P(cell group)",
        )
        x = 10
        for c in labels.coarse:
            d.rectangle([x, foot_y, x + 14, foot_y + 14], fill=labels.color_rgb(c))
            name = c.replace("_", " ")
            d.text((x + 20, foot_y), name, fill=DARK, font=font(12))
            x += 34 + int(d.textlength(name, font=font(12)))
        panels.append(p)
        if len(labels.coarse) > 1:  # the most severe coarse grade's probability
            top = labels.coarse[-1]
            pm = chans[..., labels.coarse_index(top)]
            p, d = _panel(
                _blend(base, colormap(pm, YLORRD), np.clip(group * 1.5, 0, 1) * 0.9),
                f"Stage 1: P({top.replace('_', ' ')})",
                "where stage 1 found cell groups (faded elsewhere)",
            )
            _colour_bar(p, d, 10, foot_y, bar_w, YLORRD, "0", "1")
            panels.append(p)
    att = maps.get("attention")
    if att is not None:
        a = map_to_display(att, result, size)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        norm = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        p, d = _panel(
            _blend(base, colormap(norm, VIRIDIS), 0.08 + 0.8 * norm),
            "Stage 1: attention",
            "where the attention block looked (scaled min to max)",
        )
        _colour_bar(p, d, 10, foot_y, bar_w, VIRIDIS, "least", "most")
        panels.append(p)
    if not panels:
        p, d = _panel(
            thumb,
            "No stage-1 maps in this result",
            f"mode {result.mode}: stage 1 did not run or its maps were not kept",
        )
        panels.append(p)
    out = Image.new("RGB", (sum(p.size[0] for p in panels), max(p.size[1] for p in panels)), WHITE)
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.size[0]
    return out


def write_heatmap(result: SlideResult, path: str | Path, labels: LabelSet, slide: Any = None) -> bytes:
    data = png_bytes(stamp(render_heatmap(result, labels, slide), result))
    atomic_write_bytes(path, data)
    return data
