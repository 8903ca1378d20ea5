"""``write_slide``: one synthetic slide (pyramidal Aperio TIFF) with its truth, rendered on a process pool."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import composition as comp
from .pyramid import downsample, encode_tile, write_pyramid
from .render import Renderer
from .scene import Scene, build_scene
from .stains import STAINS
from .truth import geojson, truth_paths, truth_record, write_json

TILE = 512
QUALITY = 88
MPP = 0.25

_worker: dict[str, Any] = {}  # per worker process: the renderer and its cache of plain tiles


def _init(scene: Scene, step: int) -> None:
    _worker.clear()
    _worker.update(renderer=Renderer(scene), step=step, cache={})


def _render_row(j: int) -> tuple[list[bytes], np.ndarray]:
    """Encoded level-0 tiles of tile row j and the row downsampled by the level step."""
    r: Renderer = _worker["renderer"]
    step: int = _worker["step"]
    cache: dict[float, tuple[bytes, np.ndarray]] = _worker["cache"]
    s = r.scene
    y0 = j * TILE
    cols = -(-s.width // TILE)
    rows = r.touching(0, y0, cols * TILE, y0 + TILE)
    tiles, strips = [], []
    for c in range(cols):
        x0 = c * TILE
        hit = r.touching(x0, y0, x0 + TILE, y0 + TILE, rows)
        flat = None if any(len(v) for v in hit.values()) else r.flat_tint(x0, y0, TILE, TILE)
        if flat is not None and flat in cache:
            data, small = cache[flat]
        else:
            rgb = r.render(x0, y0, TILE, TILE, hit, flat)
            data, small = encode_tile(rgb, QUALITY), downsample(rgb, step)
            if flat is not None:
                cache[flat] = (data, small)
        tiles.append(data)
        strips.append(small)
    return tiles, np.concatenate(strips, axis=1)


def _rows(scene: Scene, step: int, workers: int, progress: Callable[[int, int], None] | None) -> Iterator[tuple[list[bytes], np.ndarray]]:
    n = -(-scene.height // TILE)
    if workers <= 1:
        _init(scene, step)
        results: Iterator = map(_render_row, range(n))
        pool = None
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(workers, initializer=_init, initargs=(scene, step))
        results = pool.imap(_render_row, range(n), chunksize=1)
    try:
        for j, res in enumerate(results):
            if progress:
                progress(j + 1, n)
            yield res
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def write_slide(
    out_path: str | Path,
    category: str = "II",
    stain: str = "pap",
    size_mm: tuple[float, float] = (4, 4),
    seed: int = 0,
    level_step: int = 4,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write OUT.svs, OUT.geojson and OUT.truth.json; return the truth record.

    Same arguments give the same bytes (``workers`` changes speed only). ``progress(done, total)`` is
    called per level-0 tile row.
    """
    if category not in comp.CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(comp.CATEGORIES)}")
    if stain not in STAINS:
        raise ValueError(f"unknown stain {stain!r}; expected one of {', '.join(STAINS)}")
    if level_step not in (2, 4):
        raise ValueError("level_step must be 2 or 4")
    size = (float(size_mm[0]), float(size_mm[1]))
    if min(size) <= 0 or max(size) > 60:
        raise ValueError(f"size_mm {size} out of range (0, 60] mm")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    scene = build_scene(category, stain, size, int(seed), MPP)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    tmp = out.with_name(out.name + ".part")
    sizes = write_pyramid(tmp, scene.width, scene.height, _rows(scene, level_step, workers, progress),
                          tile=TILE, level_step=level_step, quality=QUALITY, mpp=MPP,
                          extra_desc=f"|ScanScope ID = ZOOMGRADE-SYNTH|Title = synthetic thyroid FNA ({stain})")
    tmp.replace(out)
    truth = truth_record(scene, stain, size, sizes)
    gj_path, truth_path = truth_paths(out)
    write_json(gj_path, geojson(scene))
    write_json(truth_path, truth)
    return truth
