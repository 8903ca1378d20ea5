"""How much of the true cell-group area the exhaustive baseline's tissue mask (and its tile plan) covers.

``python -m zoomgrade.bench.mask_coverage --n 12 --seed 5000 --workdir /tmp/maskdev`` generates 4x4 mm
slides with truth (plan as ``bench.agreement``: categories I..VI in turn, stains alternating every six),
or ``--slides A.svs B.svs`` measures existing ones (each with its ``.geojson``). Per slide: the mask's
fraction of the slide, the fraction of truth group area (groups of >= ``--min-cells`` cells) inside the
mask and inside the planned tiles, the worst single group's tile coverage, and the high-power pixels read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from skimage.draw import polygon as fill_polygon

from ..annotations import load_annotations
from ..atomic import atomic_write_text
from ..cascade.config import ExhaustiveConfig, default_config
from ..cascade.exhaustive import plan_tiles
from ..cascade.tissue import tissue_mask, tissue_mask_kwargs

TRUTH_MPP = 2.0  # raster of the truth groups, um/px: fine enough for 50-400 um groups


def _tile_raster(plan, slide_mpp: float, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    k = slide_mpp / TRUTH_MPP
    for x, y, w, h in plan.boxes:
        out[int(y * k) : int(np.ceil((y + h) * k)), int(x * k) : int(np.ceil((x + w) * k))] = True
    return out


def measure(svs: Path, ex: ExhaustiveConfig, tile_px: int = 128, min_cells: int = 10) -> dict:
    from ..slide import open_slide

    with open_slide(svs) as slide:
        thumb = np.asarray(slide.thumbnail(ex.mask_mpp))
        W, H = slide.dimensions
        smpp = float(slide.mpp)
    t0 = time.perf_counter()
    mask = tissue_mask(thumb, **tissue_mask_kwargs(ex))
    mask_s = time.perf_counter() - t0
    mask_mpp = W * smpp / max(1, thumb.shape[1])
    plan = plan_tiles((W, H), smpp, mask, mask_mpp, tile_px, ex.mpp, ex.min_tissue_fraction)
    shape = (int(np.ceil(H * smpp / TRUTH_MPP)), int(np.ceil(W * smpp / TRUTH_MPP)))
    # The mask upsampled (nearest) onto the truth raster.
    ry = np.minimum((np.arange(shape[0]) * TRUTH_MPP / mask_mpp).astype(int), mask.shape[0] - 1)
    rx = np.minimum((np.arange(shape[1]) * TRUTH_MPP / mask_mpp).astype(int), mask.shape[1] - 1)
    mask_up = mask[np.ix_(ry, rx)]
    tiles_up = _tile_raster(plan, smpp, shape)
    k = smpp / TRUTH_MPP
    total = in_mask = in_tiles = 0
    worst = 1.0
    groups = [
        a for a in load_annotations(svs.with_suffix(".geojson")) if int(a.properties.get("cell_count", 0)) >= min_cells
    ]
    for a in groups:
        geoms = getattr(a.geometry, "geoms", [a.geometry])
        g = np.zeros(shape, bool)
        for p in geoms:
            xy = np.asarray(p.exterior.coords) * k
            rr, cc = fill_polygon(xy[:, 1], xy[:, 0], shape)
            g[rr, cc] = True
        n = int(g.sum())
        if n == 0:
            continue
        total += n
        in_mask += int((g & mask_up).sum())
        t = int((g & tiles_up).sum())
        in_tiles += t
        worst = min(worst, t / n)
    return {
        "slide": svs.name,
        "groups": len(groups),
        "mask_fraction": float(mask.mean()),
        "group_cov_mask": in_mask / total if total else 1.0,
        "group_cov_tiles": in_tiles / total if total else 1.0,
        "worst_group_tiles": worst,
        "tiles": len(plan.boxes),
        "hp_mpx": len(plan.boxes) * tile_px * tile_px / 1e6,
        "mask_seconds": mask_s,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m zoomgrade.bench.mask_coverage", description=__doc__.split("\n")[0])
    ap.add_argument("--slides", nargs="*", type=Path, default=[], help="existing .svs files with .geojson truth")
    ap.add_argument("--n", type=int, default=0, help="generate this many slides (plan as bench.agreement)")
    ap.add_argument("--seed", type=int, default=5000)
    ap.add_argument("--size-mm", nargs=2, type=float, default=(4.0, 4.0))
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/maskcov"), help="generated slides are kept here")
    ap.add_argument("--tile-px", type=int, default=128, help="exhaustive tile side at --mpp")
    ap.add_argument("--mpp", type=float, default=0.5, help="exhaustive.mpp (the shipped stage 2's input_mpp)")
    ap.add_argument("--min-cells", type=int, default=10)
    ap.add_argument("--json", type=Path, help="also write the rows here (JSON lines)")
    args = ap.parse_args(argv)
    slides = list(args.slides)
    if args.n:
        from ..synth import write_slide
        from .agreement import plan

        args.workdir.mkdir(parents=True, exist_ok=True)
        for _, seed, cat, stain in plan(args.n, args.seed):
            p = args.workdir / f"s{seed}-{cat}-{stain}.svs"
            if not p.exists() or not p.with_suffix(".geojson").exists():
                write_slide(p, cat, stain, tuple(args.size_mm), seed)
            slides.append(p)
    ex = dataclasses.replace(default_config().exhaustive, mpp=args.mpp)
    rows = [measure(p, ex, args.tile_px, args.min_cells) for p in slides]
    print(f"{'slide':28s} {'groups':>6s} {'mask%':>6s} {'cov_mask':>8s} {'cov_tile':>8s} {'worst':>6s} {'hp_Mpx':>7s}")
    for r in rows:
        print(
            f"{r['slide']:28s} {r['groups']:6d} {100 * r['mask_fraction']:6.1f} {r['group_cov_mask']:8.4f} "
            f"{r['group_cov_tiles']:8.4f} {r['worst_group_tiles']:6.3f} {r['hp_mpx']:7.1f}"
        )
    if rows:
        mean_mask = 100 * np.mean([r["mask_fraction"] for r in rows])
        print(
            f"min cov_mask {min(r['group_cov_mask'] for r in rows):.4f}  min cov_tile "
            f"{min(r['group_cov_tiles'] for r in rows):.4f}  mean mask% {mean_mask:.1f}"
        )
    if args.json:
        atomic_write_text(args.json, "".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
