"""Where the slides are graded: a LocalCluster sized to this machine, or an existing Dask cluster.

Sizing, on purpose:
- Each worker is a *process* (nanny) that grades one slide at a time (Dask ``nthreads=1``): a slide
  is heavy enough to keep torch busy on its own, a second concurrent slide per process would only
  double memory, and a separate process per worker is what lets a killed or out-of-memory worker be
  replaced without losing the others (and lets the GIL-bound parts of a slide run in parallel).
- ``threads_per_worker`` is the number of cores one worker's models and BLAS may use (intra-op threads).
  Dask's nanny pins OMP/MKL/OpenBLAS to 1 thread per worker by default; we set them to this value
  instead and give it to the worker's ONNX Runtime sessions when it loads the models (and to
  ``torch.set_num_threads`` where a model runs in torch), so workers x threads = the cores we mean to use.
- Default: one single-threaded worker per core (workers = cores, threads = 1), capped so that each
  worker has at least ``MIN_WORKER_MEMORY`` of RAM. Slides are independent and a slide has serial
  parts (file open, tile decode, region bookkeeping) that intra-op threads do not speed up, so
  processes scale better than threads; docs/cluster.md has the measurement on 2 cores.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask
from dask.system import CPU_COUNT

from ..errors import ZoomgradeError
from .worker import one_line

#: RAM one worker needs: both models, one slide's low-power image and stage-2 batches, with headroom.
MIN_WORKER_MEMORY = 2 * 1024**3
#: How long to wait for an existing cluster to have at least one worker.
WORKER_WAIT_S = 60.0


@dataclass(frozen=True)
class ClusterPlan:
    workers: int  # worker processes (local cluster); 0 = an existing cluster decides
    threads_per_worker: int | None  # model/BLAS threads per worker; None = leave the workers' setting
    memory_limit: int | None  # bytes per worker (local), None = Dask's
    why: str


@dataclass
class ClusterHandle:
    client: Any  # distributed.Client (untyped)
    plan: ClusterPlan
    local: bool
    dashboard: str | None
    allowed_failures: int | None  # worker deaths a task survives before it fails (KilledWorker)
    address: str


def total_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def plan_local(
    workers: int | None = None,
    threads_per_worker: int | None = None,
    cores: int | None = None,
    memory: int | None = None,
) -> ClusterPlan:
    """Workers x threads for a LocalCluster on ``cores`` cores (default: what this process may use)."""
    cores = max(1, cores or CPU_COUNT)
    memory = memory or total_memory()
    for name, v in (("--workers", workers), ("--threads-per-worker", threads_per_worker)):
        if v is not None and v < 1:
            raise ZoomgradeError(f"{name}: must be at least 1, got {v}")
    if workers and threads_per_worker:
        why = "as asked"
    elif workers:
        threads_per_worker = max(1, cores // workers)
        why = f"{cores} cores shared by {workers} worker(s)"
    elif threads_per_worker:
        workers = max(1, cores // threads_per_worker)
        why = f"{cores} cores / {threads_per_worker} thread(s) each"
    else:
        threads_per_worker = 1
        workers = max(1, min(cores, memory // MIN_WORKER_MEMORY))
        why = f"one single-threaded worker per core ({cores} cores, {memory / 1024**3:.0f} GiB)"
    return ClusterPlan(
        workers=workers, threads_per_worker=threads_per_worker, memory_limit=max(1, memory // workers), why=why
    )


def _worker_env(threads: int) -> dict[str, str]:
    """The worker processes' environment: BLAS threads, and no onnxruntime telemetry files (its import
    writes a device id under ~/.cache unless ORT_DISABLE_TELEMETRY is set)."""
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "ORT_DISABLE_TELEMETRY": "1"}


def _scheduler_allowed_failures(client) -> int | None:
    try:
        return int(client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures))
    except Exception:
        return None


def _dashboard(client) -> str | None:
    """The dashboard's URL if it serves one. Without bokeh (not a dependency) a scheduler still runs
    its HTTP server and reports a link, but the page only says to install bokeh: say nothing then."""
    import urllib.request

    try:
        link = client.dashboard_link
        if not link:
            return None
        with urllib.request.urlopen(link, timeout=2) as resp:
            page = resp.read(4096)
            return link if resp.status == 200 and b"needs bokeh" not in page else None
    except Exception:
        return None


@contextlib.contextmanager
def _sigint_handled_by(handler: Any) -> Iterator[None]:
    """SIGINT goes to ``handler`` inside the block, and the old handler is back after it (in the main thread
    only: no other thread may set a handler, and signals reach only the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _sigint_ignored() -> contextlib.AbstractContextManager[None]:
    """Worker processes started in this block inherit an ignored SIGINT: Ctrl-C in the terminal reaches the
    whole process group, and only the driver should answer it (one line, exit 130), not every worker with
    its own traceback. The driver's handler is restored at once."""
    return _sigint_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[list[bool]]:
    """Ctrl-C inside this block is noted (the list gets an entry), not raised: a cluster's close cut short
    leaves its worker processes to time out (Ctrl-C during the close took 10.6-10.7 s to exit, against 1.5-1.9 s
    during grading, 12 slides on 2 workers), and the close itself takes about a second."""
    got: list[bool] = []
    with _sigint_handled_by(lambda *_: got.append(True)):
        yield got


@contextlib.contextmanager
def _closed_after(closable: Any) -> Iterator[None]:
    """Close ``closable`` after the block, shielded from Ctrl-C. One that came during the close is answered
    once it is closed, unless the block already raised (its exception goes on)."""
    done = False
    try:
        yield
        done = True
    finally:
        with _sigint_deferred() as got:
            closable.close()
    if done and got:
        raise KeyboardInterrupt


def _quiet_teardown(cluster, debug: bool) -> None:
    """After Ctrl-C the cluster is closed under messages still in flight (a plugin being set up, a task's
    result); the cluster's own event loop would log each as "Future exception was never retrieved" with a
    traceback. Those are expected then: that loop (this cluster's only) drops them; --debug keeps them."""
    if debug:
        return
    loop = getattr(getattr(cluster, "loop", None), "asyncio_loop", None)
    if loop is not None:
        loop.set_exception_handler(lambda _loop, _context: None)


@contextlib.contextmanager
def open_cluster(
    scheduler: str | None, plan: ClusterPlan, retries: int, debug: bool = False
) -> Iterator[ClusterHandle]:
    """A connected Client (and the LocalCluster it owns, if any), closed on exit.

    ``retries`` = how many times a slide is rescheduled after the worker grading it dies: Dask's
    ``allowed-failures``. For the local cluster we set it; an existing scheduler keeps its own
    (start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=K) and we report what it is.
    """
    from distributed import Client, LocalCluster

    if scheduler is None:
        threads = plan.threads_per_worker or 1
        # worker-saturation 1.0: a worker holds only the slide it is grading, none queued behind it, so
        # slides go to whichever worker frees up first and a dying worker takes no waiting slide along.
        with (
            dask.config.set(
                {"distributed.scheduler.allowed-failures": retries, "distributed.scheduler.worker-saturation": 1.0}
            ),
            _sigint_ignored(),
        ):
            cluster = LocalCluster(
                n_workers=plan.workers,
                threads_per_worker=1,  # one slide at a time per worker process (see module doc)
                processes=True,
                memory_limit=plan.memory_limit,
                dashboard_address=":0",  # any free port: several batches may run side by side
                # Workers' own logs (tracebacks of a failed model load, restarts after a kill) only with
                # --debug: the driver reports every failure in one line and in failures.csv.
                silence_logs=logging.WARNING if debug else logging.CRITICAL,
                env=_worker_env(threads),
            )
        with _closed_after(cluster):
            client = Client(cluster)
            with _closed_after(client):
                try:
                    yield ClusterHandle(client, plan, True, _dashboard(client), retries, cluster.scheduler_address)
                except KeyboardInterrupt:
                    _quiet_teardown(cluster, debug)
                    raise
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as err:
        raise ZoomgradeError(f"{scheduler}: cannot connect to the Dask scheduler ({one_line(err)})") from None
    with _closed_after(client):
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise ZoomgradeError(f"{scheduler}: no Dask worker joined within {WORKER_WAIT_S:.0f} s") from None
        yield ClusterHandle(client, plan, False, _dashboard(client), _scheduler_allowed_failures(client), scheduler)
