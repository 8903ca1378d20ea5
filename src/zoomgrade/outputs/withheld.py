"""How every output says that a slide was withheld (no category) or graded by force outside the models'
domain, and the quality-control table at the top of the report (zoomgrade.qc)."""

from __future__ import annotations

from html import escape
from typing import Any

from PIL import Image, ImageDraw
from shapely.geometry import shape

from ..annotations import qupath_feature
from ..types import SlideResult
from .draw import WHITE, font

GREY_BAND = (96, 96, 96)
FORCED_BAND = (150, 30, 30)
WITHHELD_CLASS = "Withheld (not graded)"


def status_line(result: SlideResult) -> str | None:
    """One line for images and titles; None for an ordinary graded slide."""
    if result.withheld:
        return "WITHHELD: no category. " + "; ".join(result.withheld_reasons)
    if result.forced_out_of_domain:
        return "FORCED outside the models' domain: this category has no validity. " + "; ".join(result.withheld_reasons)
    return None


def status_band(result: SlideResult, width: int) -> Image.Image:
    """A plain band for the top of overlay.png / heatmap.png of a withheld or forced slide."""
    band = Image.new("RGB", (width, 76), GREY_BAND if result.withheld else FORCED_BAND)
    d = ImageDraw.Draw(band)
    title = "Not graded: slide withheld" if result.withheld else "FORCED: graded outside the models' domain"
    d.text((14, 8), title, fill=WHITE, font=font(26, bold=True))
    why = "; ".join(result.withheld_reasons) or "see result.json"
    d.text((14, 46), (result.slide.name + "  ·  " + why)[:200], fill=WHITE, font=font(15))
    return band


def stamp(img: Image.Image, result: SlideResult) -> Image.Image:
    """``img`` with the status band above it (unchanged for an ordinary graded slide)."""
    if status_line(result) is None:
        return img
    band = status_band(result, img.size[0])
    out = Image.new("RGB", (img.size[0], img.size[1] + band.size[1]), WHITE)
    out.paste(band, (0, 0))
    out.paste(img, (0, band.size[1]))
    return out


def withheld_header(result: SlideResult) -> str:
    reasons = "".join(f"<li>{escape(r)}</li>" for r in result.withheld_reasons)
    warn = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
    return f"""
<header style="background:#606060">
  <div class="cat">&ndash;</div>
  <div><h1>Not graded: slide withheld</h1>
  <p class="big">No category is given &middot; {escape(result.slide.name)}</p></div>
</header>
<section class="verdict">
  <p><b>Why:</b></p><ul class="warn">{reasons}</ul>
  <p class="muted">zoomgrade grades only what its models were trained on and what they can see. Check the slide
  (stain, scanner, resolution, focus), or grade it by hand.</p>
  {f'<ul class="warn">{warn}</ul>' if warn else ""}
</section>"""


def forced_notice(result: SlideResult) -> str:
    if not result.forced_out_of_domain:
        return ""
    reasons = "".join(f"<li>{escape(r)}</li>" for r in result.withheld_reasons)
    return (
        '<section class="verdict" style="border-left:6px solid #962020"><p><b>FORCED outside the models\' '
        "domain (research option):</b> this slide would have been withheld; the category below has no "
        f'validity.</p><ul class="warn">{reasons}</ul></section>'
    )


def qc_section(result: SlideResult) -> str:
    if not result.qc and not result.domain:
        return ""
    rows = []
    for r in result.qc:
        v, t = r.get("value"), r.get("threshold")
        rows.append(
            f"<tr><td>{escape(str(r.get('name')))}</td><td><b>{escape(str(r.get('verdict')))}</b></td>"
            f'<td class="num">{"" if v is None else f"{float(v):.3g}"}</td>'
            f'<td class="num">{"" if t is None else f"{float(t):.3g}"}</td><td>{escape(str(r.get("detail")))}</td></tr>'
        )
    dom = result.domain or {}
    if dom.get("slide_score") is not None:
        ok = "pass" if dom.get("in_domain") else "fail"
        rows.append(
            f'<tr><td>domain</td><td><b>{ok}</b></td><td class="num">{float(dom["slide_score"]):.3g}</td>'
            f'<td class="num">{float(dom["slide_threshold"]):.3g}</td><td>typical distance of the stained '
            f"material from the training domain (Mahalanobis, stage-1 features); {dom.get('n_regions_out', 0)} of {dom.get('n_regions', 0)} "
            "regions out of domain (not used as evidence)</td></tr>"
        )
    elif dom.get("note"):
        rows.append(f"<tr><td>domain</td><td>&ndash;</td><td></td><td></td><td>{escape(dom['note'])}</td></tr>")
    return (
        "<section><h2>Quality control and domain</h2><table><tr><th>check</th><th>verdict</th><th>value</th>"
        "<th>threshold</th><th>what it means</th></tr>" + "".join(rows) + "</table></section>"
    )


def candidate_features(result: SlideResult) -> list[dict[str, Any]]:
    """A withheld slide's stage-1 candidate regions as QuPath objects (grey, "Withheld (not graded)"), with
    their domain scores: where the cell groups were found, without a grade."""
    out = []
    for r in (result.domain or {}).get("regions", []):
        try:
            geom = shape(r["geometry"])
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        score = r.get("score")
        out.append(
            qupath_feature(
                geom,
                WITHHELD_CLASS,
                GREY_BAND,
                object_type="annotation",
                measurements={
                    "region id": float(r["id"]),
                    **({"domain score": float(score)} if score is not None else {}),
                },
                extra={
                    "name": f"region {r['id']}: not graded (slide withheld)",
                    "withheld": True,
                    "in_domain": r.get("in_domain"),
                },
            )
        )
    return out
