"""Ground truth beside each slide: QuPath GeoJSON of the follicular groups and a truth JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import box

from ..annotations import feature_collection, qupath_feature
from ..atomic import atomic_write_text
from ..errors import ZoomgradeError
from ..labels import TBSRTC
from . import composition as comp
from .scene import Scene


def truth_paths(slide_path: str | Path) -> tuple[Path, Path]:
    """(geojson, truth json) paths that belong to a synthetic slide: OUT.svs -> OUT.geojson, OUT.truth.json."""
    p = Path(slide_path)
    stem = p.with_suffix("") if p.suffix else p
    return stem.with_name(stem.name + ".geojson"), stem.with_name(stem.name + ".truth.json")


def read_truth(slide_path: str | Path) -> dict[str, Any] | None:
    """The truth record beside a slide (``truth_record``'s layout), or None when it has none. A truth file
    that cannot be read or is not a JSON object raises ``ZoomgradeError`` naming it and the cause: a caller
    that can go on without truth catches it."""
    path = truth_paths(slide_path)[1]
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise ZoomgradeError(f"{path}: cannot read the truth file ({err})") from err
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ZoomgradeError(f"{path}: not JSON ({err})") from err
    if not isinstance(data, dict):
        raise ZoomgradeError(f"{path}: a truth file holds one JSON object, found {type(data).__name__}")
    return data


def truth_record(
    scene: Scene, stain: str, size_mm: tuple[float, float], level_sizes: list[tuple[int, int]]
) -> dict[str, Any]:
    pairs = [(g.fine, g.cell_count) for g in scene.groups]
    category = comp.slide_category(pairs)
    counts = {f: sum(1 for g in scene.groups if g.fine == f) for f in TBSRTC.fine}
    return {
        "category": category,
        "category_name": TBSRTC.category_names[category],
        "rule": comp.RULE,
        "counts": counts,
        "counts_gradable": {
            f: sum(1 for g in scene.groups if g.fine == f and g.cell_count >= comp.GRADABLE_CELLS) for f in TBSRTC.fine
        },
        "n_groups": len(scene.groups),
        "n_adequate_groups": sum(1 for g in scene.groups if g.cell_count >= comp.ADEQUATE_CELLS),
        "n_cells": sum(g.cell_count for g in scene.groups),
        "group_area_um2": round(sum(g.polygon.area for g in scene.groups) * scene.mpp**2, 1),
        "seed": scene.seed,
        "stain": stain,
        "size_mm": [float(size_mm[0]), float(size_mm[1])],
        "mpp": scene.mpp,
        "width": scene.width,
        "height": scene.height,
        "levels": [list(s) for s in level_sizes],
        "label_set": TBSRTC.name,
        "generator": "zoomgrade.synth",
    }


def geojson(scene: Scene) -> dict[str, Any]:
    frame = box(0, 0, scene.width, scene.height)
    feats = []
    for i, g in enumerate(scene.groups):
        poly = g.polygon if frame.contains(g.polygon) else g.polygon.intersection(frame)
        feats.append(
            qupath_feature(
                poly,
                g.fine,
                TBSRTC.color_rgb(g.fine),
                measurements={"cell_count": g.cell_count, "area_um2": round(poly.area * scene.mpp**2, 1)},
                extra={"fine_category": g.fine, "cell_count": g.cell_count, "architecture": g.architecture},
                feature_id=f"group-{i}",
            )
        )
    return feature_collection(feats)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")
