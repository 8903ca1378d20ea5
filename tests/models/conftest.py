"""Tiny annotated slides for the model tests: a plain tiled TIFF (resolution tags give the mpp) with
"cell groups" (disks of nuclei whose size/darkness depends on the fine grade) and a QuPath GeoJSON.
Small on purpose: the real synthetic slides are exercised by the training run, not by unit tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from shapely.geometry import Point

from zoomgrade.annotations import feature_collection, qupath_feature
from zoomgrade.labels import TBSRTC

SLIDE_MPP = 0.5


def write_tiny_slide(path: Path, seed: int, size: int = 1536, n_groups: int = 6) -> list[tuple]:
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 240, np.uint8)
    img = (img - rng.integers(0, 12, img.shape)).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    feats, groups = [], []
    for i in range(n_groups):
        fine = TBSRTC.fine[(seed + i) % len(TBSRTC.fine)]
        k = TBSRTC.fine_index(fine)
        r = rng.uniform(90, 140)
        cx, cy = rng.uniform(r + 10, size - r - 10, 2)
        if any((cx - gx) ** 2 + (cy - gy) ** 2 < (r + gr + 20) ** 2 for gx, gy, gr, _ in groups):
            continue
        y0, y1, x0, x1 = int(cy - r), int(cy + r) + 2, int(cx - r), int(cx + r) + 2
        sub, sy, sx = img[y0:y1, x0:x1], yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]  # views: draw locally
        sub[(sx - cx) ** 2 + (sy - cy) ** 2 < r * r] = (200 - 10 * k, 190 - 5 * k, 215)
        # nuclei: bigger and paler with severity
        nr = 4 + 2 * k
        for _ in range(int(r * r / (nr * nr * 6))):
            a, d = rng.uniform(0, 2 * np.pi), r * np.sqrt(rng.uniform(0, 0.8))
            nx, ny = cx + d * np.cos(a), cy + d * np.sin(a)
            sub[(sx - nx) ** 2 + (sy - ny) ** 2 < nr * nr] = (60 + 25 * k, 50 + 15 * k, 120 + 10 * k)
        groups.append((cx, cy, r, fine))
        poly = Point(cx, cy).buffer(r, 16)
        feats.append(qupath_feature(poly, fine, TBSRTC.color_rgb(fine)))
    tifffile.imwrite(
        path,
        img,
        tile=(256, 256),
        photometric="rgb",
        resolution=(1e4 / SLIDE_MPP, 1e4 / SLIDE_MPP),
        resolutionunit="CENTIMETER",
    )
    path.with_suffix(".geojson").write_text(json.dumps(feature_collection(feats)))
    path.with_name(path.stem + ".truth.json").write_text(json.dumps({"seed": seed}))
    return groups


@pytest.fixture(scope="session")
def tiny_slides(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiny_slides")
    for s in range(1_000_000, 1_000_004):
        write_tiny_slide(d / f"tiny_{s}.tif", s)
    return d


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread in these tests: on a busy 2-core machine two OpenMP threads spin against each
    other (a training step measured 0.5 s with one thread, 3.6-9.7 s with two). Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_slide_writer():
    """``write_tiny_slide`` for tests that build their own (small, odd) sets."""
    return write_tiny_slide
