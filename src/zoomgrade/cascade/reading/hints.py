"""Read-ahead hints: before a pass reads, a background thread tells the OS which file bytes it will read
(``Slide.will_need``), so a slide that is not in the page cache is fetched many requests at a time instead
of one tile per reader at a time. ``hint_ahead`` serves a pass planned up front, ``PlanAhead`` one planned
item by item."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from ...types import CostRecord
from ..context import Box, SlideLike

T = TypeVar("T")
#: How far stage 2's windows are planned ahead of its readers, in regions: a stop leaves the regions past
#: it unplanned (on the II-IV bench slides the stop leaves 18-55% of them unread; planning all of a 20 x 20
#: mm slide's regions took 0.15-0.23 s of CPU), while each region's bytes are still hinted well before it
#: is read (the readers hold a batch and a few regions more).
PLAN_AHEAD = 32
Hint = Callable[[Sequence[Box]], object]


def slide_hinter(slide: SlideLike, mpp: float) -> Hint | None:
    """``slide.will_need`` at ``mpp`` as a one-argument hint, or None for slide-like objects that cannot hint."""
    will_need = getattr(slide, "will_need", None)
    if will_need is None:
        return None
    return lambda boxes: will_need(boxes, mpp)


@contextlib.contextmanager
def hint_ahead(
    slide: SlideLike, boxes: Sequence[Box], mpp: float, cost: CostRecord, stage: str, enabled: bool = True
) -> Iterator[None]:
    """While the body reads, a thread hints ``boxes`` (level-0 px, in read order) at ``mpp``; its time goes
    to ``stage``. The thread is joined on leaving, so the slide is never closed under it."""
    hint = slide_hinter(slide, mpp) if enabled and boxes else None
    if hint is None:
        yield
        return

    def run() -> None:
        t0 = time.perf_counter()
        with contextlib.suppress(Exception):  # a hint that fails changes nothing but speed
            hint(boxes)
        cost.add(stage, seconds=time.perf_counter() - t0)

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
    ``ahead``: plan at most this many items past the furthest one a reader has waited for (None: all, as
    fast as it can), so a pass that stops early leaves what it will never read unplanned.
    Items are told apart by identity (``id``): pass distinct objects."""

    def __init__(
        self,
        items: Sequence[T],
        plan: Callable[[T], Sequence[Box]],
        hint: Hint | None,
        cost: CostRecord,
        plan_stage: str,
        hint_stage: str,
        ahead: int | None = None,
    ) -> None:
        if ahead is not None and ahead < 1:
            raise ValueError(f"ahead must be at least 1, got {ahead}")
        self._plan, self._hint, self._cost = plan, hint, cost
        self._stages = (plan_stage, hint_stage)
        self._ready = {id(it): threading.Event() for it in items}
        self._position = {id(it): i for i, it in enumerate(items)}
        self._errors: dict[int, BaseException] = {}
        self._stop = threading.Event()
        self._ahead = ahead
        self._reached = -1  # the furthest position a reader has waited for
        self._moved = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(list(items),), name="zoomgrade-planner", daemon=True)
        self._thread.start()

    def _run(self, items: list[T]) -> None:
        t_plan = t_hint = 0.0
        hint = self._hint
        try:
            for i, it in enumerate(items):
                if self._ahead is not None:
                    with self._moved:
                        while not self._stop.is_set() and i > self._reached + self._ahead:
                            self._moved.wait()
                if self._stop.is_set():
                    break
                t0 = time.perf_counter()
                boxes: Sequence[Box] = ()
                try:
                    boxes = self._plan(it)
                except Exception as err:  # the item's reader reports it
                    self._errors[id(it)] = err
                t1 = time.perf_counter()
                t_plan += t1 - t0
                self._ready[id(it)].set()
                if hint is not None and boxes:
                    try:
                        hint(boxes)
                    except Exception:  # a hint that fails changes nothing but speed
                        hint = None
                    t_hint += time.perf_counter() - t1
        finally:
            for ev in self._ready.values():  # stopped early: nobody waits for ever
                ev.set()
            self._cost.add(self._stages[0], seconds=t_plan)
            if self._hint is not None:
                self._cost.add(self._stages[1], seconds=t_hint)

    def wait(self, item: T) -> None:
        if self._ahead is not None:
            with self._moved:
                if self._position[id(item)] > self._reached:
                    self._reached = self._position[id(item)]
                    self._moved.notify()
        self._ready[id(item)].wait()
        err = self._errors.get(id(item))
        if err is not None:
            raise err

    def close(self) -> None:
        with self._moved:
            self._stop.set()
            self._moved.notify()
        self._thread.join()

    def __enter__(self) -> PlanAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
