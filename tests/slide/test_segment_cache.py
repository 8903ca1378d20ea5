"""The decoded-tile cache: same pixels with and without it, its byte bound, off when asked, and safe
under concurrent readers (the cascade reads in a prefetch thread while the caller's thread may read too)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zoomgrade.slide import open_slide
from zoomgrade.slide.segment_cache import SegmentCache

TILE_BYTES = 256 * 256 * 3  # the `pyramid` fixture's JPEG tiles, decoded


def _boxes(n: int, seed: int, w: int = 1200, h: int = 1000) -> list[tuple[int, int, int, int, float]]:
    """Random windows, unaligned to the tiles, some running off the slide, at level-0 and coarser mpp."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        side = int(rng.integers(40, 400))
        x, y = int(rng.integers(-50, w - 20)), int(rng.integers(-50, h - 20))
        out.append((x, y, side, side, float(rng.choice([0.25, 0.5, 1.0, 2.0]))))
    return out


def test_cached_reads_equal_uncached_reads_and_repeat_reads_hit(pyramid):
    path, _ = pyramid
    boxes = _boxes(60, 1_000_010)
    with open_slide(path, cache_bytes=0) as plain, open_slide(path) as cached:
        assert plain.cache_stats().misses == 0  # disabled: not even counted
        first = [cached.read_region(*b) for b in boxes]
        after_first = cached.cache_stats()
        second = [cached.read_region(*b) for b in boxes]
        after_second = cached.cache_stats()
        for b, a1, a2 in zip(boxes, first, second):
            ref = plain.read_region(*b)
            assert np.array_equal(a1, ref) and np.array_equal(a2, ref), b
            assert a1.flags.writeable  # callers get their own arrays, never the cache's
    # the whole pyramid fits in the default bound: the second pass decodes nothing
    assert after_first.hits > 0 and after_first.evictions == 0
    assert after_second.misses == after_first.misses
    assert after_second.hits > after_first.hits


def test_bound_in_bytes_is_respected_and_eviction_keeps_pixels_right(pyramid):
    path, levels = pyramid
    bound = 3 * TILE_BYTES + 100  # three decoded tiles
    with open_slide(path, cache_bytes=bound) as s, open_slide(path, cache_bytes=0) as plain:
        for b in _boxes(40, 1_000_013) * 2:  # second pass: the tiles were evicted again before reuse
            assert np.array_equal(s.read_region(*b), plain.read_region(*b)), b
            st = s.cache_stats()
            assert st.nbytes <= bound and st.entries <= 3
        assert st.evictions > 0 and st.hits > 0 and st.max_bytes == bound
        whole = s.read_region(0, 0, 1200, 1000, 0.25)
    # the pixels are the file's: JPEG at q=80 stays close to the array it was written from
    assert np.abs(whole.astype(int) - levels[0].astype(int)).mean() < 6


def test_bulk_reads_keep_only_their_last_row_of_tiles(pyramid):
    path, _ = pyramid
    with open_slide(path) as s, open_slide(path, cache_bytes=0) as plain:
        whole = s.read_region(0, 0, 1200, 1000, 0.25)  # 5 x 4 tiles of 256 px: a bulk read
        st = s.cache_stats()
        assert (st.misses, st.entries) == (20, 5)  # decoded all, kept the bottom row only
        corner = s.read_region(900, 800, 200, 150, 0.25)  # inside the bottom row: served from the cache
        assert s.cache_stats().misses == 20
        assert np.array_equal(whole, plain.read_region(0, 0, 1200, 1000, 0.25))
        assert np.array_equal(corner, whole[800:950, 900:1100])


def test_disabled_cache_keeps_nothing(pyramid):
    path, _ = pyramid
    with open_slide(path, cache_bytes=0) as s:
        a = s.read_region(100, 100, 300, 300, 0.25)
        b = s.read_region(100, 100, 300, 300, 0.25)
        st = s.cache_stats()
    assert np.array_equal(a, b)
    assert (st.hits, st.misses, st.entries, st.nbytes) == (0, 0, 0, 0)


def test_openslide_backend_takes_the_same_option(pyramid):
    path, _ = pyramid
    with open_slide(path, backend="openslide", cache_bytes=0) as off, open_slide(path, backend="openslide") as on:
        for b in _boxes(10, 1_000_011):
            assert np.array_equal(off.read_region(*b), on.read_region(*b))
        assert on.cache_stats() is None  # OpenSlide's cache lives in the C library


def test_concurrent_readers_get_the_right_pixels(pyramid):
    path, _ = pyramid
    boxes = _boxes(40, 1_000_012)
    with open_slide(path, cache_bytes=0) as plain:
        want = [plain.read_region(*b) for b in boxes]
    # a cache of four tiles: threads evict each other's tiles all the time
    with open_slide(path, cache_bytes=4 * TILE_BYTES) as s:
        bad: list[tuple[int, int]] = []
        errors: list[BaseException] = []

        def work(k: int) -> None:
            try:
                for rep in range(3):
                    for i in np.random.default_rng(k * 10 + rep).permutation(len(boxes)):
                        if not np.array_equal(s.read_region(*boxes[i]), want[i]):
                            bad.append((k, int(i)))
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        st = s.cache_stats()
    assert not errors and not bad
    assert st.nbytes <= 4 * TILE_BYTES and st.hits > 0


def test_segment_cache_decodes_outside_the_lock_and_keeps_lru_order():
    cache = SegmentCache(max_bytes=3 * 100)
    calls: list[str] = []

    def dec(key: str):
        def f() -> np.ndarray:
            calls.append(key)
            # another thread can use the cache while this one decodes: the lock is not held here
            other = threading.Thread(target=cache.stats)
            other.start()
            other.join(timeout=5)
            assert not other.is_alive()
            return np.full(100, ord(key[0]), np.uint8)

        return f

    for k in "abc":
        cache.get_or_decode(k, dec(k))
    cache.get_or_decode("a", dec("a"))  # hit: "a" becomes the most recent
    cache.get_or_decode("d", dec("d"))  # evicts the least recent, "b"
    cache.get_or_decode("b", dec("b"))  # miss again; evicts "c"
    cache.get_or_decode("a", dec("a"))  # still cached
    assert calls == ["a", "b", "c", "d", "b"]
    got = cache.get_or_decode("a", dec("a"))
    assert not got.flags.writeable and got[0] == ord("a")
    with pytest.raises(ValueError):
        got[0] = 0
    # an item larger than the whole bound is returned but not kept
    big = cache.get_or_decode("big", lambda: np.zeros(1000, np.uint8))
    assert big.shape == (1000,) and cache.stats().nbytes <= 300
    # keep=False (bulk reads): a hit is used, a miss is decoded and not kept
    assert cache.get_or_decode("a", dec("x"), keep=False)[0] == ord("a")
    cache.get_or_decode("e", dec("e"), keep=False)
    assert calls[-1] == "e" and "e" not in list(calls[:-1])
    cache.get_or_decode("e", dec("e"))
    assert calls[-2:] == ["e", "e"]  # decoded again: it was not kept
