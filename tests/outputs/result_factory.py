"""Results for the writers' tests: real SlideResult records (values chosen here, not from the cascade) over a real
slide file drawn in tmp_path, so the writers are tested on their own, independent of the models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import Point

from zoomgrade.labels import TBSRTC
from zoomgrade.types import Adequacy, CostRecord, Region, RegionGrade, SlideResult

SLIDE_MPP = 0.5
# (centre x, centre y, radius px, fine grade, confidence): blobs drawn on the slide and graded as such.
BLOBS = [
    (300, 300, 90, "II", 0.91),
    (900, 260, 70, "II", 0.80),
    (1500, 350, 110, "III", 0.62),
    (400, 900, 80, "IV", 0.71),
    (1000, 1000, 120, "VI", 0.95),
    (1650, 1100, 60, "V", 0.55),
    (1950, 60, 90, "II", 0.88),  # crosses the right and top edges: the GeoJSON must clip it to the slide
]


def draw_slide(path: Path, size: tuple[int, int] = (2000, 1400)) -> Path:
    """A flat PNG 'smear': pale background, dark purple blobs where the cell groups are."""
    rng = np.random.default_rng(7)
    img = Image.new("RGB", size, (236, 228, 236))
    d = ImageDraw.Draw(img)
    for cx, cy, r, _, _ in BLOBS:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(150, 110, 170))
        for _ in range(40):  # nuclei, so that the high-power crops show structure
            a, rr = rng.uniform(0, 2 * np.pi), rng.uniform(0, r * 0.85)
            x, y = cx + rr * np.cos(a), cy + rr * np.sin(a)
            d.ellipse([x - 7, y - 7, x + 7, y + 7], fill=(60, 40, 110))
    img.save(path)
    return path


def make_result(
    slide_path: Path,
    *,
    category: str = "VI",
    mode: str = "cascade",
    with_maps: bool = True,
    comparison: dict | None = None,
) -> SlideResult:
    from zoomgrade.slide import open_slide

    labels = TBSRTC
    with open_slide(slide_path, mpp=SLIDE_MPP) as slide:
        info = slide.info()
        thumb_mpp = 4.0
        thumb = slide.thumbnail(thumb_mpp)
    regions: list[RegionGrade] = []
    rng = np.random.default_rng(3)
    for i, (cx, cy, r, fine, conf) in enumerate(BLOBS):
        coarse = labels.coarse_of(fine)
        cp = np.full(len(labels.coarse), (1 - 0.7) / (len(labels.coarse) - 1))
        cp[labels.coarse_index(coarse)] = 0.7
        fp = np.full(len(labels.fine), (1 - conf) / (len(labels.fine) - 1))
        fp[labels.fine_index(fine)] = conf
        poly = Point(cx, cy).buffer(r, quad_segs=8)
        region = Region(i, poly, cp, coarse, 0.7, float(poly.area * SLIDE_MPP**2), int(poly.area * SLIDE_MPP**2 / 150))
        decided = "fallback" if conf < 0.6 else "stage2"
        regions.append(
            RegionGrade(
                region,
                fine,
                conf,
                fp,
                rng.dirichlet(np.ones(len(labels.fine))),
                decided,
                order=i,
                patch_grades=["V", "VI", "V"] if decided == "fallback" else [],
            )
        )
    counts = {g: sum(r.fine_grade == g for r in regions) for g in labels.fine}
    cost = CostRecord()
    cost.stage("stage1").seconds = 0.8
    cost.stage("stage2_read").pixels = 1_200_000
    cost.add_read(8.0, 40_000)
    cost.add_read(0.5, 1_200_000, tiles=len(regions))
    cost.wall_seconds = 2.5
    maps = {}
    if with_maps:
        map_mpp = 16.0
        h, w = int(np.ceil(info.height * SLIDE_MPP / map_mpp)), int(np.ceil(info.width * SLIDE_MPP / map_mpp))
        yy, xx = np.mgrid[0:h, 0:w] * map_mpp / SLIDE_MPP
        group = np.zeros((h, w))
        grade = np.zeros((h, w, 3))
        grade[..., 0] = 1.0
        for cx, cy, r, fine, _ in BLOBS:
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
            group[inside] = 0.9
            grade[inside] = 0.1
            grade[inside, labels.coarse_index(labels.coarse_of(fine))] = 0.8
        attention = np.exp(-((xx - 1000) ** 2 + (yy - 1000) ** 2) / 400**2.0)
        maps = {
            "thumbnail": thumb,
            "thumbnail_mpp": thumb_mpp,
            "group": group,
            "grade": grade,
            "attention": attention,
            "map_mpp": map_mpp,
        }
    return SlideResult(
        slide=info,
        mode=mode,
        label_set=labels.name,
        category=category,
        category_name=labels.category_names[category],
        risk_of_malignancy=labels.risk_of_malignancy[category],
        category_reason="one convincing malignant group (region 4, VI at 95%)",
        adequacy=Adequacy(True, len(regions), 6, 6, 10, "6 groups of at least 10 cells"),
        counts=counts,
        regions=regions,
        cost=cost,
        config={"stage2": {"threshold": 0.6}, "mode": mode},
        versions={"zoomgrade": "0.1.0", "stage1": "stage1-test 0", "stage2": "stage2-test 0"},
        maps=maps,
        comparison=comparison,
        warnings=[],
    )


def save_with_slide(result: SlideResult, out_dir: Path) -> Path:
    """``save_result`` as the CLI calls it: with the slide the result was graded from, open."""
    from zoomgrade.outputs import save_result
    from zoomgrade.slide import open_slide

    with open_slide(result.slide.path, mpp=SLIDE_MPP) as slide:
        return save_result(result, out_dir, slide=slide)
