"""report.html: one self-contained page (images inlined as data URIs) a pathologist can check in a minute:
the verdict first, then the evidence (overlay, maps, high-power crops, every region), then the cost."""

from __future__ import annotations

import base64
import datetime as _dt
from html import escape

from ..labels import LabelSet
from ..types import SlideResult
from .draw import jpeg_bytes
from .gallery import Crop
from .html_parts import CSS, cost_section, kv_table, region_table
from .withheld import forced_notice, qc_section, withheld_header

DECIDED = {
    "stage2": "stage 2 (high power)",
    "fallback": "fallback (high-power patches)",
    "stage1-budget": "stage 1 only (high-power budget spent)",
    "stage1-early-stop": "stage 1 only (not read: the slide's answer was decided)",
    "exhaustive": "exhaustive tiling",
}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(data: bytes | None, mime: str, alt: str, cls: str = "") -> str:
    if not data:
        return f'<p class="muted">{escape(alt)}: not available</p>'
    return f'<img class="{cls}" alt="{escape(alt)}" src="{data_uri(data, mime)}">'


def _hex(labels: LabelSet, grade: str) -> str:
    return "#{:02x}{:02x}{:02x}".format(*labels.color_rgb(grade))


def _header(result: SlideResult, labels: LabelSet) -> str:
    if result.withheld:  # a plain banner, never a category colour
        return withheld_header(result)
    category = result.category
    assert category is not None, "a slide that is not withheld has a category"
    a = result.adequacy
    adequacy = f"{'adequate' if a.adequate else 'NOT adequate'}: {a.reason}"
    warn = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
    return f"""
<header style="background:{_hex(labels, category)}">
  <div class="cat">{escape(category)}</div>
  <div><h1>{escape(result.category_name or "")}</h1>
  <p class="big">Risk of malignancy &asymp; {result.risk_of_malignancy:.0%} &middot; {escape(result.slide.name)}</p></div>
</header>
<section class="verdict">
  <p><b>Why:</b> {escape(result.category_reason)}</p>
  <p><b>Adequacy:</b> {escape(adequacy)}</p>
  {f'<ul class="warn">{warn}</ul>' if warn else ""}
</section>"""


def _counts(result: SlideResult, labels: LabelSet) -> str:
    rows = []
    for g in reversed(labels.fine):
        n = result.counts.get(g, 0)
        rows.append(
            f'<tr><td><span class="sw" style="background:{_hex(labels, g)}"></span>{escape(g)}</td>'
            f'<td>{escape(labels.category_names.get(g, g))}</td><td class="num">{n}</td></tr>'
        )
    return (
        '<table class="counts"><tr><th>grade</th><th>name</th><th>regions</th></tr>'
        + "".join(rows)
        + f'<tr><td></td><td><b>total</b></td><td class="num">{len(result.regions)}</td></tr></table>'
    )


def _patches(grades: list[str]) -> str:
    """' (patches: V 2, VI 1)': the fallback's votes, most frequent first."""
    if not grades:
        return ""
    votes: dict[str, int] = {}
    for g in grades:
        votes[g] = votes.get(g, 0) + 1
    text = ", ".join(f"{g} {n}" for g, n in sorted(votes.items(), key=lambda kv: -kv[1]))
    return f" (patches: {escape(text)})"


def _gallery(crops: list[Crop], labels: LabelSet, note: str | None) -> str:
    if not crops:
        return f'<p class="muted">No crops{": " + escape(note) if note else " (no regions were found)."}</p>'
    cards = []
    for c in crops:
        rg = c.grade
        fine = ", ".join(f"{g} {p:.0%}" for g, p in zip(labels.fine, rg.fine_probs) if p >= 0.05)
        coarse = ", ".join(
            f"{g.replace('_', ' ')} {p:.0%}" for g, p in zip(labels.coarse, rg.region.coarse_probs) if p >= 0.05
        )
        cards.append(f"""
<figure style="border-color:{_hex(labels, rg.fine_grade)}">
  {_img(jpeg_bytes(c.image), "image/jpeg", f"region {rg.region.id}")}
  <figcaption><b><span class="n">{c.number}</span> {escape(rg.fine_grade)} &middot;
  {escape(labels.category_names.get(rg.fine_grade, rg.fine_grade))}</b> &middot; {rg.confidence:.0%}<br>
  decided by {escape(DECIDED.get(rg.decided_by, rg.decided_by))}{_patches(rg.patch_grades)}<br>
  <span class="muted">fine: {escape(fine)}<br>stage 1: {escape(coarse)}<br>
  region {rg.region.id} &middot; ~{rg.region.cells} cells &middot; {rg.region.area_um2 / 1e3:.1f}&times;10&sup3; &micro;m&sup2;
  &middot; {c.mpp:.2g} &micro;m/px{" &middot; detail of a large region" if c.detail else ""}</span>
  {f'<br><span class="err">{escape(rg.error)}</span>' if rg.error else ""}</figcaption>
</figure>""")
    extra = f'<p class="muted">{escape(note)}</p>' if note else ""
    return f'<div class="gallery">{"".join(cards)}</div>{extra}'


def _comparison(result: SlideResult) -> str:
    """mode=both: the exhaustive baseline's answer beside the cascade's, and where they differ."""
    cmp = result.comparison
    if not cmp:
        return ""
    ex = cmp.get("exhaustive") or {}
    lines = []
    if "category" in ex:
        agree = cmp.get("category_agreement")
        mark = "same category" if agree else "DIFFERENT category" if agree is False else ""
        lines.append(
            f"<p><b>Slide category:</b> cascade {escape(result.category or 'withheld')}, exhaustive tiling "
            f"{escape(str(ex['category']))} &middot; <b>{mark}</b></p>"
        )
    if cmp.get("region_agreement") is not None:
        lines.append(
            f"<p><b>Regions:</b> {float(cmp['region_agreement']):.0%} of {cmp.get('regions_compared', '?')} "
            "regions get the same grade from the exhaustive tiles inside them.</p>"
        )
    hp, sec = cmp.get("high_power_pixels") or {}, cmp.get("seconds") or {}
    if hp.get("ratio") is not None:
        lines.append(
            f"<p><b>High-power pixels read:</b> cascade {hp.get('cascade', 0) / 1e6:.1f} MP, exhaustive "
            f"{hp.get('exhaustive', 0) / 1e6:.1f} MP ({float(hp['ratio']):.1%}).</p>"
        )
    if sec.get("cascade") is not None and sec.get("exhaustive"):
        lines.append(
            f"<p><b>Time:</b> cascade {float(sec['cascade']):.1f} s, exhaustive "
            f"{float(sec['exhaustive']):.1f} s (this machine, this run).</p>"
        )
    rest = {k: v for k, v in cmp.items() if k not in ("regions",)}
    regions = [r for r in cmp.get("regions") or [] if isinstance(r, dict)]
    differ = [r for r in regions if r.get("agree") is False]
    table = ""
    if differ:
        rows = "".join(
            f'<tr><td class="num">{escape(str(r.get("id")))}</td><td>{escape(str(r.get("cascade_grade")))}'
            f'</td><td>{escape(str(r.get("exhaustive_grade")))}</td><td class="num">'
            f"{escape(str(r.get('n_tiles', '')))}</td></tr>"
            for r in differ[:200]
        )
        table = (
            "<p>Regions graded differently:</p><table><tr><th>region</th><th>cascade</th>"
            f"<th>exhaustive</th><th>tiles</th></tr>{rows}</table>"
        )
    return (
        "<section><h2>Cascade against exhaustive tiling (mode both)</h2>"
        + "".join(lines)
        + table
        + f"<details><summary>full comparison record</summary>{kv_table(rest)}</details></section>"
    )


def _reading(result: SlideResult) -> str:
    """How much was read at high power, and why reading stopped where it did."""
    r = result.reading
    if not r:
        return ""
    if r.get("stopped"):
        text = (
            f"High power read {r['read']} of {r['regions']} regions, then stopped: {r['reason']}. The "
            f'{r["unread"]} regions not read keep their stage-1 grade (marked "not read" below).'
        )
    else:
        text = f"High power read all {r['read']} of {r['regions']} regions ({r['reason']})."
    if r.get("narrowed"):
        text += (
            f" {r['narrowed']} of the regions read were read once the category and adequacy were decided, when only"
            " the recall bound kept reading: from fewer windows each (early_stop.recall_windows)."
        )
    if r.get("unsettled"):
        text += (
            f" {r['unsettled']} regions read then keep a cell count scaled up from the windows read, not counted on"
            " the region's other windows, as no threshold decided anything by then."
        )
    return f"<section><h2>Reading</h2><p>{escape(text)}</p></section>"


def _title(result: SlideResult) -> str:
    if result.withheld:
        return "withheld (not graded)"
    return f"{'FORCED ' if result.forced_out_of_domain else ''}{result.category} {result.category_name}"


def render_report(
    result: SlideResult,
    labels: LabelSet,
    *,
    overlay_png: bytes | None,
    heatmap_png: bytes | None,
    crops: list[Crop],
    gallery_note: str | None,
) -> str:
    s = result.slide
    slide_info = {
        "file": s.path,
        "format": f"{s.backend} ({s.vendor or 'unknown vendor'})",
        "size": f"{s.width} x {s.height} px level 0",
        "resolution": f"{s.mpp:g} um/px ({s.mpp_source})"
        + (f", objective {s.objective_power:g}x" if s.objective_power else ""),
        "file size": f"{s.size_bytes / 1e6:.1f} MB",
    }
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(_title(result))} - {escape(s.name)} - zoomgrade</title>
<style>{CSS}</style></head>
<body>
{forced_notice(result)}
{_header(result, labels)}
{_reading(result)}
{qc_section(result)}
<section><h2>Regions per grade</h2>{_counts(result, labels)}</section>
<section><h2>Overview</h2>
<p class="muted">Every region found at low power, outlined in the colour of its fine grade; the numbers are the
review crops below.</p>{_img(overlay_png, "image/png", "overlay", "wide")}</section>
<section><h2>Review gallery: the most severe regions at high power</h2>
<p class="muted">Read again from the slide pyramid (not enlarged from the overview); outline = the region graded.</p>
{_gallery(crops, labels, gallery_note)}</section>
<section><h2>Stage-1 maps (low power)</h2>{_img(heatmap_png, "image/png", "stage-1 maps", "wide")}</section>
{_comparison(result)}
<section><h2>All regions</h2>{region_table(result, labels, DECIDED)}</section>
<section><h2>Cost of this run</h2>{cost_section(result.cost)}</section>
<section><h2>Slide, software and models</h2>{kv_table(slide_info)}{kv_table(result.versions)}
<details><summary>configuration</summary>{kv_table(result.config)}</details></section>
<footer>zoomgrade report &middot; {escape(when)} &middot; mode {escape(result.mode)} &middot; label set
{escape(result.label_set)} &middot; research software, not a medical device: a pathologist signs the diagnosis.</footer>
</body></html>
"""
