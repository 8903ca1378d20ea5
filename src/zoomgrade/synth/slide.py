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

#: level-0 pixels rendered at once (the renderer's per-call cost favours big blocks)
RENDER = 512
#: the file's JPEG tile side, as Aperio scanners write (240-256 px): a high-power window reads one or a
#: few small tiles instead of decoding a 512 px tile for a 256 px window. JPEG's 16 px blocks divide
#: both sizes, so the pixels match a 512 px tiling apart from chroma upsampling at the new tile edges.
TILE = 256
QUALITY = 88
MPP = 0.25

_worker: dict[str, Any] = {}  # per worker process: the renderer and its cache of plain tiles


def _init(scene: Scene, step: int) -> None:
    _worker.clear()
    _worker.update(renderer=Renderer(scene), step=step, cache={})


def _render_row(j: int) -> tuple[list[bytes], np.ndarray]:
    """Encoded level-0 file tiles of render row j (RENDER px high: RENDER // TILE file tile rows, in file
    order) and the row downsampled by the level step."""
    r: Renderer = _worker["renderer"]
    step: int = _worker["step"]
    cache: dict[float, tuple[list[bytes], np.ndarray]] = _worker["cache"]
    s = r.scene
    y0 = j * RENDER
    cols = -(-s.width // RENDER)
    file_cols = -(-s.width // TILE)
    file_rows = min(RENDER // TILE, -(-s.height // TILE) - y0 // TILE)
    rows = r.touching(0, y0, cols * RENDER, y0 + RENDER)
    blocks, strips = [], []
    for c in range(cols):
        x0 = c * RENDER
        hit = r.touching(x0, y0, x0 + RENDER, y0 + RENDER, rows)
        flat = None if any(len(v) for v in hit.values()) else r.flat_tint(x0, y0, RENDER, RENDER)
        if flat is not None and flat in cache:
            data, small = cache[flat]
        else:
            rgb = r.render(x0, y0, RENDER, RENDER, hit, flat)
            k = RENDER // TILE
            data = [
                encode_tile(np.ascontiguousarray(rgb[a * TILE : (a + 1) * TILE, b * TILE : (b + 1) * TILE]), QUALITY)
                for a in range(k)
                for b in range(k)
            ]
            small = downsample(rgb, step)
            if flat is not None:
                cache[flat] = (data, small)
        blocks.append(data)
        strips.append(small)
    k = RENDER // TILE
    # row-major over the file's tiles: sub-row a of every block, then sub-row a + 1; columns past the
    # slide's width (the last block may overhang by a file tile) are not written
    tiles = [blocks[t // k][a * k + t % k] for a in range(file_rows) for t in range(file_cols)]
    return tiles, np.concatenate(strips, axis=1)


def _rows(
    scene: Scene, step: int, workers: int, progress: Callable[[int, int], None] | None
) -> Iterator[tuple[list[bytes], np.ndarray]]:
    n = -(-scene.height // RENDER)
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
    called per rendered row of level 0 (RENDER px).
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
    sizes = write_pyramid(
        tmp,
        scene.width,
        scene.height,
        _rows(scene, level_step, workers, progress),
        tile=TILE,
        level_step=level_step,
        quality=QUALITY,
        mpp=MPP,
        extra_desc=f"|ScanScope ID = ZOOMGRADE-SYNTH|Title = synthetic thyroid FNA ({stain})",
    )
    tmp.replace(out)
    truth = truth_record(scene, stain, size, sizes)
    gj_path, truth_path = truth_paths(out)
    write_json(gj_path, geojson(scene))
    write_json(truth_path, truth)
    return truth
