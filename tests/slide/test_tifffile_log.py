"""The tifffile log capture when slides are opened in several threads at once."""

from __future__ import annotations

import logging
import threading

from zoomgrade.slide.tifffile_log import quiet_tifffile

LOG = logging.getLogger("tifffile")


class _Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_overlapping_captures_keep_each_threads_records_and_leave_the_logger_as_it_was():
    """Two threads capture with overlapping lifetimes (A starts, B starts, A ends, B ends): each keeps its own
    records, a thread that is not capturing logs as before meanwhile, and the logger is left as it was."""
    seen = _Seen()
    root = logging.getLogger()
    root.addHandler(seen)
    before = (LOG.level, LOG.propagate, list(LOG.handlers), list(LOG.filters))
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    kept: dict[str, list[str]] = {}

    def a() -> None:
        with quiet_tifffile() as said:
            a_in.set()
            b_in.wait(5)
            LOG.warning("from a")
        kept["a"] = said
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with quiet_tifffile() as said:
            b_in.set()
            a_out.wait(5)
            LOG.error("from b, after a ended")
        kept["b"] = said

    try:
        ta, tb = threading.Thread(target=a), threading.Thread(target=b)
        ta.start(), tb.start()
        b_in.wait(5)
        LOG.warning("from main")  # not capturing: passes on while both others capture
        ta.join(5), tb.join(5)
        LOG.warning("after both")
    finally:
        root.removeHandler(seen)
    assert kept == {"a": ["from a"], "b": ["from b, after a ended"]}
    assert seen.messages == ["from main", "after both"]
    assert (LOG.level, LOG.propagate, list(LOG.handlers), list(LOG.filters)) == before


def test_a_nested_capture_hands_back_to_the_outer_one():
    with quiet_tifffile() as outer:
        LOG.warning("one")
        with quiet_tifffile() as inner:
            LOG.warning("two")
        LOG.warning("three")
    assert outer == ["one", "three"] and inner == ["two"]
    assert not LOG.filters
