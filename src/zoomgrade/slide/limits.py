"""What a file may make the tool allocate, and how many of a slide's reads failed.

The memory ceiling (``[limits] memory_mb``, default 2048 MiB: what a 20 x 20 mm slide graded by the
cascade needs) bounds every image whose size a file's header states: before a tile or strip is decoded, a
flat image is loaded, or a region is read, its decoded size is computed from the header and refused when
it exceeds a quarter of the ceiling (the rest holds the models, the decoded-tile cache and the other
readers' windows). A hostile or careless header (a 30,000 px square single-strip JPEG, a deflate tile that
inflates to 11 GB) is then one line naming the file and how to convert it, not a memory blow-up.

``ReadLog`` counts a slide's reads and the ones that failed (a tile that does not decode, an I/O error):
nothing is substituted silently, the count reaches result.json and every output's warnings, and a slide
with too many failed reads is refused (``[limits] max_failed_read_fraction``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_MEMORY_MB = 2048
#: One image (segment, flat image, region read) may take this share of the ceiling.
DECODE_SHARE = 4
CONVERT_HINT = (
    "convert it to a tiled pyramid first, e.g. `vips tiffsave IN OUT.tif --tile --pyramid "
    "--compression jpeg` or `tiffcp -t -w 512 -l 512 IN OUT.tif`"
)


class ImageTooLargeError(ValueError):
    """An image would decode to more than the memory ceiling allows; no other reader should try it."""


def decode_limit(memory_mb: int) -> int:
    """Bytes one decoded image may take under a ceiling of ``memory_mb`` MiB."""
    return int(memory_mb) * 2**20 // DECODE_SHARE


def check_decoded_size(
    what: str, width: int, height: int, samples: int, limit: int, memory_mb: int, hint: str = CONVERT_HINT
) -> None:
    """Refuse an image of ``width`` x ``height`` x ``samples`` bytes above ``limit`` (header values, before
    anything is allocated)."""
    size = int(width) * int(height) * int(samples)
    if width <= 0 or height <= 0 or size > limit:
        raise ImageTooLargeError(
            f"{what} of {width:,} x {height:,} px would decode to {size / 2**30:.1f} GiB, more than "
            f"{limit / 2**30:.2f} GiB allowed under the {memory_mb} MiB memory ceiling ([limits] memory_mb)"
            + (f"; {hint}" if hint else "")
        )


@dataclass(frozen=True)
class ReadReport:
    reads: int
    failed: int
    first_error: str | None

    @property
    def fraction(self) -> float:
        return self.failed / self.reads if self.reads else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"reads": self.reads, "failed": self.failed, "first_error": self.first_error}


class ReadLog:
    """Thread-safe count of a slide's reads and failed reads (reader threads share one slide)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads = self._failed = 0
        self._first: str | None = None

    def ok(self) -> None:
        with self._lock:
            self._reads += 1

    def failed(self, cause: str) -> None:
        with self._lock:
            self._reads += 1
            self._failed += 1
            if self._first is None:
                self._first = cause

    def report(self) -> ReadReport:
        with self._lock:
            return ReadReport(self._reads, self._failed, self._first)


def failed_reads_warning(report: ReadReport, max_fraction: float, path: str) -> str | None:
    """The warning every output carries when reads failed (None when none did); raises ``SlideError`` when
    more than ``max_fraction`` of them did: a grade made from a damaged file's remains is not given."""
    from ..errors import SlideError

    if not report.failed:
        return None
    what = f"{report.failed} of {report.reads} reads failed to decode (damaged file; first: {report.first_error})"
    if report.fraction > max_fraction:
        raise SlideError(
            path,
            f"{what}; more than {max_fraction:.0%} of the reads failed ([limits] "
            "max_failed_read_fraction): not graded, re-export or re-scan the slide",
        )
    return f"{what}: the regions they cover were graded from what could be read, or not at all"
