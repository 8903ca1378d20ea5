"""overlay.png: the low-power thumbnail with every region outlined in its fine-grade colour, a legend,
the slide category as a banner, and the review-gallery numbers beside the regions they show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance

from ..atomic import atomic_write_bytes
from ..labels import LabelSet
from ..types import SlideResult
from .draw import DARK, GREY, WHITE, display_thumbnail, font, png_bytes, scale_bar, text_size
from .gallery import review_regions
from .withheld import status_band

LEGEND_W = 350


def category_banner(result: SlideResult, labels: LabelSet, width: int) -> Image.Image:
    """The slide's verdict on a band of its category colour: category, name, risk, adequacy (a plain band
    saying so for a withheld or forced slide)."""
    if result.withheld or result.forced_out_of_domain:
        return status_band(result, width)
    assert result.category is not None, "a slide that is not withheld has a category"
    color = labels.color_rgb(result.category)
    band = Image.new("RGB", (width, 76), color)
    d = ImageDraw.Draw(band)
    title = f"{labels.abbreviation} {result.category} · {result.category_name}".lstrip()
    d.text((14, 8), title, fill=WHITE, font=font(26, bold=True))
    tw, _ = text_size(d, title, font(26, bold=True))
    d.text((14 + tw + 18, 16), f"risk of malignancy ≈ {result.risk_of_malignancy:.0%}", fill=WHITE, font=font(17))
    a = result.adequacy
    groups = f"{a.n_adequate_groups} group{'' if a.n_adequate_groups == 1 else 's'} of ≥{a.min_cells} cells"
    notes = [f"counted ≥{a.min_cells + a.count_margin}"] if a.count_margin else []
    high_power = a.n_adequate_by_source.get("high-power", a.n_adequate_groups)
    if high_power < a.n_adequate_groups:  # the rest are estimates: say how many were counted
        notes.append(f"{high_power} at high power")
    groups += f" ({'; '.join(notes)})" if notes else ""
    adequacy = f"{'adequate' if a.adequate else 'NOT adequate'}: {groups} (≥{a.min_groups} needed)"
    d.text(
        (14, 46),
        f"{result.slide.name}   ·   {adequacy}   ·   {len(result.regions)} region{'' if len(result.regions) == 1 else 's'}, {result.mode}",
        fill=WHITE,
        font=font(15),
    )
    return band


def wrap(d: ImageDraw.ImageDraw, text: str, f: object, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_size(d, f"{lines[-1]} {word}", f)[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def legend_panel(result: SlideResult, labels: LabelSet, height: int, n_review: int) -> Image.Image:
    panel = Image.new("RGB", (LEGEND_W, height), WHITE)
    d = ImageDraw.Draw(panel)
    y = 14
    d.text((14, y), "Region grade (stage 2)", fill=DARK, font=font(16, bold=True))
    y += 30
    for g in reversed(labels.fine):  # most severe on top, as a reader scans
        color = labels.color_rgb(g)
        d.rectangle([14, y + 2, 40, y + 20], outline=color, width=4)
        name = labels.category_names.get(g, g)
        n = result.counts.get(g, 0)
        f = font(14, bold=bool(n))
        for line in wrap(d, f"{g}  {name}", f, LEGEND_W - 64):
            d.text((50, y), line, fill=DARK if n else GREY, font=f)
            y += 18
        d.text((50, y), f"{n} region{'' if n == 1 else 's'}", fill=GREY, font=font(12))
        y += 24
    y += 6
    notes = []
    if n_review:
        notes.append(f"{'1' if n_review == 1 else f'1-{n_review}'}: review gallery crop{'' if n_review == 1 else 's'}")
        notes.append("(report.html), most severe first")
    notes.append("Rings mark regions too small")
    notes.append("to see at this scale.")
    notes.append("Same shapes as regions.geojson.")
    for line in notes:
        d.text((14, y), line, fill=GREY, font=font(12))
        y += 17
    return panel


def render_overlay(result: SlideResult, labels: LabelSet, slide: Any = None, n_review: int = 12) -> Image.Image:
    thumb, scale = display_thumbnail(result, slide)
    # Muted stain, so that grade colours read as outlines, not as tissue (orange colloid vs IV orange).
    canvas = ImageEnhance.Color(thumb).enhance(0.5).convert("RGBA")
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    # Least severe first, so that a malignant outline is never hidden under a benign one.
    order = sorted(result.regions, key=lambda r: labels.severity(r.fine_grade) if r.fine_grade in labels.fine else -1)
    for rg in order:
        color = labels.color_rgb(rg.fine_grade)
        geoms = getattr(rg.region.polygon, "geoms", [rg.region.polygon])
        for g in geoms:
            pts = [(x * scale, y * scale) for x, y in g.exterior.coords]
            x0, y0, x1, y1 = (
                min(p[0] for p in pts),
                min(p[1] for p in pts),
                max(p[0] for p in pts),
                max(p[1] for p in pts),
            )
            if max(x1 - x0, y1 - y0) < 16:  # too small to find by its outline alone: ring it as well
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                rr = max(x1 - x0, y1 - y0) / 2 + 7
                d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=WHITE + (200,), width=4)
                d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=color + (255,), width=2)
                if max(x1 - x0, y1 - y0) < 4:
                    continue
            d.polygon(pts, fill=color + (40,))
            d.line(pts, fill=WHITE + (230,), width=5, joint="curve")  # halo: visible on any stain
            d.line(pts, fill=color + (255,), width=3, joint="curve")
    picks = review_regions(result, labels, n_review)
    for i, rg in enumerate(picks, start=1):
        x, y, w, _h = rg.region.bbox
        cx, cy = (x + w) * scale + 4, y * scale - 4
        label = str(i)
        tw, th = text_size(d, label, font(13, bold=True))
        r = max(tw, th) / 2 + 4
        cx = min(max(cx, r), canvas.size[0] - r)
        cy = min(max(cy, r), canvas.size[1] - r)
        d.ellipse(
            [cx - r, cy - r, cx + r, cy + r],
            fill=WHITE + (235,),
            outline=labels.color_rgb(rg.fine_grade) + (255,),
            width=2,
        )
        d.text((cx, cy), label, fill=DARK, font=font(13, bold=True), anchor="mm")
    canvas = Image.alpha_composite(canvas, layer).convert("RGB")
    scale_bar(ImageDraw.Draw(canvas), canvas.size, result.slide.mpp / scale)
    legend = legend_panel(result, labels, canvas.size[1], len(picks))
    banner = category_banner(result, labels, canvas.size[0] + LEGEND_W)
    out = Image.new("RGB", (canvas.size[0] + LEGEND_W, canvas.size[1] + banner.size[1]), WHITE)
    out.paste(banner, (0, 0))
    out.paste(canvas, (0, banner.size[1]))
    out.paste(legend, (canvas.size[0], banner.size[1]))
    return out


def write_overlay(result: SlideResult, path: str | Path, labels: LabelSet, slide: Any = None) -> bytes:
    data = png_bytes(render_overlay(result, labels, slide))
    atomic_write_bytes(path, data)
    return data
