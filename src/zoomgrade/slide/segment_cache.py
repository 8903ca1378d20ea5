"""A bounded, thread-safe LRU cache of decoded file segments (tiles or strips), bounded in bytes.

Why: the cascade's high-power windows are smaller than the file's tiles and not aligned to them, so
neighbouring windows (and neighbouring regions) touch the same compressed tile; without a cache each touch
decodes it again (about twice the decodes of the distinct tiles on a 20 x 20 mm slide). OpenSlide keeps such
a cache inside the C library; the tifffile backend keeps this one.

Decoding happens outside the lock: the lock only guards the dictionary, so a reader thread and the caller's
thread never wait on each other's JPEG decode. Two threads missing the same segment at once may both decode
it (the second insert replaces the first, same pixels); that costs a decode, never correctness.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

#: Default bound of the decoded-segment cache: about 170 decoded 512 x 512 RGB tiles. The cascade's reuse is
#: mostly between neighbouring windows and regions read close in time, so a modest cache catches nearly all
#: of it; the product's memory target (2 GB peak on a 20 x 20 mm slide) leaves room for this much.
DEFAULT_CACHE_BYTES = 128 * 2**20


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    entries: int
    nbytes: int
    max_bytes: int

    @property
    def hit_rate(self) -> float:
        n = self.hits + self.misses
        return self.hits / n if n else 0.0


class SegmentCache:
    """``get_or_decode(key, decode)`` returns the cached array for ``key`` or ``decode()``'s, then keeps it.

    Arrays are stored read-only (callers copy out of them, never into them). An array larger than the whole
    bound is returned but not kept. ``max_bytes`` <= 0 disables the cache (every call decodes).
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._d: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._hits = self._misses = self._evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get_or_decode(
        self, key: Hashable, decode: Callable[[], np.ndarray | None], keep: bool = True
    ) -> np.ndarray | None:
        """``keep=False``: use a cached copy if there is one, but do not keep a new decode (bulk reads)."""
        if not self.enabled:
            return decode()
        with self._lock:
            a = self._d.get(key)
            if a is not None:
                self._d.move_to_end(key)
                self._hits += 1
                return a
            self._misses += 1
        a = decode()  # outside the lock: the expensive part
        if a is None:
            return None
        a.setflags(write=False)
        if not keep or a.nbytes > self.max_bytes:
            return a
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:  # another thread decoded it meanwhile
                self._nbytes -= old.nbytes
            self._d[key] = a
            self._nbytes += a.nbytes
            while self._nbytes > self.max_bytes:
                _, gone = self._d.popitem(last=False)
                self._nbytes -= gone.nbytes
                self._evictions += 1
        return a

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._nbytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._d), self._nbytes, self.max_bytes)
