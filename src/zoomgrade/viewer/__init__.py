"""``zoomgrade view``: a local, offline viewer for a results folder.

A worklist of the folder's slides, and each slide at every zoom (tiles cut on the fly by zoomgrade's own
reader) with its regions drawn in their grade colours. Front door: ``ViewerServer`` (and ``ResultsIndex``,
``DeepZoom`` for programs that want the pieces).
"""

from .index import ResultsError, ResultsIndex, SlideEntry
from .serve import ViewerServer
from .server import make_app
from .tiles import DeepZoom

__all__ = ["DeepZoom", "ResultsError", "ResultsIndex", "SlideEntry", "ViewerServer", "make_app"]
