"""Overlap reading with inference: reader threads read the next items into a bounded queue while the
model runs on the current batch, and batches are filled across items (small regions share a batch).

Slide decoding (JPEG tiles, resampling), the cell count's numpy work and the engine all release the GIL
for their heavy parts. One reader could not keep up with the cascade's stage 2 on 2 cores (the model
thread waited on it for ~1.2 of ~2.6 s on a 20 x 20 mm slide), so a pass may use several; the queue
bound keeps memory flat.

Before a pass reads, a background thread tells the OS which file bytes it will read (``Slide.will_need``:
``hint_ahead`` for a pass planned up front, ``PlanAhead`` for one planned item by item), so a slide that is
not in the page cache is fetched many requests at a time instead of one tile per reader at a time.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from ..types import CostRecord

T = TypeVar("T")

#: A reader marks an item it did not read because the budget was spent.
SKIPPED = "skipped"


@dataclass
class Outcome(Generic[T]):
    item: T
    probs: np.ndarray | None  # (k, n_classes) stage-2 outputs for the item's k images
    error: str | None = None  # why reading or grading failed
    skipped: bool = False  # not read: budget spent


class _Done:
    pass


Box = tuple[int, int, int, int]


def slide_hinter(slide: Any, mpp: float) -> Callable[[Sequence[Box]], Any] | None:
    """``slide.will_need`` at ``mpp`` as a one-argument hint, or None for slide-like objects that cannot hint."""
    will_need = getattr(slide, "will_need", None)
    if will_need is None:
        return None
    return lambda boxes: will_need(boxes, mpp)


@contextlib.contextmanager
def hint_ahead(slide: Any, boxes: Sequence[Box], mpp: float, cost: CostRecord, stage: str,
               enabled: bool = True) -> Iterator[None]:
    """While the body reads, a thread hints ``boxes`` (level-0 px, in read order) at ``mpp``; its time goes
    to ``stage``. The thread is joined on leaving, so the slide is never closed under it."""
    hint = slide_hinter(slide, mpp) if enabled and boxes else None
    if hint is None:
        yield
        return

    def run() -> None:
        t0 = time.perf_counter()
        with contextlib.suppress(Exception):
            hint(boxes)
        cost.stage(stage).seconds += time.perf_counter() - t0

    th = threading.Thread(target=run, name="zoomgrade-hints", daemon=True)
    th.start()
    try:
        yield
    finally:
        th.join()


class PlanAhead(Generic[T]):
    """Plans items, in order, in a background thread, and right after each plan hints the boxes it will read
    (``hint``), so the OS fetches them while the readers are still on earlier items. Readers call
    ``wait(item)`` before reading it: it returns once the item is planned (re-raising its planning error).
    Planning time goes to ``plan_stage``, hinting time to ``hint_stage``. ``close()`` (or leave the
    ``with`` block) before the slide is closed.
    Items are told apart by identity (``id``): pass distinct objects."""

    def __init__(self, items: Sequence[T], plan: Callable[[T], Sequence[Box]],
                 hint: Callable[[Sequence[Box]], Any] | None, cost: CostRecord, plan_stage: str,
                 hint_stage: str) -> None:
        self._plan, self._hint, self._cost = plan, hint, cost
        self._stages = (plan_stage, hint_stage)
        self._ready = {id(it): threading.Event() for it in items}
        self._errors: dict[int, BaseException] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(list(items),), name="zoomgrade-planner",
                                        daemon=True)
        self._thread.start()

    def _run(self, items: list[T]) -> None:
        t_plan = t_hint = 0.0
        hint = self._hint
        try:
            for it in items:
                if self._stop.is_set():
                    break
                t0 = time.perf_counter()
                boxes: Sequence[Box] = ()
                try:
                    boxes = self._plan(it)
                except Exception as err:
                    self._errors[id(it)] = err
                t1 = time.perf_counter()
                t_plan += t1 - t0
                self._ready[id(it)].set()
                if hint is not None and boxes:
                    try:
                        hint(boxes)
                    except Exception:
                        hint = None
                    t_hint += time.perf_counter() - t1
        finally:
            for ev in self._ready.values():  # stopped early: nobody waits for ever
                ev.set()
            self._cost.stage(self._stages[0]).seconds += t_plan
            if self._hint is not None:
                self._cost.stage(self._stages[1]).seconds += t_hint

    def wait(self, item: T) -> None:
        self._ready[id(item)].wait()
        err = self._errors.get(id(item))
        if err is not None:
            raise err

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> PlanAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reader(items: Sequence[T], read: Callable[[T], np.ndarray], out: queue.Queue[Any], stop: threading.Event,
            skip: Callable[[], bool] | None) -> None:
    for it in items:
        if stop.is_set():
            break
        if skip is not None and skip():
            out.put((it, None, SKIPPED))
            continue
        try:
            out.put((it, read(it), None))
        except Exception as err:
            out.put((it, None, f"{type(err).__name__}: {err}"))
    out.put(_Done())


def _pool_reader(items: Sequence[T], read: Callable[[T], np.ndarray], out: queue.Queue[Any],
                 stop: threading.Event, n: int) -> None:
    """``n`` reader threads: items are submitted in order and their futures queued in order, so the
    consumer still sees item order while up to ``n`` reads run at once."""
    pool = ThreadPoolExecutor(n, thread_name_prefix="zoomgrade-reader")
    try:
        for it in items:
            if stop.is_set():
                break
            out.put((it, pool.submit(read, it), None))
    finally:
        pool.shutdown(wait=True, cancel_futures=stop.is_set())
        out.put(_Done())


def read_and_grade(
    items: Sequence[T],
    read: Callable[[T], np.ndarray],
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int,
    depth: int,
    cost: CostRecord,
    infer_stage: str,
    skip: Callable[[], bool] | None = None,
    on_item: Callable[[int], None] | None = None,
    readers: int = 1,
) -> Iterator[Outcome[T]]:
    """Yield one ``Outcome`` per item, in item order, with the model's outputs for its images.

    ``read(item) -> (k, H, W, 3) uint8`` runs in the reader thread (it accounts its own read cost);
    ``predict(images) -> (k, n)`` runs here, on batches of up to ``batch_size`` images gathered across
    consecutive items. ``skip()`` is asked by the reader before each item (budgets): it needs the reads
    done one after another, so it runs with one reader whatever ``readers`` says. ``readers`` > 1 reads
    that many items at once (``read`` must then be thread-safe).
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    if readers > 1 and skip is None:
        th = threading.Thread(target=_pool_reader, args=(items, read, q, stop, readers), name="zoomgrade-reader",
                              daemon=True)
    else:
        th = threading.Thread(target=_reader, args=(items, read, q, stop, skip), name="zoomgrade-reader", daemon=True)
    th.start()
    pending: list[tuple[T, np.ndarray | None, str | None]] = []
    n_imgs = 0
    done_items = 0
    stage = cost.stage(infer_stage)

    def flush() -> list[Outcome[T]]:
        nonlocal n_imgs
        to_run = [(it, a) for it, a, e in pending if e is None and a is not None and len(a)]
        results: dict[int, np.ndarray] = {}
        failed: str | None = None
        if to_run:
            batch = np.concatenate([a for _, a in to_run], axis=0)
            t0 = time.perf_counter()
            try:
                outs = [predict(batch[i:i + batch_size]) for i in range(0, len(batch), batch_size)]
                probs = np.concatenate(outs, axis=0)
                stage.model_calls += len(outs)
                stage.model_items += len(batch)
            except Exception as err:
                failed = f"{type(err).__name__}: {err}"
                probs = None
            stage.seconds += time.perf_counter() - t0
            start = 0
            for _it, imgs in to_run:
                if probs is not None:
                    results[id(imgs)] = probs[start:start + len(imgs)]
                start += len(imgs)
        outs_: list[Outcome[T]] = []
        for it, a, e in pending:
            if e == SKIPPED:
                outs_.append(Outcome(it, None, None, skipped=True))
            elif e is not None:
                outs_.append(Outcome(it, None, e))
            elif a is None or not len(a):
                outs_.append(Outcome(it, np.zeros((0, 0))))
            elif failed is not None:
                outs_.append(Outcome(it, None, failed))
            else:
                outs_.append(Outcome(it, results[id(a)]))
        pending.clear()
        n_imgs = 0
        return outs_

    try:
        while True:
            got = q.get()
            if isinstance(got, _Done):
                break
            if isinstance(got[1], Future):
                try:
                    got = (got[0], got[1].result(), None)
                except Exception as err:
                    got = (got[0], None, f"{type(err).__name__}: {err}")
            pending.append(got)
            n_imgs += 0 if got[1] is None else len(got[1])
            if n_imgs >= batch_size:
                for o in flush():
                    done_items += 1
                    if on_item:
                        on_item(done_items)
                    yield o
        for o in flush():
            done_items += 1
            if on_item:
                on_item(done_items)
            yield o
    finally:
        # The consumer may stop early: let the reader finish its current item and exit.
        stop.set()
        while th.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        th.join()
