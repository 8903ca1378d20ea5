"""Atomic file writes: a temp file in the target's own folder, fsync, then ``os.replace``.

``os.replace`` is atomic on POSIX and Windows within one file system, so a reader (or a crash) sees
either the old file or the new one, never a half-written one; the temp file lives beside the target
because a rename across file systems is a copy, not an atomic swap. Each write has its own temp name
(``mkstemp``), so two processes writing one file (two fits of one model card) cannot mix their bytes.

Every file the package writes to keep goes through here: results, model cards and weights, reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temp path beside ``path`` for a writer that wants a file name (an exporter, a checkpoint saver);
    when the block ends without an error it is synced and swapped into place, otherwise removed.

    ``with atomic_path(out) as tmp: torch.save(obj, tmp)``"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # the writer may have closed its own handle without syncing
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared like any file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(fileobj)`` on a temp file beside ``path``, then swap it into place.

    If ``write`` (or anything before the swap) raises, the temp file is removed and any existing
    file at ``path`` is left exactly as it was.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    return atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> Path:
    # Serialise first: a value json cannot encode fails before any file is touched.
    return atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")
