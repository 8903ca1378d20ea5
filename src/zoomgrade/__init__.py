"""zoomgrade: grade gigapixel whole-slide images coarse-to-fine, the way a cytopathologist reads a slide.

The public API::

    import zoomgrade
    slide = zoomgrade.open_slide("smear.svs")            # read any region at any microns-per-pixel
    result = zoomgrade.grade(slide)                      # stage 1 -> regions -> stage 2 -> SlideResult
    zoomgrade.save_result(result, "out/smear", slide)    # result.json, regions.geojson, report.html, ...
    zoomgrade.batch(["a.svs", "b.ndpi"], "out/")         # many slides on Dask
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .labels import TBSRTC, LabelSet
from .types import Region, RegionGrade, SlideResult

if TYPE_CHECKING:  # pragma: no cover
    from .batch import batch
    from .cascade import GradeConfig, grade, load_config
    from .outputs import save_result
    from .slide import Slide, open_slide

__all__ = [
    "TBSRTC",
    "GradeConfig",
    "LabelSet",
    "Region",
    "RegionGrade",
    "Slide",
    "SlideResult",
    "__version__",
    "batch",
    "grade",
    "load_config",
    "open_slide",
    "save_result",
]

# Heavy parts (torch, dask, openslide) load on first use, so `import zoomgrade` and `zoomgrade --help` stay fast.
_LAZY = {
    "open_slide": ("slide", "open_slide"),
    "Slide": ("slide", "Slide"),
    "grade": ("cascade", "grade"),
    "GradeConfig": ("cascade", "GradeConfig"),
    "load_config": ("cascade", "load_config"),
    "batch": ("batch", "batch"),
    "save_result": ("outputs", "save_result"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'zoomgrade' has no attribute {name!r}")
