"""What tifffile says of a damaged file: kept for the error it leads to, not printed (the tifffile backend's
errors are one line, "<path>: <cause>")."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class _Keep(logging.Handler):
    def __init__(self, said: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.said = said

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[list[str]]:
    """tifffile logs what it finds wrong with a damaged file to stderr, some of it at ERROR on a file it still
    opens (a truncated SVS printed seven lines before ours). Kept here instead, for the error they lead to."""
    log = logging.getLogger("tifffile")
    said: list[str] = []
    keep = _Keep(said)
    level, propagate = log.level, log.propagate
    log.setLevel(logging.WARNING)
    log.propagate = False
    log.addHandler(keep)
    try:
        yield said
    finally:
        log.removeHandler(keep)
        log.setLevel(level)
        log.propagate = propagate


def first_said(said: list[str]) -> str:
    more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
    return f"; tifffile reported: {said[0]}{more}" if said else ""
