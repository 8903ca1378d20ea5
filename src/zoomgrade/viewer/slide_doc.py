"""What the slide page draws, as plain JSON: the verdict, the label set's names and colours, and the regions
most severe first. Names and colours come from the result itself (its label set, then its GeoJSON
classifications), so a result graded with any label set is drawn in its own colours."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .. import labels as _labels
from .index import SlideEntry, as_dict, as_list

#: colours for grades that neither the result nor a known label set colours (distinct, colour-blind aware)
PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def _known_label_sets() -> dict[str, Any]:
    """Label sets the package ships, by name (any module-level LabelSet in ``zoomgrade.labels``)."""
    return {v.name: v for v in vars(_labels).values() if isinstance(v, _labels.LabelSet)}


def _hex(c: Any) -> str | None:
    if isinstance(c, str) and len(c) == 7 and c.startswith("#"):
        try:
            int(c[1:], 16)
            return c.lower()
        except ValueError:
            return None
    if isinstance(c, (list, tuple)) and len(c) >= 3 and all(isinstance(v, (int, float)) for v in c[:3]):
        r, g, b = (max(0, min(255, int(v))) for v in c[:3])
        return f"#{r:02x}{g:02x}{b:02x}"
    return None


def _geojson_colours(result_dir: Path | None) -> dict[str, str]:
    if result_dir is None:
        return {}
    try:
        doc = json.loads((result_dir / "regions.geojson").read_text(encoding="utf-8"))
        feats = doc.get("features") or []
    except (OSError, ValueError, AttributeError):
        return {}
    out: dict[str, str] = {}
    for f in feats if isinstance(feats, list) else []:
        cls = (f.get("properties") or {}).get("classification") if isinstance(f, dict) else None
        if isinstance(cls, dict) and isinstance(cls.get("name"), str) and _hex(cls.get("color")):
            out.setdefault(cls["name"], _hex(cls["color"]))  # type: ignore[arg-type]
    return out


def _from_definition(ld: Any) -> dict[str, Any]:
    """result.json 2.0's ``label_definition`` (the label set's file form) as fine / coarse / colors / names."""
    if not isinstance(ld, dict):
        return {}
    cats = as_dict(ld.get("categories"))
    coarse = [c for c in ld.get("coarse") or [] if isinstance(c, dict) and isinstance(c.get("name"), str)]
    colors = {str(k): v.get("colour") for k, v in cats.items() if isinstance(v, dict)}
    colors.update({c["name"]: c.get("colour") for c in coarse})
    return {
        "fine": ld.get("fine") if isinstance(ld.get("fine"), list) else None,
        "coarse": [c["name"] for c in coarse] or None,
        "colors": colors,
        "category_names": {str(k): v["name"] for k, v in cats.items() if isinstance(v, dict) and v.get("name")},
    }


def label_display(doc: dict[str, Any], result_dir: Path | None) -> dict[str, Any]:
    """``fine`` (least to most severe, or None when unknown), ``coarse``, ``names``, ``colors`` for this result."""
    own = _from_definition(doc.get("label_definition"))
    known = _known_label_sets().get(str(doc.get("label_set")))
    fine = own.get("fine") or (list(known.fine) if known else None)
    coarse = own.get("coarse") or (list(known.coarse) if known else None)
    names = dict(known.category_names) if known else {}
    if isinstance(own.get("category_names"), dict):
        names.update({str(k): str(v) for k, v in own["category_names"].items()})
    colors = dict(known.colors) if known else {}
    colors.update(_geojson_colours(result_dir))
    if isinstance(own.get("colors"), dict):
        colors.update({str(k): h for k, v in own["colors"].items() if (h := _hex(v))})
    regions = as_list(doc.get("regions"))
    seen = [str(r.get("fine_grade")) for r in regions if isinstance(r, dict) and r.get("fine_grade") is not None]
    grades = list(fine) if fine else list(dict.fromkeys(seen))
    for g in dict.fromkeys(seen):
        if g not in grades:
            grades.append(g)
    spare = iter(c for c in PALETTE if c not in colors.values())
    for g in grades:
        if g not in colors:
            colors[g] = next(spare, "#808080")
    return {
        "fine": [str(g) for g in fine] if fine else None,
        "grades": grades,
        "coarse": [str(c) for c in coarse] if coarse else None,
        "names": names,
        "colors": colors,
    }


def _probs(v: Any) -> list[float | None] | None:
    if not isinstance(v, list):
        return None
    return [float(p) if isinstance(p, (int, float)) and math.isfinite(p) else None for p in v]


def _rings(geom: Any) -> list[list[list[float]]]:
    """Exterior rings of a Polygon / MultiPolygon in level-0 px (holes are not drawn)."""
    if not isinstance(geom, dict):
        return []
    coords = geom.get("coordinates")
    polys = [coords] if geom.get("type") == "Polygon" else coords if geom.get("type") == "MultiPolygon" else []
    rings = []
    for poly in polys or []:
        if isinstance(poly, list) and poly and isinstance(poly[0], list):
            ring = [[float(p[0]), float(p[1])] for p in poly[0] if isinstance(p, list) and len(p) >= 2]
            if len(ring) >= 3:
                rings.append(ring)
    return rings


def regions_by_severity(doc: dict[str, Any], fine: list[str] | None) -> list[dict[str, Any]]:
    """Regions most severe first: by fine grade (label-set order), then fused confidence; without a known order,
    by the cascade's own severity queue (``order``)."""
    out = []
    for r in as_list(doc.get("regions")):
        if not isinstance(r, dict):
            continue
        bbox = r.get("bbox") if isinstance(r.get("bbox"), list) and len(r["bbox"]) == 4 else None
        rings = _rings(r.get("geometry"))
        if bbox is None and rings:
            xs = [p[0] for ring in rings for p in ring]
            ys = [p[1] for ring in rings for p in ring]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        if bbox is None:
            continue
        out.append(
            {
                "id": r.get("id"),
                "fine_grade": str(r.get("fine_grade")),
                "coarse_grade": r.get("coarse_grade"),
                "fine_confidence": _probs([r.get("fine_confidence")])[0],  # type: ignore[index]
                "confidence": _probs([r.get("confidence")])[0],  # type: ignore[index]
                "fine_probs": _probs(r.get("fine_probs")),
                "stage2_probs": _probs(r.get("stage2_probs")),
                "coarse_probs": _probs(r.get("coarse_probs")),
                "decided_by": r.get("decided_by"),
                "est_cells": r.get("est_cells"),
                "cells_source": r.get("cells_source"),
                "area_um2": r.get("area_um2"),
                "order": r.get("order"),
                "patch_grades": as_list(r.get("patch_grades")),
                "error": r.get("error"),
                "bbox": [float(v) for v in bbox],
                "rings": rings,
            }
        )

    def rank(r: dict[str, Any]) -> tuple:
        sev = fine.index(r["fine_grade"]) if fine and r["fine_grade"] in fine else -1
        order = r["order"] if isinstance(r["order"], int) else 1 << 30
        return (-sev, -(r["fine_confidence"] or 0.0), order) if fine else (order,)

    return sorted(out, key=rank)


def slide_document(
    entry: SlideEntry, doc: dict[str, Any], slide_error: str | None, dzi: dict[str, Any] | None
) -> dict[str, Any]:
    """The JSON the slide page is drawn from (every string is put in the page as text, never as markup)."""
    labels = label_display(doc, entry.result_dir)
    slide = as_dict(doc.get("slide"))
    return {
        "key": entry.key,
        "name": entry.name,
        "status": entry.status,
        "mode": doc.get("mode"),
        "category": doc.get("category"),
        "category_name": doc.get("category_name"),
        "risk": doc.get("risk_of_malignancy") if doc.get("category") is not None else None,
        "reason": doc.get("category_reason"),
        "adequacy": doc.get("adequacy"),
        "qc": doc.get("qc"),
        "warnings": [str(w) for w in doc.get("warnings") or [] if w is not None],
        "counts": doc.get("counts") or {},
        "labels": labels,
        "slide": {
            "width": slide.get("width"),
            "height": slide.get("height"),
            "mpp": slide.get("mpp"),
            "mpp_source": slide.get("mpp_source"),
            "path": slide.get("path"),
        },
        "regions": regions_by_severity(doc, labels["fine"]),
        "slide_error": slide_error,
        "dzi": dzi,
    }
