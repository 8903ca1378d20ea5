"""``write_set``: a balanced set of synthetic slides (I-VI) with a manifest and a train/val/test split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .composition import CATEGORIES
from .slide import write_slide
from .truth import truth_paths, write_json

SPLITS = (("train", 0.7), ("val", 0.15), ("test", 0.15))


def plan_set(n: int, seed: int) -> list[dict[str, Any]]:
    """What each slide of the set will be: category balanced over I-VI, stain alternating at random,
    slide seeds ``seed + k`` (distinct), split assigned per category so every split sees every category."""
    if n < 1:
        raise ValueError("n must be >= 1")
    rng = np.random.default_rng([seed, 4242])
    cats = [CATEGORIES[k % len(CATEGORIES)] for k in range(n)]
    order = rng.permutation(n)
    plan = []
    for k in range(n):
        plan.append(
            {
                "name": f"synth-{seed + k:07d}-{cats[order[k]]}",
                "category": cats[order[k]],
                "stain": "pap" if rng.random() < 0.6 else "diffquik",
                "seed": seed + k,
            }
        )
    for cat in CATEGORIES:
        members = [p for p in plan if p["category"] == cat]
        m = len(members)
        n_test = int(round(m * SPLITS[2][1])) if m >= 3 else 0
        n_val = int(round(m * SPLITS[1][1])) if m >= 3 else 0
        for i, p in enumerate(members):
            p["split"] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return plan


def write_set(
    out_dir: str | Path,
    n: int,
    seed: int,
    size_mm: tuple[float, float] = (4, 4),
    *,
    level_step: int = 4,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Write ``n`` slides to ``out_dir`` plus ``manifest.json``; returns the manifest.

    Slides already present with a truth file are kept (a stopped run resumes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, p in enumerate(plan_set(n, seed)):
        path = out / f"{p['name']}.svs"
        gj, tj = truth_paths(path)
        if progress:
            progress(k, n, p["name"])
        if not (path.exists() and tj.exists() and gj.exists()):
            write_slide(path, p["category"], p["stain"], size_mm, p["seed"], level_step, workers=workers)
        entries.append({**p, "slide": path.name, "geojson": gj.name, "truth": tj.name})
    if progress:
        progress(n, n, "")
    manifest = {
        "generator": "zoomgrade.synth",
        "seed": seed,
        "n": n,
        "size_mm": [float(size_mm[0]), float(size_mm[1])],
        "splits": {name: [e["name"] for e in entries if e["split"] == name] for name, _ in SPLITS},
        "slides": entries,
    }
    write_json(out / "manifest.json", manifest)
    return manifest
