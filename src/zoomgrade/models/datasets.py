"""Training data from slides + QuPath GeoJSON, read through the slide layer at the inference mpp.

Stage 1: the whole slide at low power and, at map resolution, a "cell group" target (coverage of the
annotated polygons) and a coarse-grade target. Stage 2: high-power crops in and around each annotated
group labelled with its fine grade, plus "none" crops away from every group (glass, blood, colloid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from skimage.draw import polygon as draw_polygon

from ..annotations import load_annotations
from ..errors import ZoomgradeError
from ..labels import TBSRTC, LabelSet
from ..slide import open_slide

SLIDE_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".mrxs", ".scn", ".bif", ".dcm", ".png", ".jpg")


@dataclass
class SlideItem:
    slide: Path
    geojson: Path
    seed: int | None = None
    #: classification name in the annotations -> the label set's name ("-": drop), see models/names.py
    names: dict[str, str] = field(default_factory=dict)
    category: str | None = None  # slide-level truth (manifest column, or a synthetic slide's truth file)
    patient: str | None = None  # slides of one patient stay in one split
    split: str | None = None  # "train" / "val" / "test" when a manifest says so


@dataclass
class Group:
    geometry: BaseGeometry  # level-0 px
    fine: str


def find_slides(slides_dir: str | Path) -> list[SlideItem]:
    """Every slide in ``slides_dir`` with a QuPath GeoJSON beside it (same stem, ``.geojson``), or every
    slide a CSV manifest lists (``models.manifest``)."""
    d = Path(slides_dir)
    if d.is_file() and d.suffix.lower() == ".csv":
        return _manifest_items(d)
    if not d.is_dir():
        raise ZoomgradeError(f"{d}: not a directory of slides")
    items = []
    for p in sorted(d.iterdir()):
        if p.suffix.lower() in SLIDE_SUFFIXES and p.with_suffix(".geojson").exists():
            seed, category = _truth(p)
            items.append(SlideItem(p, p.with_suffix(".geojson"), seed, category=category))
    if not items:
        raise ZoomgradeError(f"{d}: no slides with a .geojson annotation file beside them")
    return items


def named_items(items: list[SlideItem], labels: LabelSet, names: dict[str, str] | None) -> list[SlideItem]:
    """``items`` with their annotations' names checked against ``labels`` after ``names`` (one error
    listing every unknown name) and the mapping attached."""
    from .names import check_names

    check_names([it.geojson for it in items], labels, names or {})
    for it in items:
        it.names = dict(names or {})
    return items


def _truth(slide: Path) -> tuple[int | None, str | None]:
    """Seed and category of a synthetic slide (its ``.truth.json``), or (None, None); an unreadable truth
    file stops the run with one line naming it, as any bad input does."""
    from ..synth.truth import read_truth

    t = read_truth(slide) or {}
    seed, category = t.get("seed"), t.get("category")
    return (seed if isinstance(seed, int) else None), (category if isinstance(category, str) else None)


def _manifest_items(path: Path) -> list[SlideItem]:
    from .manifest import read_manifest

    items = []
    for r in read_manifest(path):
        if not r["slide"].exists():
            raise ZoomgradeError(f"{path}: line {r['line']}: slide {r['slide']} not found")
        seed, category = _truth(r["slide"])
        items.append(
            SlideItem(
                r["slide"],
                r["geojson"],
                seed,
                category=r["category"] or category,
                patient=r["patient"],
                split=r["split"],
            )
        )
    return items


def split_items(items: list[SlideItem], val_fraction: float = 0.2) -> tuple[list[SlideItem], list[SlideItem]]:
    """Deterministic train/validation split by slide, or by patient, or as a manifest gives it
    (``manifest.assign_splits``); slides a manifest marks "test" are in neither list."""
    from .manifest import assign_splits

    train, val, _ = assign_splits(items, val_fraction)
    return train, val


def load_groups(item: SlideItem, labels: LabelSet = TBSRTC) -> list[Group]:
    """Annotated cell groups whose classification is a fine grade of ``labels`` (others are ignored)."""
    named = ((a, item.names.get(a.label, a.label)) for a in load_annotations(item.geojson))
    return [Group(a.geometry, name) for a, name in named if name in labels.fine]


def _polys(g: BaseGeometry) -> list[Polygon]:
    if isinstance(g, Polygon):
        return [g]
    if isinstance(g, MultiPolygon):
        return list(g.geoms)
    return [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon)]


def rasterize(groups: list[Group], shape: tuple[int, int], scale: float, value_of) -> np.ndarray:
    """Label image (shape) with ``value_of(group)`` inside each polygon scaled by ``scale`` (0 elsewhere)."""
    out = np.zeros(shape, np.uint8)
    for g in groups:
        for p in _polys(g.geometry):
            xy = np.asarray(p.exterior.coords) * scale
            rr, cc = draw_polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, shape)
            out[rr, cc] = value_of(g)
            for hole in p.interiors:
                hxy = np.asarray(hole.coords) * scale
                rr, cc = draw_polygon(hxy[:, 1] - 0.5, hxy[:, 0] - 0.5, shape)
                out[rr, cc] = 0
    return out


@dataclass
class Stage1Slide:
    image: np.ndarray  # (H, W, 3) uint8 at mpp, padded with white to multiples of 16
    group: np.ndarray  # (H/stride, W/stride) float32 target in [0, 1]
    grade: np.ndarray  # (h, w) int64 coarse index, -1 where no group
    grade_weight: np.ndarray  # (h, w) float32: group coverage of the map pixel
    groups: list[Group]
    slide_mpp: float


def stage1_slide(
    item: SlideItem,
    mpp: float = 8.0,
    stride: int = 2,
    labels: LabelSet = TBSRTC,
    supersample: int = 4,
    gain: float = 4.0,
) -> Stage1Slide:
    """The slide at ``mpp`` and its dense targets at ``mpp * stride``, rasterised ``supersample`` x finer.

    A map pixel counts as "group" in proportion to how much of it the groups cover, times ``gain``
    (saturating at coverage 1/gain), so even a 3-cell group smaller than a map pixel has pixels that
    should fire.
    """
    with open_slide(item.slide) as slide:
        W0, H0 = slide.dimensions
        img = slide.read_region(0, 0, W0, H0, mpp)
        smpp = slide.mpp
    groups = load_groups(item, labels)
    h, w = img.shape[:2]
    ph, pw = -h % 16, -w % 16
    img = np.pad(img, ((0, ph), (0, pw), (0, 0)), constant_values=255)
    H, W = img.shape[:2]
    f = stride * supersample
    lab = rasterize(
        groups,
        (H * supersample, W * supersample),
        smpp / mpp * supersample,
        lambda g: 1 + labels.coarse_index(labels.coarse_of(g.fine)),
    )
    n = len(labels.coarse)
    cover = np.stack([(lab == k + 1) for k in range(n)], 0).astype(np.float32)
    cover = cover.reshape(n, H // stride, f, W // stride, f).mean(axis=(2, 4))  # per-class coverage
    anyc = cover.sum(0)
    grade = np.where(anyc > 0, cover.argmax(0), -1).astype(np.int64)
    return Stage1Slide(img, np.clip(anyc * gain, 0, 1).astype(np.float32), grade, anyc.astype(np.float32), groups, smpp)


def window_box(cx: float, cy: float, side: float) -> Polygon:
    return box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def stage2_crops(
    item: SlideItem,
    rng: np.random.Generator,
    mpp: float = 0.5,
    size: int = 256,
    labels: LabelSet = TBSRTC,
    per_group: int = 3,
    n_none: int = 20,
    min_cover: float = 0.15,
    edge_margin: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """High-power crops: ``per_group`` windows in/around each group (label: its fine grade, when the
    window shows at least half the group or ``min_cover`` of the window is group; window centres fall
    up to ``edge_margin`` window sides beyond the group's bounds) and ``n_none`` windows that touch no
    group (label: "none" = len(labels.fine)); three quarters of those on non-white areas."""
    groups = load_groups(item, labels)
    images, ys = [], []
    with open_slide(item.slide) as slide:
        side = size * mpp / slide.mpp  # window side in level-0 px
        W0, H0 = slide.dimensions

        def read(cx: float, cy: float) -> np.ndarray:
            x, y = int(round(cx - side / 2)), int(round(cy - side / 2))
            crop = slide.read_region(x, y, int(round(side)), int(round(side)), mpp)
            return _fit(crop, size)

        for g in groups:
            x0, y0, x1, y1 = g.geometry.bounds
            got, tries = 0, 0
            while got < per_group and tries < per_group * 6:
                tries += 1
                m = edge_margin * side  # let windows hang over the group's edge
                cx, cy = rng.uniform(x0 - m, x1 + m), rng.uniform(y0 - m, y1 + m)
                inter = window_box(cx, cy, side).intersection(g.geometry).area
                if inter >= 0.5 * g.geometry.area or inter >= min_cover * side * side:
                    images.append(read(cx, cy))
                    ys.append(labels.fine_index(g.fine))
                    got += 1
        union = unary_union([g.geometry for g in groups]) if groups else Polygon()
        got, tries = 0, 0
        while got < n_none and tries < n_none * 20:
            tries += 1
            cx, cy = (
                rng.uniform(side / 2, max(W0 - side / 2, side / 2 + 1)),
                rng.uniform(side / 2, max(H0 - side / 2, side / 2 + 1)),
            )
            wb = window_box(cx, cy, side)
            if not union.is_empty and wb.intersects(union):
                continue
            crop = read(cx, cy)
            if got < 3 * n_none // 4 and crop.mean() > 235 and tries < n_none * 10:
                # three quarters on something (blood, colloid, debris), not bare glass: with half, a benign
                # held-out slide's blood on thick colloid was graded VI (seed 1000601)
                continue
            images.append(crop)
            ys.append(len(labels.fine))
            got += 1
    if not images:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int64)
    return np.stack(images), np.asarray(ys, np.int64)


def _fit(crop: np.ndarray, size: int) -> np.ndarray:
    """Pad (white) or cut a read to exactly size x size (rounding can be off by a pixel)."""
    h, w = crop.shape[:2]
    if h < size or w < size:
        crop = np.pad(crop, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), constant_values=255)
    return crop[:size, :size]


def region_windows(
    bounds: tuple[float, float, float, float],
    slide_mpp: float,
    mpp: float = 0.5,
    size: int = 256,
    max_windows: int = 16,
) -> list[tuple[int, int, int, int]]:
    """Level-0 (x, y, w, h) windows of ``size`` px at ``mpp`` covering a region's bounds (a centred grid;
    at most ``max_windows``, evenly thinned)."""
    x0, y0, x1, y1 = bounds
    side = size * mpp / slide_mpp
    nx, ny = max(1, int(np.ceil((x1 - x0) / side))), max(1, int(np.ceil((y1 - y0) / side)))
    cx0 = (x0 + x1) / 2 - (nx - 1) * side / 2
    cy0 = (y0 + y1) / 2 - (ny - 1) * side / 2
    wins = [
        (
            int(round(cx0 + i * side - side / 2)),
            int(round(cy0 + j * side - side / 2)),
            int(round(side)),
            int(round(side)),
        )
        for j in range(ny)
        for i in range(nx)
    ]
    if len(wins) > max_windows:
        idx = np.linspace(0, len(wins) - 1, max_windows).round().astype(int)
        wins = [wins[i] for i in idx]
    return wins
