"""Tile latency of the viewer, measured over HTTP the way a browser pans: ``python -m zoomgrade.viewer.latency
RESULTS_DIR [SLIDE_NAME]``.

For each of the five finest DeepZoom levels, a viewport of 6 x 4 tiles pans across the middle of the slide from
left to right, two tile columns a step; every tile the viewport shows is requested (tiles already fetched
come from the cache). The slide is opened and one pass made first (warm: slide open, file bytes in the OS
cache); the pan is then timed twice: first pass after clearing the tile cache (every tile cut from the slide),
second pass over the same tiles (served from the cache). Prints median and 95th percentile per pass.
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.request

from .serve import ViewerServer

VIEW_COLS, VIEW_ROWS, STEP = 6, 4, 2
LEVELS = 5


def pan_tiles(width: int, height: int, max_level: int, tile: int = 256) -> list[tuple[int, int, int]]:
    """(level, col, row) in the order a left-to-right pan asks for them, each tile once per level."""
    out: list[tuple[int, int, int]] = []
    for level in range(max_level, max(-1, max_level - LEVELS), -1):
        s = 2.0 ** (level - max_level)
        cols, rows = -(-int(width * s) // tile), -(-int(height * s) // tile)
        r0 = max(0, rows // 2 - VIEW_ROWS // 2)
        seen: set[tuple[int, int]] = set()
        last = max(0, cols - VIEW_COLS)
        for c0 in sorted({*range(0, last + 1, STEP), last}):  # the last step reaches the right edge
            for c in range(c0, min(cols, c0 + VIEW_COLS)):
                for r in range(r0, min(rows, r0 + VIEW_ROWS)):
                    if (c, r) not in seen:
                        seen.add((c, r))
                        out.append((level, c, r))
    return out


def _get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        resp.read()
    return (time.perf_counter() - t0) * 1000.0


def _stats(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"n={len(ms)} median {statistics.median(ms):.1f} ms, p95 {q[18]:.1f} ms, max {max(ms):.1f} ms"


def measure(results_dir: str, name: str | None = None) -> dict[str, list[float]]:
    with ViewerServer(results_dir) as server:
        entries = [e for e in server.viewer.index.entries() if e.result_dir is not None]
        e = next(e for e in entries if name is None or e.name == name)
        dz = _get(server.url + f"api/slide/{e.key}")  # opens the slide
        with server.viewer.pool.lease(e.key, server.viewer.index.slide_file(e), None) as (_, geo):
            tiles = pan_tiles(geo.width, geo.height, geo.max_level)
        urls = [server.url + f"tiles/{e.key}/{lv}/{c}_{r}.jpg" for lv, c, r in tiles]
        for u in urls:  # warm-up pass: slide open, file bytes read once
            _get(u)
        server.viewer.cache = type(server.viewer.cache)(server.viewer.cache.max_bytes)
        cut = [_get(u) for u in urls]
        cached = [_get(u) for u in urls]
        print(
            f"{e.name}: {geo.width} x {geo.height} px, levels {geo.max_level - LEVELS + 1}-{geo.max_level}, "
            f"{len(urls)} tiles per pass (slide open: {dz:.0f} ms)"
        )
        print(f"  cut from the slide: {_stats(cut)}")
        print(f"  from the tile cache: {_stats(cached)}")
        return {"cut": cut, "cached": cached}


if __name__ == "__main__":
    measure(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
