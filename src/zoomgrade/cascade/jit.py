"""How the cascade's compiled kernels are compiled (``cellcount_kernel``, ``window_overlap``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit


def compiled(fn: Callable[..., Any]) -> Any:
    """``fn`` compiled without Python's lock, cached on disk where numba finds a writable place; where it
    finds none (a read-only install and home) compiled in each process instead of failing to import."""
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True)(fn)
