"""The synthetic-slide gallery in docs/gallery: per category a whole-slide thumbnail, a low-power
(8 um/px) view and a high-power (0.5 um/px) crop of a key group, read back through ``open_slide``.

    python -m zoomgrade.synth.gallery docs/gallery [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..annotations import load_annotations
from ..atomic import atomic_write_text
from ..labels import TBSRTC
from ..slide import open_slide
from .composition import CATEGORIES
from .slide import write_slide
from .truth import truth_paths

SEED = 1_000_700
LOW_MPP, LOW_PX = 8.0, 320
HIGH_MPP, HIGH_PX = 0.5, 320
THUMB_PX = 360


def _save(img: np.ndarray, path: Path) -> None:
    # Adaptive palette PNG: a fraction of the size of truecolour, visually the same at this scale.
    Image.fromarray(img).quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )


def make_gallery(out: Path, work: Path, size_mm: float = 4.0) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, cat in enumerate(CATEGORIES):
        stain = "diffquik" if cat in ("III", "V") else "pap"
        path = work / f"gallery-{cat}.svs"
        truth = write_slide(path, cat, stain, (size_mm, size_mm), SEED + k)
        anns = load_annotations(truth_paths(path)[0])
        key = cat if cat != "I" else "II"
        cands = [a for a in anns if a.label == key] or anns
        group = sorted(cands, key=lambda a: -int(a.properties["cell_count"]))[len(cands) // 3]
        cx, cy = group.geometry.centroid.coords[0]
        with open_slide(path) as s:
            w, h = s.dimensions
            thumb = s.thumbnail(mpp=s.mpp * max(w, h) / THUMB_PX)
            lw = LOW_PX * LOW_MPP / s.mpp
            lx, ly = int(np.clip(cx - lw / 2, 0, w - lw)), int(np.clip(cy - lw / 2, 0, h - lw))
            low = s.read_region(lx, ly, int(lw), int(lw), LOW_MPP)
            hw = HIGH_PX * HIGH_MPP / s.mpp
            high = s.read_region(int(cx - hw / 2), int(cy - hw / 2), int(hw), int(hw), HIGH_MPP)
        names = {f"{cat}-{v}.png": img for v, img in (("thumbnail", thumb), ("low-8um", low), ("high-0.5um", high))}
        for name, img in names.items():
            _save(img, out / name)
        rows.append(
            {
                "category": cat,
                "stain": stain,
                "seed": SEED + k,
                "files": list(names),
                "group": f"{group.label} {group.properties['architecture']}, {group.properties['cell_count']} cells",
                "counts": truth["counts"],
            }
        )
    _index(out, rows, size_mm)
    return rows


#: What still looks unlike real thyroid FNA smears (judged against textbook pictures), worst first.
KNOWN_DIFFERENCES = (
    "Nuclei are smooth ellipses with a hard edge and an even texture; real chromatin is granular and uneven, "
    "membranes are irregular, and benign nuclei vary more in shade.",
    "Cell borders in benign sheets are drawn as overlapping circles, not the polygonal honeycomb of real sheets; "
    "cytoplasm is an even grey-green wash.",
    "Everything lies in one focal plane: no depth within thick groups, no folded or curled sheet edges besides "
    "the macrofollicle fold; out-of-focus patches are plain blurred discs.",
    "Red cells are identical biconcave discs in one tint with no stacking (rouleaux), crenation or lysis; the "
    "blood is spread evenly rather than in streaks along the smearing direction.",
    "The proteinaceous background is a uniform granular wash; fibrin strands, mucus and streaming are missing.",
    "Colloid blobs have smooth outlines; real thin colloid folds like tissue paper and thick colloid cracks in a "
    "'stained-glass' pattern with sharp angular fractures.",
    "Psammoma bodies are too regular (bull's-eye rings); macrophages lack varied vacuoles and pigment loads.",
    "Papillary fragments lack fibrovascular cores and anatomical edges (palisading, rounded tips).",
)


def _index(out: Path, rows: list[dict], size_mm: float) -> None:
    lines = [
        "# Synthetic thyroid FNA gallery",
        "",
        f"Made by `python -m zoomgrade.synth.gallery docs/gallery` ({size_mm:g} x {size_mm:g} mm slides, "
        "seeds as listed). Per TBSRTC category: the whole slide, a low-power view at 8 um/px "
        f"({LOW_PX * LOW_MPP / 1000:.2f} mm wide, centred on a group) and a high-power crop at 0.5 um/px "
        f"({HIGH_PX * HIGH_MPP:.0f} um wide) of a group of that category.",
        "",
        "| category | whole slide | low power (8 um/px) | high power (0.5 um/px) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        name = TBSRTC.category_names[r["category"]]
        t, lo, hi = r["files"]
        counts = ", ".join(f"{k}: {v}" for k, v in r["counts"].items() if v)
        lines.append(
            f"| **{r['category']}** {name}<br>{r['stain']}, seed {r['seed']}<br>groups {counts}<br>crop: {r['group']} "
            f"| ![]({t}) | ![]({lo}) | ![]({hi}) |"
        )
    lines += ["", "## What still looks wrong", ""] + [f"- {d}" for d in KNOWN_DIFFERENCES]
    atomic_write_text(out / "README.md", "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the synthetic-slide gallery.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--work", type=Path, default=None, help="where the slides go (default: a temp folder)")
    a = ap.parse_args(argv)
    if a.work:
        make_gallery(a.out, a.work)
    else:
        with tempfile.TemporaryDirectory() as d:
            make_gallery(a.out, Path(d))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
