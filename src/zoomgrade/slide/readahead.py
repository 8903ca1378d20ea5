"""Read-ahead hints: tell the OS, all at once, which file bytes a pass is about to read.

Why: a slide's tiles are small (about 10 KB of JPEG each on the bench's SVS files) and a pass reads them
one ``pread`` at a time from a couple of threads. When the file is not in the page cache (first read of a
slide on a virtual or network disk), each of those reads waits for its own round trip, and the kernel's
own readahead does not help reads that jump about the file. One ``POSIX_FADV_WILLNEED`` hint per run of
adjacent tiles lets the kernel queue them all, many in flight and in larger requests, while the readers
are still busy with the first ones; the readers then find the bytes in the page cache. On a file already
in the cache a hint costs a page-cache lookup. Where ``posix_fadvise`` does not exist (macOS, Windows)
nothing is hinted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

HAVE_FADVISE = hasattr(os, "posix_fadvise")
#: Linux reads at most about its readahead window per hint (read_ahead_kb, or the device's largest
#: request if larger: 128 KB to a few MB); longer ranges are hinted in pieces of this size.
MAX_RANGE = 512 * 1024
#: Ranges closer than this in the file are hinted as one: the bytes between cost less than another request.
GAP = 64 * 1024

Box = tuple[int, int, int, int]


def segment_indices(boxes: Iterable[Box], width: int, height: int, seg_w: int, seg_h: int, cols: int) -> list[int]:
    """Indices of the segments (tiles, row-major; or strips) that ``boxes`` (x, y, w, h in level pixels)
    touch, in the order the boxes give them, each once."""
    seen: set[int] = set()
    out: list[int] = []
    for x, y, w, h in boxes:
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + w), width), min(int(y + h), height)
        if x1 <= x0 or y1 <= y0:
            continue
        for r in range(y0 // seg_h, (y1 - 1) // seg_h + 1):
            for c in range(x0 // seg_w, (x1 - 1) // seg_w + 1):
                i = r * cols + c
                if i not in seen:
                    seen.add(i)
                    out.append(i)
    return out


def byte_ranges(
    offsets: np.ndarray, counts: np.ndarray, indices: Iterable[int], gap: int = GAP, max_range: int = MAX_RANGE
) -> list[tuple[int, int]]:
    """(offset, length) ranges covering the segments ``indices`` in that order: a segment that starts at or
    within ``gap`` after the previous range's end extends it; ranges are then cut to ``max_range``.
    Empty (never-written) segments are skipped."""
    merged: list[list[int]] = []
    for i in indices:
        off, n = int(offsets[i]), int(counts[i])
        if n <= 0 or off <= 0:
            continue
        if merged:
            last = merged[-1]
            end = last[0] + last[1]
            if last[0] <= off and off - end <= gap:
                last[1] = max(end, off + n) - last[0]
                continue
        merged.append([off, n])
    out: list[tuple[int, int]] = []
    for off, n in merged:
        for start in range(off, off + n, max_range):
            out.append((start, min(max_range, off + n - start)))
    return out


def advise(fd: int, ranges: Iterable[tuple[int, int]]) -> int:
    """Hint WILLNEED on each range of the open file ``fd``; returns the bytes hinted (0 without fadvise).
    A hint is only a hint: an error (the file closed meanwhile) ends the hinting, never the read."""
    if not HAVE_FADVISE:
        return 0
    total = 0
    for off, n in ranges:
        try:
            os.posix_fadvise(fd, off, n, os.POSIX_FADV_WILLNEED)
        except OSError:
            break
        total += n
    return total
