"""How the cascade's kernels are compiled: cached where numba can, compiled all the same where it cannot."""

import numba
import numpy as np
import pytest

from zoomgrade.cascade.jit import compiled


def test_a_function_numba_cannot_cache_is_compiled_all_the_same():
    # Code with no file behind it has no cache location, as a read-only install in a read-only home has not.
    scope: dict = {}
    exec(
        "def twice(a):\n    out = a.copy()\n    for i in range(a.size):\n        out[i] = 2 * a[i]\n    return out",
        scope,
    )
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(scope["twice"])
    twice = compiled(scope["twice"])
    assert np.array_equal(twice(np.arange(4)), [0, 2, 4, 6])
    assert twice.signatures  # compiled by numba, not run as Python
