"""zoomgrade: grade gigapixel whole-slide images coarse-to-fine, the way a cytopathologist reads a slide."""

from ._version import __version__

__all__ = ["__version__"]
