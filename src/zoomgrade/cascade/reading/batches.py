"""Overlap reading with inference: reader threads read the next items into a bounded queue while the
model runs on the current batch, and batches are filled across items (small regions share a batch).

Slide decoding (JPEG tiles, resampling), the cell count's numpy work and the engine all release the GIL
for their heavy parts. One reader could not keep up with the cascade's stage 2 on 2 cores (the model
thread waited on it for ~1.2 of ~2.6 s on a 20 x 20 mm slide), so a pass may use several; the queue
bound keeps memory flat.

The pieces: a reader thread (``_read_in_order``, or ``_read_pooled`` with several readers) turns items into
``Read`` records; ``_gather`` groups them into batches of at least ``batch_size`` images; ``grade_batch``
runs the model on one group and gives one ``Graded`` record per item; ``read_and_grade`` ties them together.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from ...types import CostRecord

if TYPE_CHECKING:
    from ..context import PassContext

T = TypeVar("T")
Images = NDArray[np.uint8]  # (k, H, W, 3)
Probs = NDArray[np.floating]  # (k, n_classes)


@dataclass
class Read(Generic[T]):
    """One item as a reader left it: its images, or why there are none."""

    item: T
    images: Images | None = None
    error: str | None = None  # why reading failed
    skipped: bool = False  # not read: the budget was spent
    #: read, but decided without the model (stage 2: a region its count dismisses); its images still count
    #: towards a batch's size, so batches, and with them when decisions come back, are as if it were graded
    ungraded: bool = False


@dataclass
class Graded(Generic[T]):
    """One item after the model: the outputs for its k images, or why there are none."""

    item: T
    probs: Probs | None  # (k, n_classes); (0, 0) for an item with no images
    error: str | None = None  # why reading or grading failed
    skipped: bool = False  # not read: budget spent


#: What the reader thread queues: a call that gives the item's Read (at once, or when its read is done),
#: and None once every item is queued.
Ticket = Callable[[], "Read[T]"]


def _read_one(item: T, read: Callable[[T], Images], graded: Callable[[T], bool] | None = None) -> Read[T]:
    try:
        images = read(item)
        ungraded = graded is not None and not graded(item)
    except Exception as err:  # one bad region must not end the slide
        return Read(item, error=f"{type(err).__name__}: {err}")
    return Read(item, images, ungraded=ungraded)


def _ready(r: Read[T]) -> Ticket[T]:
    return lambda: r


def _read_in_order(
    items: Sequence[T],
    read: Callable[[T], Read[T]],
    out: queue.Queue[Ticket[T] | None],
    stop: threading.Event,
    skip: Callable[[], bool] | None,
) -> None:
    """One reader: item after item, asking ``skip()`` before each (a budget needs the reads in turn)."""
    for it in items:
        if stop.is_set():
            break
        out.put(_ready(Read(it, skipped=True) if skip is not None and skip() else read(it)))
    out.put(None)


def _read_pooled(
    items: Sequence[T], read: Callable[[T], Read[T]], out: queue.Queue[Ticket[T] | None], stop: threading.Event, n: int
) -> None:
    """``n`` reader threads: items are submitted in order and their futures queued in order, so the
    consumer still sees item order while up to ``n`` reads run at once."""
    pool = ThreadPoolExecutor(n, thread_name_prefix="zoomgrade-reader")
    try:
        for it in items:
            if stop.is_set():
                break
            out.put(pool.submit(read, it).result)
    finally:
        pool.shutdown(wait=True, cancel_futures=stop.is_set())
        out.put(None)


def _gather(tickets: queue.Queue[Ticket[T] | None], batch_size: int) -> Iterator[list[Read[T]]]:
    """Reads in item order, grouped as soon as a group holds ``batch_size`` images; the rest at the end."""
    group: list[Read[T]] = []
    n_imgs = 0
    while (ticket := tickets.get()) is not None:
        r = ticket()
        group.append(r)
        n_imgs += 0 if r.images is None else len(r.images)
        if n_imgs >= batch_size:
            yield group
            group, n_imgs = [], 0
    yield group


def grade_batch(
    reads: list[Read[T]], predict: Callable[[Images], Probs], batch_size: int, cost: CostRecord, stage: str
) -> list[Graded[T]]:
    """The model on every image of ``reads`` (in forward passes of up to ``batch_size``), those read
    ``ungraded`` apart: one ``Graded`` per read, in order. A failing forward pass fails every item of the group."""
    to_run = [r for r in reads if r.error is None and r.images is not None and len(r.images) and not r.ungraded]
    probs: Probs | None = None
    failed: str | None = None
    if to_run:
        batch = np.concatenate([r.images for r in to_run if r.images is not None], axis=0)
        t0 = time.perf_counter()
        try:
            outs = [predict(batch[i : i + batch_size]) for i in range(0, len(batch), batch_size)]
            probs = np.concatenate(outs, axis=0)
            cost.add(stage, model_calls=len(outs), model_items=len(batch))
        except Exception as err:  # recorded on each region of the batch
            failed = f"{type(err).__name__}: {err}"
        cost.add(stage, seconds=time.perf_counter() - t0)
    out: list[Graded[T]] = []
    start = 0
    for r in reads:
        if r.skipped:
            out.append(Graded(r.item, None, skipped=True))
        elif r.error is not None:
            out.append(Graded(r.item, None, r.error))
        elif r.images is None or not len(r.images) or r.ungraded:
            out.append(Graded(r.item, np.zeros((0, 0))))
        elif probs is None:
            out.append(Graded(r.item, None, failed))
        else:
            out.append(Graded(r.item, probs[start : start + len(r.images)]))
            start += len(r.images)
    return out


def read_and_grade(
    items: Sequence[T],
    read: Callable[[T], Images],
    predict: Callable[[Images], Probs],
    *,
    batch_size: int,
    depth: int,
    cost: CostRecord,
    infer_stage: str,
    skip: Callable[[], bool] | None = None,
    on_item: Callable[[int], None] | None = None,
    readers: int = 1,
    graded: Callable[[T], bool] | None = None,
) -> Iterator[Graded[T]]:
    """Yield one ``Graded`` per item, in item order, with the model's outputs for its images.

    ``read(item) -> (k, H, W, 3) uint8`` runs in the reader thread (it accounts its own read cost);
    ``predict(images) -> (k, n)`` runs here, on batches of up to ``batch_size`` images gathered across
    consecutive items. ``skip()`` is asked by the reader before each item (budgets): it needs the reads
    done one after another, so it runs with one reader whatever ``readers`` says. ``readers`` > 1 reads
    that many items at once (``read`` must then be thread-safe). ``graded(item)``, asked in the reader
    thread once the item is read: False leaves its images out of the forward passes (it comes back with
    no outputs, as an item without images).
    """
    one = functools.partial(_read_one, read=read, graded=graded)
    tickets: queue.Queue[Ticket[T] | None] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    if readers > 1 and skip is None:
        th = threading.Thread(
            target=_read_pooled, args=(items, one, tickets, stop, readers), name="zoomgrade-reader", daemon=True
        )
    else:
        th = threading.Thread(
            target=_read_in_order, args=(items, one, tickets, stop, skip), name="zoomgrade-reader", daemon=True
        )
    th.start()
    cost.add(infer_stage)  # the stage is on the record even when nothing was graded
    done = 0
    try:
        for group in _gather(tickets, batch_size):
            for g in grade_batch(group, predict, batch_size, cost, infer_stage):
                done += 1
                if on_item:
                    on_item(done)
                yield g
    finally:
        # The consumer may stop early: let the reader finish its current item and exit.
        stop.set()
        while th.is_alive():
            with contextlib.suppress(queue.Empty):
                tickets.get(timeout=0.05)
        th.join()


def read_and_grade_high_power(
    ctx: PassContext,
    items: Sequence[T],
    read: Callable[[T], Images],
    *,
    infer_stage: str,
    on_item: Callable[[int], None] | None = None,
    graded: Callable[[T], bool] | None = None,
) -> Iterator[Graded[T]]:
    """``read_and_grade`` with the run's stage-2 model, its reading settings and the shared high-power
    budget: stage 2 and the fallback read and grade alike."""
    s2, budget = ctx.cfg.stage2, ctx.high_power_budget()
    return read_and_grade(
        items,
        read,
        ctx.high_power_model().predict,
        batch_size=s2.batch_size,
        depth=s2.prefetch_regions,
        cost=ctx.cost,
        infer_stage=infer_stage,
        skip=budget.exhausted if budget.limited else None,
        readers=s2.readers,
        on_item=on_item,
        graded=graded,
    )
