"""Errors that carry a one-line, user-facing message naming the file and the cause."""

from __future__ import annotations

from pathlib import Path


class ZoomgradeError(Exception):
    """Base class: the CLI prints ``str(err)`` as one line and exits 2 (bad input) without a traceback."""


class SlideError(ZoomgradeError):
    """A slide file cannot be opened or read. ``str()`` is ``"<path>: <cause>"``."""

    def __init__(self, path: str | Path, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class MissingMppError(SlideError):
    """The slide carries no resolution and none can be estimated: the caller must pass ``mpp``."""

    def __init__(self, path: str | Path):
        super().__init__(
            path,
            "no microns-per-pixel in the file and no objective power to estimate it from; pass --mpp",
        )


class ModelCardError(ZoomgradeError):
    """Weights do not match what the caller expects (labels, input mpp, architecture, version)."""


class ConfigError(ZoomgradeError):
    """A configuration file or value is invalid."""


class LabelSetError(ZoomgradeError):
    """A label-set file (or a model card's label set) is invalid: ``"<file>: <key>: <cause>"``."""
