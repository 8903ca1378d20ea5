"""Pick the backend by what the file *is* (magic bytes, tifffile's parse, OpenSlide's detector), never by
its extension; turn every failure into one ``SlideError("<path>: <cause>")``."""

from __future__ import annotations

from pathlib import Path

import openslide

from ..errors import SlideError
from .base import SlideBackend
from .limits import DEFAULT_MEMORY_MB, ImageTooLargeError
from .openslide_backend import OpenSlideBackend
from .pillow_backend import PillowBackend
from .segment_cache import DEFAULT_CACHE_BYTES
from .tiff_damage import TruncatedFileError
from .tifffile_backend import TifffileBackend

BACKENDS: dict[str, type[SlideBackend]] = {
    "tifffile": TifffileBackend,
    "openslide": OpenSlideBackend,
    "pillow": PillowBackend,
}
#: OpenSlide formats whose pixels the tifffile backend reproduces exactly (tested against OpenSlide).
_TIFFFILE_FORMATS = {"aperio", "generic-tiff"}


def _magic_kind(head: bytes) -> str | None:
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    return None


def _check_file(path: Path) -> bytes:
    """The first bytes of a readable, non-empty regular file, or a SlideError saying why not."""
    if not path.exists():
        raise SlideError(path, "no such file")
    if path.is_dir():
        raise SlideError(path, "is a directory, not a slide file")
    if not path.is_file():
        raise SlideError(path, "not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except PermissionError:
        raise SlideError(path, "permission denied (file is not readable)") from None
    except OSError as err:
        raise SlideError(path, f"cannot read: {err.strerror or err}") from None
    if not head:
        raise SlideError(path, "empty file (0 bytes)")
    return head


def _candidates(path: Path, head: bytes) -> list[str]:
    kind = _magic_kind(head)
    try:
        fmt = openslide.OpenSlide.detect_format(str(path))
    except Exception:
        fmt = None
    if kind == "tiff" and (fmt is None or fmt in _TIFFFILE_FORMATS):
        return ["tifffile", "openslide"] if fmt else ["tifffile"]
    if fmt is not None:
        return ["openslide"]
    if kind in ("png", "jpeg"):
        return ["pillow"]
    return []


def open_backend(
    path: str | Path,
    backend: str | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> SlideBackend:
    """Open ``path`` with the named backend, or with the first probed one that reads it; ``cache_bytes``
    bounds the decoded-tile cache of backends that have one (0 disables it); ``memory_mb`` is the memory
    ceiling (``slide.limits``)."""
    p = Path(path)
    head = _check_file(p)
    if backend is not None:
        if backend not in BACKENDS:
            raise SlideError(p, f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        names = [backend]
    else:
        names = _candidates(p, head)
        if not names:
            shown = head[:16].decode("latin-1").encode("unicode_escape").decode()
            raise SlideError(
                p,
                "not a slide or image file this tool reads (content starts with "
                f"'{shown}'; tried tifffile, openslide, pillow)",
            )
    errors = []
    for name in names:
        try:
            return BACKENDS[name](str(p), cache_bytes=cache_bytes, memory_mb=memory_mb)
        except (TruncatedFileError, ImageTooLargeError) as err:
            # OpenSlide would open it lazily and fail mid-read: stop here with the real cause
            raise SlideError(p, str(err)) from None
        except Exception as err:
            msg = " ".join(str(err).split()) or type(err).__name__
            errors.append(f"{name}: {msg}")
    raise SlideError(p, "cannot open as a slide (" + "; ".join(errors) + ")")
