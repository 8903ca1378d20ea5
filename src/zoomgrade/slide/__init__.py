"""Slide I/O: read any region of a whole-slide image at any microns-per-pixel, one backend per file kind."""

from .base import Level, SlideBackend
from .probe import BACKENDS
from .slide import Slide, open_slide
from .tiles import Tile

__all__ = ["BACKENDS", "Level", "Slide", "SlideBackend", "Tile", "open_slide"]
