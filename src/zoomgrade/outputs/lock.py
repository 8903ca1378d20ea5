"""One run at a time per output folder: ``grade`` and ``batch`` hold OUT/.zoomgrade.lock while they write.

Two runs writing one folder would grade every slide twice and overwrite each other's summary.csv; the second
run refuses at once with one line instead. The lock is an OS file lock (``filelock``: flock on POSIX), so a
run that dies (killed, machine down) leaves no stale lock behind, only the empty lock file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import ZoomgradeError

LOCK_FILE = ".zoomgrade.lock"


class OutputBusyError(ZoomgradeError):
    """Another zoomgrade run is writing into the output folder."""


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[Path]:
    """Hold OUT's lock for the block (OUT is created); ``OutputBusyError`` if another run holds it."""
    from filelock import FileLock, Timeout

    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputBusyError(
            f"{out}: another zoomgrade run is writing into this folder (it holds {LOCK_FILE}); "
            "wait for it to finish or choose another --out"
        ) from None
    try:
        yield path
    finally:
        lock.release()
