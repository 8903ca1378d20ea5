"""zoomgrade batch: many slides on Dask distributed, resumable and fault tolerant.

``batch(inputs, out_dir, ...) -> BatchSummary``; one task per slide; see ``run.py`` and docs/cluster.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .run import batch
from .summary import BatchSummary
from .worker import SlideRow

__all__ = ["BatchSummary", "SlideRow", "batch"]


class _CallableModule(types.ModuleType):
    # Importing this subpackage binds ``zoomgrade.batch`` to the module, shadowing the lazily exported
    # function of the same name; calling the module calls the function, so ``zoomgrade.batch(...)``
    # works whichever of the two a user reaches.
    def __call__(self, *args: Any, **kwargs: Any) -> BatchSummary:
        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
