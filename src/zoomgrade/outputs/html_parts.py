"""Tables and style of report.html (kept apart from the page layout in report.py)."""

from __future__ import annotations

from html import escape
from typing import Any

from ..labels import LabelSet
from ..types import CostRecord, SlideResult

MAX_TABLE_ROWS = 500  # a slide can hold thousands of groups; the full list is in result.json

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#212121;
background:#fafafa;font-size:14px}
header{display:flex;align-items:center;gap:24px;color:#fff;padding:18px 28px}
header .cat{font-size:56px;font-weight:800;border:3px solid #fff;border-radius:10px;padding:0 18px}
header h1{margin:0;font-size:30px} header .big{margin:4px 0 0;font-size:18px}
section{background:#fff;margin:14px 18px;padding:8px 18px 14px;border-radius:6px;box-shadow:0 1px 3px #0002}
h2{font-size:18px;margin:10px 0} .muted{color:#757575} .err{color:#b71c1c} .num{text-align:right}
.verdict p{margin:6px 0;font-size:15px} ul.warn{color:#e65100}
table{border-collapse:collapse;margin:6px 0} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;
vertical-align:top} th{background:#f5f5f5}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
img.wide{max-width:100%;height:auto;border:1px solid #ddd}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
figure{margin:0;border:3px solid #999;border-radius:6px;padding:6px;background:#fff}
figure img{width:100%;height:auto;display:block} figcaption{font-size:12.5px;margin-top:6px;line-height:1.45}
.n{display:inline-block;min-width:20px;text-align:center;border-radius:10px;background:#212121;color:#fff;
font-size:12px;margin-right:4px}
footer{color:#757575;font-size:12px;padding:8px 24px 24px}
details{margin-top:6px} summary{cursor:pointer;color:#1565c0}
"""


def _flat(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        out: list[tuple[str, Any]] = []
        for k, v in obj.items():
            out += _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, obj)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return f"[{len(v)} values]"
    return str(v)


def kv_table(obj: Any) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v))}</td></tr>" for k, v in _flat(obj))
    return f"<table>{rows}</table>" if rows else '<p class="muted">none</p>'


def region_table(result: SlideResult, labels: LabelSet, decided: dict[str, str]) -> str:
    if not result.regions:
        return '<p class="muted">No cell-group regions were found.</p>'
    regs = sorted(
        result.regions,
        key=lambda r: (-(labels.severity(r.fine_grade) if r.fine_grade in labels.fine else -1), -float(r.confidence)),
    )
    head = (
        "<tr><th>region</th><th>fine grade</th><th>confidence</th>"
        + "".join(f"<th>P({escape(g)})</th>" for g in labels.fine)
        + "<th>stage 1</th><th>decided by</th><th>queue</th><th>cells</th><th>x, y, w, h (level 0)</th></tr>"
    )
    rows = []
    for rg in regs[:MAX_TABLE_ROWS]:
        color = "#{:02x}{:02x}{:02x}".format(*labels.color_rgb(rg.fine_grade))
        probs = "".join(f'<td class="num">{p:.2f}</td>' for p in rg.fine_probs)
        rows.append(
            f'<tr><td class="num">{rg.region.id}</td><td><span class="sw" style="background:{color}"></span>'
            f'{escape(rg.fine_grade)}</td><td class="num">{rg.confidence:.0%}</td>{probs}'
            f"<td>{escape(rg.region.coarse_grade.replace('_', ' '))} {rg.region.confidence:.0%}</td>"
            f"<td>{escape(decided.get(rg.decided_by, rg.decided_by))}"
            + (f' <span class="err">({escape(rg.error)})</span>' if rg.error else "")
            + f'</td><td class="num">{rg.order}</td><td class="num">{rg.region.cells}</td>'
            f"<td>{', '.join(map(str, rg.region.bbox))}</td></tr>"
        )
    more = (
        f'<p class="muted">{len(regs) - MAX_TABLE_ROWS} more regions in result.json and regions.geojson.</p>'
        if len(regs) > MAX_TABLE_ROWS
        else ""
    )
    return f'<div style="overflow-x:auto"><table>{head}{"".join(rows)}</table></div>{more}'


def cost_section(cost: CostRecord) -> str:
    rows = []
    for name, st in cost.stages.items():
        rows.append(
            f'<tr><td>{escape(name)}</td><td class="num">{st.seconds:.2f}</td>'
            f'<td class="num">{st.pixels / 1e6:.2f}</td><td class="num">{st.tiles}</td>'
            f'<td class="num">{st.model_calls}</td><td class="num">{st.model_items}</td></tr>'
        )
    stages = (
        "<table><tr><th>stage</th><th>seconds</th><th>megapixels read</th><th>reads</th>"
        "<th>model calls</th><th>images through model</th></tr>" + "".join(rows) + "</table>"
    )
    by_mpp = "".join(
        f'<tr><td>{escape(k)} &micro;m/px</td><td class="num">{v / 1e6:.2f}</td>'
        f'<td class="num">{cost.tiles_by_mpp.get(k, 0)}</td></tr>'
        for k, v in sorted(cost.pixels_by_mpp.items(), key=lambda kv: float(kv[0]))
    )
    px = (
        "<table><tr><th>resolution</th><th>megapixels read</th><th>reads</th></tr>" + by_mpp + "</table>"
        if by_mpp
        else ""
    )
    return f"<p>Wall time {cost.wall_seconds:.2f} s &middot; peak memory {cost.peak_rss_mb:.0f} MB</p>" + stages + px
