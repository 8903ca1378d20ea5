"""Slide-reading measurements: peak memory on an 80,000 x 80,000 px slide, read speed, tifffile vs
OpenSlide, and what the decoded-tile cache saves on cascade-like window reads. Run
``python -m zoomgrade.bench.slide_io [--size 80000] [--regions 1000] [--cache-regions 300]``.

Also home of the slides the measurements (and the slide tests) write, through the one Aperio writer
(``synth.aperio``): tiles are JPEG-encoded by us and handed over as bytes, so a 6.4-gigapixel slide is
written in seconds by reusing a few pre-encoded tiles.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import imagecodecs
import numpy as np
from numpy.typing import NDArray


def encode_tile(tile: np.ndarray, quality: int = 80) -> bytes:
    # components stored as RGB (no YCbCr transform), as Aperio does; libjpeg adds an Adobe APP14 marker
    return bytes(imagecodecs.jpeg8_encode(tile, level=quality, colorspace="RGB", outcolorspace="RGB"))


def write_aperio_tiff(
    path: str | Path,
    dims: list[tuple[int, int]],
    tile: int,
    tile_bytes: Callable[[int, int, int], bytes],
    mpp: float = 0.25,
    mag: float = 40,
) -> None:
    """Write levels of sizes ``dims`` (finest first) with ``tile_bytes(level, row, col)`` JPEG tiles (RGB
    components), through the one Aperio writer (``synth.aperio``), with a plain grey thumbnail."""
    from ..synth.aperio import Level, write_aperio

    def tiles(li: int) -> Iterator[bytes]:
        w, h = dims[li]
        return (tile_bytes(li, r, c) for r in range(-(-h // tile)) for c in range(-(-w // tile)))

    def rest() -> tuple[NDArray[np.uint8], list[Level]]:
        # Aperio's second directory is an untiled thumbnail; readers (and tifffile) expect it there
        return np.full((64, 64, 3), 240, np.uint8), [(w, h, tiles(li)) for li, (w, h) in enumerate(dims) if li]

    w0, h0 = dims[0]
    write_aperio(
        path,
        w0,
        h0,
        tiles(0),
        rest,
        tile=tile,
        quality=80,
        mpp=mpp,
        app_mag=mag,
        ycbcr=False,
        bigtiff=True,
        software="zoomgrade-bench",
        extra_desc="|Filename = zoomgrade-bench",
    )


def write_aperio_from_array(
    path: str | Path,
    img: np.ndarray,
    tile: int = 256,
    step: int = 4,
    n_levels: int = 3,
    mpp: float = 0.25,
    mag: float = 40,
) -> list[np.ndarray]:
    """A small consistent pyramid from an (h, w, 3) array (levels by area averaging); returns the levels."""
    from ..slide.resample import area_resize

    levels = [img]
    for _ in range(1, n_levels):
        prev = levels[-1]
        levels.append(area_resize(prev, max(1, prev.shape[0] // step), max(1, prev.shape[1] // step)))

    def tile_bytes(li: int, r: int, c: int) -> bytes:
        a = levels[li][r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]
        pad = np.full((tile, tile, 3), 255, np.uint8)
        pad[: a.shape[0], : a.shape[1]] = a
        return encode_tile(pad)

    write_aperio_tiff(path, [(a.shape[1], a.shape[0]) for a in levels], tile, tile_bytes, mpp, mag)
    return levels


REAL_TISSUE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real-slides" / "CMU-1-small-region.svs"


def source_tiles(tile: int, kind: str) -> list[np.ndarray]:
    """16 distinct tiles: "tissue" = crops of a real H&E scan (CMU-1, when present), "noise" = a
    synthetic texture with strong noise (larger JPEG tiles, slower to decode than tissue)."""
    if kind == "tissue":
        from ..slide import open_slide

        with open_slide(REAL_TISSUE) as s:
            w, h = s.dimensions
            boxes = [(x, y) for y in range(0, h - tile + 1, tile) for x in range(0, w - tile + 1, tile)]
            return [s.read_region(x, y, tile, tile, s.mpp) for x, y in boxes[:16]]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:tile, 0:tile]
    out = []
    for k in range(16):
        base = 150 + 60 * np.sin(xx / (7 + k) + yy / (11 + k))[..., None] * np.array([1.0, 0.6, 0.8])
        out.append(np.clip(base + rng.normal(0, 12, (tile, tile, 3)), 0, 255).astype(np.uint8))
    return out


def write_big_slide(
    path: str | Path, size: int = 80_000, tile: int = 512, step: int = 4, mpp: float = 0.25, tiles: str = "noise"
) -> float:
    """A size x size px pyramid (levels /step down to <= 2 tiles) reusing 16 pre-encoded tiles; returns
    the mean encoded tile size in KB."""
    pre = [encode_tile(t) for t in source_tiles(tile, tiles)]
    dims = [(size, size)]
    while max(dims[-1]) > 2 * tile:
        dims.append((max(1, dims[-1][0] // step), max(1, dims[-1][1] // step)))
    write_aperio_tiff(path, dims, tile, lambda li, r, c: pre[(r * 7 + c * 3 + li) % len(pre)], mpp)
    return sum(map(len, pre)) / len(pre) / 1024


# -- measurements -------------------------------------------------------------------------------------
_CHILD = """
import json, resource, sys, time
from zoomgrade.slide import open_slide
path, job = sys.argv[1], sys.argv[2]
with open_slide(path) as s:
    t = time.perf_counter()
    if job == "lowest":
        lv = s.levels[-1]
        a = s.read_region(0, 0, s.dimensions[0], s.dimensions[1], lv.mpp)
    else:
        f = 8.0 / s.mpp
        a = s.read_region(1000, 1000, int(2048 * f), int(2048 * f), 8.0)
    dt = time.perf_counter() - t
print(json.dumps({"job": job, "shape": list(a.shape), "seconds": dt,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_memory(path: str, job: str) -> dict:
    """Run one read in a fresh interpreter (so the peak belongs to it alone) and return its record."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _CHILD, path, job], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def read_speed(path: str, n: int, size: int = 512, seed: int = 1, backends=("openslide", "tifffile")) -> list[dict]:
    """Megapixels/s of ``read_region`` at level 0 over ``n`` random size x size regions. The backends
    take turns region by region (order alternating), so a busy shared machine slows both alike."""
    from ..slide import open_slide

    slides = [open_slide(path, backend=b) for b in backends]
    try:
        w, h = slides[0].dimensions
        rng = np.random.default_rng(seed)
        xs, ys = rng.integers(0, w - size, n), rng.integers(0, h - size, n)
        for s in slides:  # warm-up (page cache, lazy init)
            s.read_region(int(xs[0]), int(ys[0]), size, size, s.mpp)
        spent = [0.0] * len(slides)
        for i, (x, y) in enumerate(zip(xs, ys)):
            order = range(len(slides)) if i % 2 == 0 else reversed(range(len(slides)))
            for k in order:
                t = time.perf_counter()
                slides[k].read_region(int(x), int(y), size, size, slides[k].mpp)
                spent[k] += time.perf_counter() - t
    finally:
        for s in slides:
            s.close()
    return [
        {"backend": b, "regions": n, "seconds": dt, "mpix_per_s": n * size * size / dt / 1e6}
        for b, dt in zip(backends, spent)
    ]


def window_cache_effect(
    path: str, n_regions: int, window_px: int = 128, mpp: float = 0.5, seed: int = 2, cache_bytes: int | None = None
) -> dict:
    """Cascade-like reads: ``n_regions`` small regions (1-3 x 1-3 windows of ``window_px`` at ``mpp``, not
    aligned to the file tiles) read window by window, with the decoded-tile cache off and on. The two
    slides take turns region by region, so machine load slows both alike; pixels must be identical."""
    from ..slide import open_slide
    from ..slide.segment_cache import DEFAULT_CACHE_BYTES

    on_bytes = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
    off, on = open_slide(path, cache_bytes=0), open_slide(path, cache_bytes=on_bytes)
    try:
        w, h = off.dimensions
        side = int(round(window_px * mpp / off.mpp))
        rng = np.random.default_rng(seed)
        regions = []
        for _ in range(n_regions):
            kx, ky = rng.integers(1, 4, 2)
            x0, y0 = int(rng.integers(0, w - 3 * side)), int(rng.integers(0, h - 3 * side))
            regions.append([(x0 + i * side, y0 + j * side) for j in range(ky) for i in range(kx)])
        spent = [0.0, 0.0]
        identical = True
        for k, boxes in enumerate(regions):
            got = []
            for which in (0, 1) if k % 2 == 0 else (1, 0):
                s = (off, on)[which]
                t = time.perf_counter()
                got.append([s.read_region(x, y, side, side, mpp) for x, y in boxes])
                spent[which] += time.perf_counter() - t
            identical &= all(np.array_equal(a, b) for a, b in zip(*got))
        st = on.cache_stats()
        n_windows = sum(map(len, regions))
    finally:
        off.close()
        on.close()
    from .floor import file_tile_size

    return {
        "regions": n_regions,
        "windows": n_windows,
        "window_px": window_px,
        "mpp": mpp,
        "file_tile_px": file_tile_size(path, w),
        "cache_mb": on_bytes / 2**20,
        "seconds_no_cache": spent[0],
        "seconds_cache": spent[1],
        "speedup": spent[0] / spent[1] if spent[1] else 0.0,
        "decodes_cache": st.misses if st else None,
        "hits_cache": st.hits if st else None,
        "pixel_identical": bool(identical),
    }


def whole_level_speed(path: str, backend: str, max_mpix: float = 30.0) -> dict:
    """Read the finest level holding at most ``max_mpix`` megapixels whole, at its native mpp."""
    from ..slide import open_slide

    with open_slide(path, backend=backend) as s:
        li = next(i for i, lv in enumerate(s.levels) if lv.width * lv.height <= max_mpix * 1e6)
        lv = s.levels[li]
        t = time.perf_counter()
        a = s.read_region(0, 0, s.dimensions[0], s.dimensions[1], lv.mpp)
        dt = time.perf_counter() - t
    mpix = a.shape[0] * a.shape[1] / 1e6
    return {"backend": backend, "level": li, "shape": list(a.shape), "seconds": dt, "mpix_per_s": mpix / dt}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=80_000)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--regions", type=int, default=1000)
    ap.add_argument(
        "--cache-regions",
        type=int,
        default=300,
        help="cascade-like regions read with the decoded-tile cache off and on (0 skips)",
    )
    ap.add_argument(
        "--tiles",
        choices=["noise", "tissue"],
        default="noise",
        help="tile content: synthetic noise texture, or crops of the real CMU-1 H&E scan",
    )
    ap.add_argument("--dir", default=None, help="where to write the temporary slide (default: system temp)")
    args = ap.parse_args(argv)
    if args.tiles == "tissue" and not REAL_TISSUE.exists():
        ap.error(f"--tiles tissue needs {REAL_TISSUE}")
    # one core for the whole measurement (children inherit it): OpenSlide and our decode are both
    # single-threaded per call, and BLAS/OpenMP pools must not borrow the other core
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    results: dict = {"size": args.size, "tile": args.tile, "tiles": args.tiles, "cpu": cpu}
    with tempfile.TemporaryDirectory(prefix="zoomgrade-bench-", dir=args.dir) as tmp:
        path = str(Path(tmp) / "big.svs")
        t = time.perf_counter()
        results["mean_tile_kb"] = write_big_slide(path, args.size, args.tile, tiles=args.tiles)
        results["write_seconds"] = time.perf_counter() - t
        results["file_mb"] = os.path.getsize(path) / 1e6
        results["memory"] = [peak_memory(path, "lowest"), peak_memory(path, "region8")]
        results["speed"] = read_speed(path, args.regions)
        results["whole_level"] = [whole_level_speed(path, b) for b in ("openslide", "tifffile")]
        if args.cache_regions > 0:
            results["window_cache"] = window_cache_effect(path, args.cache_regions)
    speed = results["speed"]
    results["speed_ratio_tifffile_over_openslide"] = speed[1]["mpix_per_s"] / speed[0]["mpix_per_s"]
    results["whole_level_ratio"] = results["whole_level"][1]["mpix_per_s"] / results["whole_level"][0]["mpix_per_s"]
    results["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
