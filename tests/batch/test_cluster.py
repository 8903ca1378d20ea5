"""LocalCluster sizing: workers x threads chosen on purpose."""

from __future__ import annotations

import pytest

from zoomgrade.batch.cluster import MIN_WORKER_MEMORY, plan_local
from zoomgrade.errors import ZoomgradeError

GiB = 1024**3


def test_default_is_one_single_threaded_worker_per_core():
    p = plan_local(cores=2, memory=16 * GiB)
    assert (p.workers, p.threads_per_worker) == (2, 1)
    assert p.memory_limit == 8 * GiB


def test_memory_caps_the_number_of_workers():
    p = plan_local(cores=8, memory=2 * MIN_WORKER_MEMORY + 1)
    assert (p.workers, p.threads_per_worker) == (2, 1)


@pytest.mark.parametrize(
    ("workers", "threads", "expect"),
    [
        (1, None, (1, 2)),
        (2, None, (2, 1)),
        (None, 2, (1, 2)),
        (3, None, (3, 1)),
        (1, 4, (1, 4)),
    ],
)
def test_given_workers_or_threads_share_the_cores(workers, threads, expect):
    p = plan_local(workers, threads, cores=2, memory=16 * GiB)
    assert (p.workers, p.threads_per_worker) == expect


def test_bad_sizes_are_usage_errors():
    with pytest.raises(ZoomgradeError, match="--workers"):
        plan_local(0, None, cores=2, memory=GiB)


class _ClosedByCtrlC:
    """Something whose close takes a Ctrl-C half-way, as a cluster's does when the user presses it then."""

    def __init__(self):
        self.closed = False

    def close(self):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGINT)
        self.closed = True  # reached only if the Ctrl-C did not cut the close short


def test_a_ctrl_c_during_the_close_is_answered_once_the_close_completes():
    import signal

    from zoomgrade.batch.cluster import _closed_after

    # Python's own Ctrl-C handler, whatever this process inherited: a shell starts background jobs with
    # SIGINT ignored, and then no Ctrl-C would be answered at all
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        before = signal.getsignal(signal.SIGINT)
        first, second = _ClosedByCtrlC(), _ClosedByCtrlC()
        with pytest.raises(KeyboardInterrupt), _closed_after(first):  # the block ended well: answered after
            pass
        with pytest.raises(ValueError), _closed_after(second):  # the block's own error goes on
            raise ValueError("the batch failed")
        assert first.closed and second.closed
        assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
        with pytest.raises(KeyboardInterrupt):  # and answers Ctrl-C again
            _ClosedByCtrlC().close()
    finally:
        signal.signal(signal.SIGINT, inherited)
