"""The fast nuclei count gives exactly the counts of the straightforward version kept here as reference.

Windows come from small generated slides (both stains, several categories): inside truth groups, on the
groups' edges and on the background, at two resolutions and two settings of the adequacy config.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage
from shapely.affinity import scale as shapely_scale
from shapely.geometry import Point, Polygon, box

from zoomgrade.annotations import load_annotations
from zoomgrade.cascade.cellcount import (
    count_cells,
    count_region,
    mosaic,
    nuclear_mask,
    polygon_mask,
)
from zoomgrade.cascade.config import AdequacyConfig
from zoomgrade.slide import open_slide
from zoomgrade.synth import write_slide

CFG = AdequacyConfig()
# other thresholds: non-integer ones, a wider gap in px, groups of three, all of a window's groups counted
ODD = replace(
    CFG,
    nuclear_grey_max=101.7,
    nuclear_blue_margin=4.5,
    nuclei_gap_um=13.0,
    min_nuclei_per_group=3,
    min_nucleus_um2=6.0,
    nucleus_um2=30.0,
    core_grey_max=95.5,
    core_um2=20.0,
    largest_group=False,
)
AREA_ONLY = replace(CFG, core_grey_max=0.0)  # merged components by area alone
ALL_GROUPS = replace(CFG, largest_group=False)  # a region's groups counted together


# ---- the reference: the straightforward implementation the fast one replaced ----------------------


def ref_nuclear_mask(img: np.ndarray, cfg: AdequacyConfig) -> np.ndarray:
    f = img.astype(np.int16)
    grey = f.sum(axis=-1) / 3.0
    return (grey < cfg.nuclear_grey_max) & (f[..., 2] > f[..., 0] + cfg.nuclear_blue_margin)


def ref_count_cells(img: np.ndarray, mpp: float, cfg: AdequacyConfig, inside: np.ndarray | None = None) -> int:
    m = ref_nuclear_mask(img, cfg)
    if inside is not None:
        m &= inside
    lab, n = ndimage.label(m)
    if n == 0:
        return 0
    areas = np.bincount(lab.ravel(), minlength=n + 1)[1:] * (mpp * mpp)
    keep = areas >= cfg.min_nucleus_um2
    cells = np.where(keep, np.maximum(1.0, np.round(areas / cfg.nucleus_um2)), 0.0)
    if cfg.core_grey_max > 0:  # merged components count their dark cores where they have any
        grey = img.astype(np.float64).sum(axis=-1) / 3.0
        for k in np.flatnonzero(keep & (areas > 1.5 * cfg.nucleus_um2)):
            clab, cn = ndimage.label((lab == k + 1) & (grey < cfg.core_grey_max))
            core_areas = np.bincount(clab.ravel(), minlength=cn + 1)[1:] * (mpp * mpp)
            core_areas = core_areas[core_areas >= 4.0]
            if core_areas.size:
                cells[k] = np.maximum(1.0, np.round(core_areas / cfg.core_um2)).sum()
    kept = np.concatenate([[False], keep])[lab]
    gap_px = max(1, int(round(cfg.nuclei_gap_um / mpp / 2)))
    groups, n_groups = ndimage.label(ndimage.binary_dilation(kept, iterations=gap_px))
    owner = np.asarray(ndimage.maximum(groups, lab, np.arange(1, n + 1)), dtype=np.int64)
    per_group = np.bincount(owner[keep], weights=cells[keep], minlength=n_groups + 1)
    ok = per_group[per_group >= cfg.min_nuclei_per_group]
    if not ok.size:
        return 0
    return int(ok.max() if cfg.largest_group else ok.sum())


def ref_polygon_mask(poly, b: tuple[int, int, int, int], out_size: int, out_h: int | None = None) -> np.ndarray:
    x, y, w, h = b
    out_h = out_size if out_h is None else out_h
    sx, sy = out_size / w, out_h / h
    canvas = Image.new("1", (out_size, out_h), 0)
    draw = ImageDraw.Draw(canvas)
    for g in getattr(poly, "geoms", [poly]):
        xs, ys = np.asarray(g.exterior.coords).T
        draw.polygon(list(zip(((xs - x) * sx).tolist(), ((ys - y) * sy).tolist())), fill=1)
    return np.asarray(canvas, dtype=bool)


def ref_count_region(images, boxes, poly, mpp, cfg, margin_px) -> int:
    grown = poly.buffer(margin_px) if margin_px > 0 else poly
    joined = mosaic(images, boxes)  # windows of one grid are counted as one image (test_cellcount.py checks it)
    if joined is not None:
        img, b = joined
        return ref_count_cells(img, mpp, cfg, ref_polygon_mask(grown, b, img.shape[1], img.shape[0]))
    counts = [ref_count_cells(img, mpp, cfg, ref_polygon_mask(grown, b, img.shape[0])) for img, b in zip(images, boxes)]
    return max(counts, default=0) if cfg.largest_group else sum(counts)


# ---- generated windows --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, list]]:
    out = []
    for cat, stain, seed in (("II", "pap", 11), ("V", "diffquik", 12), ("VI", "pap", 13), ("IV", "diffquik", 14)):
        path = tmp_path_factory.mktemp("cellcount") / f"{cat}-{stain}.svs"
        write_slide(path, cat, stain, (1, 1), seed)
        out.append((path, [a.geometry for a in load_annotations(path.with_suffix(".geojson"))]))
    return out


def windows(slide, polys, mpp: float, size: int = 128):
    """Boxes tiling each truth group's bounds (centre, edges) plus a grid over the whole slide."""
    side = int(round(size * mpp / slide.mpp))
    boxes = []
    for g in polys:
        x0, y0, x1, y1 = (int(v) for v in g.bounds)
        boxes += [(x, y, side, side) for y in range(y0 - side // 3, y1, side) for x in range(x0 - side // 3, x1, side)]
    w, h = slide.dimensions
    boxes += [(x, y, side, side) for y in range(0, h - side, 3 * side) for x in range(0, w - side, 3 * side)]
    return boxes, np.stack([slide.read_region(*b, mpp) for b in boxes])


@pytest.mark.slow
@pytest.mark.parametrize("mpp", [0.5, 1.0])
def test_counts_equal_reference_on_generated_slides(slides, mpp):
    n_windows = n_nonzero = 0
    for path, polys in slides:
        with open_slide(path) as slide:
            boxes, imgs = windows(slide, polys, mpp)
        for cfg in (CFG, ODD, AREA_ONLY, ALL_GROUPS):
            for img, b in zip(imgs, boxes):
                assert np.array_equal(nuclear_mask(img, cfg), ref_nuclear_mask(img, cfg))
                want = ref_count_cells(img, mpp, cfg)
                assert count_cells(img, mpp, cfg) == want, (path.name, b)
                n_windows += 1
                n_nonzero += want > 0
        for g in polys:  # the region path: outline masks, grown outlines, windows inside and across them
            sel = [i for i, b in enumerate(boxes) if g.intersects(box(b[0], b[1], b[0] + b[2], b[1] + b[3]))]
            for margin, cfg in ((0.0, CFG), (32.0, CFG), (32.0, ALL_GROUPS)):
                got = count_region(imgs[sel], [boxes[i] for i in sel], g, mpp, cfg, margin, overlays=False)
                assert got == ref_count_region(imgs[sel], [boxes[i] for i in sel], g, mpp, cfg, margin)
    assert n_nonzero > n_windows / 5  # the comparison is over windows that have cells, not blanks


def test_colour_thresholds_equal_the_float_tests():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    img[:16, :16] = rng.integers(30, 140, (16, 16, 3))  # near the default thresholds
    # 10 - 1e-15: float rounding makes b > r + margin differ from any integer test on b - r
    for grey, margin in ((120.0, 10.0), (119.9, 9.5), (0.0, 0.0), (255.0, -20.0), (120.0, 10 - 1e-15), (300.0, 300.0)):
        cfg = replace(CFG, nuclear_grey_max=grey, nuclear_blue_margin=margin)
        assert np.array_equal(nuclear_mask(img, cfg), ref_nuclear_mask(img, cfg)), (grey, margin)
    f = img.astype(np.float32)  # non-uint8 input keeps the float test
    assert np.array_equal(nuclear_mask(f, CFG), ref_nuclear_mask(f, CFG))


def test_region_masks_equal_reference_inside_across_and_outside_outlines():
    rng = np.random.default_rng(2)
    blob = shapely_scale(Point(0, 0).buffer(1.0, quad_segs=6), 900, 600).buffer(0)
    two = blob.union(Point(2500, 0).buffer(300))  # a MultiPolygon
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    img[rng.random((128, 128)) < 0.3] = (45, 55, 125)  # nuclear specks everywhere: every mask pixel matters
    for poly in (blob, two, Polygon([(0, 0), (300, 40), (100, 500)])):
        for _ in range(40):
            x, y = rng.uniform(-1300, 2900), rng.uniform(-900, 900)
            b = (int(x), int(y), 256, 256)
            assert np.array_equal(polygon_mask(poly, b, 128), ref_polygon_mask(poly, b, 128))
            for margin, cfg in ((0.0, CFG), (16.0, CFG), (16.0, ALL_GROUPS)):
                assert count_region(img[None], [b], poly, 0.5, cfg, margin, overlays=False) == ref_count_region(
                    img[None], [b], poly, 0.5, cfg, margin
                )
    deep = (-128, -128, 256, 256)  # well inside blob: the unmasked path
    assert ref_polygon_mask(blob, deep, 128).all()
    assert count_region(img[None], [deep], blob, 0.5, CFG, 0.0, overlays=False) == ref_count_cells(img, 0.5, CFG) > 0
