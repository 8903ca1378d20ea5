"""What tifffile says of a damaged file: kept for the error it leads to, not printed (the tifffile backend's
errors are one line, "<path>: <cause>").

tifffile's logger is one for the whole process, and slides are opened in several threads at once (a
threaded batch, the viewer). So the capture is a filter on that logger, installed while any thread is
capturing and removed when the last one ends, that keeps only the records of threads inside
``quiet_tifffile``: other threads' records pass as before, and the logger's level, handlers and propagation
are never changed. (Setting and restoring them per call, two overlapping opens restored them in the wrong
order and left tifffile silenced for the rest of the process.)"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

LOGGER = "tifffile"


class _ThreadCapture(logging.Filter):
    """Keeps, instead of passing on, the WARNING-or-worse records of threads that are capturing."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()  # .said: the current thread's list, absent when it is not capturing
        self.lock = threading.Lock()
        self.users = 0  # threads inside quiet_tifffile (the filter is on the logger while > 0)

    def filter(self, record: logging.LogRecord) -> bool:
        said: list[str] | None = getattr(self.local, "said", None)
        if said is None or record.levelno < logging.WARNING:
            return True
        said.append(" ".join(record.getMessage().split()))
        return False


_CAPTURE = _ThreadCapture()


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[list[str]]:
    """tifffile logs what it finds wrong with a damaged file to stderr, some of it at ERROR on a file it still
    opens (a truncated SVS printed seven lines before ours). This thread's are kept here instead, for the
    error they lead to."""
    cap, log = _CAPTURE, logging.getLogger(LOGGER)
    outer: list[str] | None = getattr(cap.local, "said", None)
    said: list[str] = []
    cap.local.said = said
    with cap.lock:
        if cap.users == 0:
            log.addFilter(cap)
        cap.users += 1
    try:
        yield said
    finally:
        with cap.lock:
            cap.users -= 1
            if cap.users == 0:
                log.removeFilter(cap)
        cap.local.said = outer


def first_said(said: list[str]) -> str:
    more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
    return f"; tifffile reported: {said[0]}{more}" if said else ""
