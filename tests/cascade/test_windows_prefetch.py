import threading
import time

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from zoomgrade.cascade.reading import fit, read_and_grade
from zoomgrade.cascade.windows import region_windows
from zoomgrade.slide.tiles import Grid
from zoomgrade.types import CostRecord


def grid_1d(start, length, size, stride):
    g, n = Grid(stride, size).centred(start, length)
    return [g.origin(k) for k in range(n)]


def test_grid_covers_span_centred():
    xs = grid_1d(100, 1000, 256, 256)
    assert len(xs) == 4 and xs[0] <= 100 and xs[-1] + 256 >= 1100
    assert xs[0] - 100 == pytest.approx(1100 - (xs[-1] + 256))  # centred
    assert grid_1d(0, 10, 256, 256) == [pytest.approx(-123.0)]  # one window, centred on a tiny region


def test_region_windows_keep_only_those_touching_the_polygon():
    # an L-shaped region: the bbox's empty corner gets no window
    poly = Polygon([(0, 0), (2048, 0), (2048, 1024), (1024, 1024), (1024, 2048), (0, 2048)])
    w = region_windows(poly, slide_mpp=0.25, mpp=0.5, size_px=256, stride_px=256)
    assert all(bw == 512 and bh == 512 for _, _, bw, bh in w.boxes)  # 256 px at 0.5 = 512 level-0 px
    assert len(w.boxes) == 12  # 16 on the 4x4 grid minus the 4 in the empty quadrant
    assert (w.overlap > 0.99).all()
    half = region_windows(box(0, 0, 256, 256), 0.25, 0.5, 256, 256)
    assert len(half.boxes) == 1 and half.overlap[0] == pytest.approx(0.25)


def test_max_windows_spreads_the_sample():
    w = region_windows(box(0, 0, 8192, 8192), 0.25, 0.5, 256, 256, max_windows=10)
    assert len(w.boxes) == 10
    ys = sorted({b[1] for b in w.boxes})
    assert ys[0] == 0 and ys[-1] >= 7000  # from the first row to the last, not the first rows only


def test_fit_crops_and_pads_white():
    a = np.zeros((257, 255, 3), np.uint8)
    f = fit(a, 256)
    assert f.shape == (256, 256, 3) and f[:, 255].min() == 255 and f[:, :255].max() == 0


def test_read_and_grade_batches_across_items_and_overlaps_reading():
    predicting = threading.Event()  # the first model call has started
    read_meanwhile = threading.Event()  # a read ran while it was running
    calls = []

    def read(n: int) -> np.ndarray:
        if predicting.is_set():
            read_meanwhile.set()
        return np.full((n, 4, 4, 3), n, np.uint8)

    def predict(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        if len(calls) == 1:  # the first batch waits for the reader: it must be reading ahead (prefetch)
            predicting.set()
            read_meanwhile.wait(10)
        return np.repeat(x[:, 0, 0, :1].astype(float), 2, axis=1)

    items = [1, 2, 3, 5, 1, 1]
    cost = CostRecord()
    outs = list(read_and_grade(items, read, predict, batch_size=4, depth=2, cost=cost, infer_stage="inf"))
    assert [o.item for o in outs] == items
    for o in outs:
        assert o.probs.shape == (o.item, 2) and (o.probs == o.item).all()
    st = cost.stages["inf"]
    assert st.model_items == sum(items)
    assert st.model_calls < len(items)  # small items shared batches
    assert read_meanwhile.is_set()  # some read happened while the model was running (prefetch)


@pytest.mark.parametrize("readers", [1, 2])
def test_items_read_ungraded_skip_the_model_but_keep_the_batches(readers):
    """``graded(item)`` False: the item's images are read but left out of the forward passes (it comes back
    with no outputs), and still count towards a batch's size, so the batches hold the same items."""
    items = [1, 2, 3, 5, 1, 1, 2]
    runs: dict[bool, tuple[list, CostRecord, list]] = {}
    for skipping in (False, True):
        batches: list[list[int]] = []

        def predict(x: np.ndarray, batches: list[list[int]] = batches) -> np.ndarray:
            batches.append(sorted(set(x[:, 0, 0, 0].tolist())))
            return np.repeat(x[:, 0, 0, :1].astype(float), 2, axis=1)

        cost = CostRecord()
        outs = list(
            read_and_grade(
                items,
                lambda n: np.full((n, 4, 4, 3), n, np.uint8),
                predict,
                batch_size=4,
                depth=2,
                cost=cost,
                infer_stage="inf",
                readers=readers,
                graded=(lambda n: n != 3) if skipping else None,
            )
        )
        runs[skipping] = outs, cost, batches
    (every, cost_all, batches_all), (some, cost_some, batches_some) = runs[False], runs[True]
    assert [o.item for o in some] == [o.item for o in every] == items
    for o in some:
        assert o.error is None and (o.probs.shape == (0, 0) if o.item == 3 else (o.probs == o.item).all())
    assert cost_some.stages["inf"].model_items == sum(items) - 3 == cost_all.stages["inf"].model_items - 3
    # the same batches, the item 3 left out of its forward pass
    assert [kept for b in batches_all if (kept := [n for n in b if n != 3])] == batches_some


def test_read_errors_failing_graded_questions_and_budget_skips_are_per_item():
    def read(i: int) -> np.ndarray:
        if i == 1:
            raise OSError("bad tile")
        return np.zeros((1, 2, 2, 3), np.uint8)

    def graded(i: int) -> bool:  # asked once an item is read; raising fails that item only, as a bad read
        if i == 2:
            raise ValueError("no count")
        return True

    seen = []

    def skip() -> bool:
        seen.append(1)
        return len(seen) > 4

    outs = list(
        read_and_grade(
            list(range(6)),
            read,
            lambda x: np.ones((len(x), 3)),
            batch_size=8,
            depth=1,
            cost=CostRecord(),
            infer_stage="inf",
            skip=skip,
            graded=graded,
        )
    )
    assert outs[0].probs.shape == (1, 3)
    assert outs[1].error and "bad tile" in outs[1].error
    assert outs[2].error and "no count" in outs[2].error and outs[2].probs is None
    assert outs[3].probs is not None
    assert outs[4].skipped and outs[5].skipped


def test_model_failure_is_recorded_not_raised():
    def predict(x):
        raise RuntimeError("boom")

    outs = list(
        read_and_grade(
            [1, 2],
            lambda i: np.zeros((i, 2, 2, 3), np.uint8),
            predict,
            batch_size=8,
            depth=1,
            cost=CostRecord(),
            infer_stage="inf",
        )
    )
    assert all("boom" in o.error for o in outs)


def test_consumer_stopping_early_ends_the_reader():
    gen = read_and_grade(
        list(range(100)),
        lambda i: np.zeros((1, 2, 2, 3), np.uint8),
        lambda x: np.ones((len(x), 2)),
        batch_size=1,
        depth=2,
        cost=CostRecord(),
        infer_stage="i",
    )
    next(gen)
    before = threading.active_count()
    gen.close()
    assert threading.active_count() <= before - 1 or not any(
        t.name == "zoomgrade-reader" for t in threading.enumerate()
    )


def test_several_readers_read_at_once_and_keep_item_order():
    lock = threading.Lock()
    running, most = [0], [0]
    done = {i: threading.Event() for i in range(30)}

    def read(i: int) -> np.ndarray:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if i % 7 == 0 and i + 1 < 30:  # these finish only after the next item: later items finish first
            finished_after_next = done[i + 1].wait(10)
        with lock:
            running[0] -= 1
        done[i].set()
        if i % 7 == 0 and i + 1 < 30 and not finished_after_next:
            raise AssertionError(f"item {i + 1} was not read while item {i} was")
        if i == 5:
            raise OSError("bad tile")
        return np.full((1 + i % 3, 2, 2, 3), i, np.uint8)

    outs = list(
        read_and_grade(
            list(range(30)),
            read,
            lambda x: x[:, 0, 0, :2].astype(float),
            batch_size=4,
            depth=4,
            cost=CostRecord(),
            infer_stage="inf",
            readers=3,
        )
    )
    assert [o.item for o in outs] == list(range(30))
    assert most[0] >= 2  # reads overlapped each other
    assert "bad tile" in outs[5].error and outs[5].probs is None
    assert all(
        o.error is None and o.probs.shape == (1 + o.item % 3, 2) and (o.probs == o.item).all()
        for o in outs
        if o.item != 5
    )


def test_several_readers_stop_when_the_consumer_does():
    gen = read_and_grade(
        list(range(1000)),
        lambda i: np.zeros((1, 2, 2, 3), np.uint8),
        lambda x: np.ones((len(x), 2)),
        batch_size=1,
        depth=2,
        cost=CostRecord(),
        infer_stage="i",
        readers=2,
    )
    next(gen)
    readers = [t for t in threading.enumerate() if t.name.startswith("zoomgrade-reader")]
    assert readers
    gen.close()
    for t in readers:  # blocked readers would never end: the queue is full and nobody takes from it
        t.join(timeout=10)
    assert not any(t.is_alive() for t in readers)


def test_min_overlap_and_shifted_grid():
    poly = box(0, 0, 1024, 1024).union(box(1024, 500, 1600, 510))  # a block with a long thin spur
    w = region_windows(poly, 0.25, 0.5, 256, 256)
    assert w.overlap.min() < 0.1
    w2 = region_windows(poly, 0.25, 0.5, 256, 256, min_overlap=0.1)
    assert len(w2.boxes) == int((w.overlap >= 0.1).sum()) < len(w.boxes)
    tiny = region_windows(box(0, 0, 20, 20), 0.25, 0.5, 256, 256, min_overlap=0.5)
    assert len(tiny.boxes) == 1  # the best window is always kept
    poly = box(0, 0, 600, 600)
    w = region_windows(poly, 0.25, 0.5, 256, 256)
    s = region_windows(poly, 0.25, 0.5, 256, 256, shifted=True)
    xs, sx = sorted({b[0] for b in w.boxes}), sorted({b[0] for b in s.boxes})
    assert len(sx) == len(xs) + 1 and sx[0] == xs[0] - 256 and sx[1] == xs[0] + 256  # interleaved by half


def test_best_covered_keeps_the_most_covered_windows_and_spreads_ties():
    from zoomgrade.cascade.windows import Windows, best_covered

    boxes = [(i * 256, 0, 256, 256) for i in range(6)]
    w = Windows(boxes, np.array([0.2, 0.9, 0.5, 0.9, 0.95, 0.1]), n_planned=6)
    top, rest = best_covered(w, 2)
    assert top.boxes == [boxes[1], boxes[4]] or top.boxes == [boxes[3], boxes[4]]
    assert sorted(top.boxes + rest.boxes) == sorted(boxes) and top.n_planned == rest.n_planned == 6
    assert list(rest.overlap) == [w.overlap[boxes.index(b)] for b in rest.boxes]
    # a sheet: every window covers 1.0, so the kept ones are spread over it, not its first row
    sheet = Windows(boxes, np.ones(6), 6)
    assert best_covered(sheet, 2)[0].boxes == [boxes[0], boxes[5]]
    # k = 0 or at least as many as there are: everything, nothing left for the fallback
    for k in (0, 6, 9):
        a, b = best_covered(w, k)
        assert a.boxes == boxes and b.boxes == []


def test_lattice_windows_lie_on_the_slide_wide_grid():
    poly = box(300, 100, 900, 380)
    w = region_windows(poly, 0.25, 0.5, 128, 128, lattice=True)
    assert w.boxes and all(x % 256 == 0 and y % 256 == 0 and bw == bh == 256 for x, y, bw, bh in w.boxes)
    # together they cover the region: columns 1..3 (256-1024) and rows 0..1 (0-512)
    assert {x for x, *_ in w.boxes} == {256, 512, 768} and {y for _, y, *_ in w.boxes} == {0, 256}
    s = region_windows(poly, 0.25, 0.5, 128, 128, shifted=True, lattice=True)
    assert all(x % 256 == 128 and y % 256 == 128 for x, y, *_ in s.boxes)
    assert not set(w.boxes) & set(s.boxes)


def test_plan_ahead_plans_in_order_hints_each_plan_and_reports_errors():
    from zoomgrade.cascade.reading import PlanAhead

    items = [1, 2, 3, 4]
    planned, hinted = [], []

    def plan(i):
        if i == 3:
            raise ValueError("bad region")
        planned.append(i)
        return [(i, i, 1, 1)] if i != 2 else []  # item 2 has nothing to read

    cost = CostRecord()
    pa = PlanAhead(items, plan, hinted.append, cost, "plan", "hints")
    for i in (4, 1, 2):  # any order: each waits for its own plan only
        pa.wait(i)
        assert i in planned
    with pytest.raises(ValueError, match="bad region"):
        pa.wait(3)
    pa.close()
    assert planned == [1, 2, 4]
    assert hinted == [[(1, 1, 1, 1)], [(4, 4, 1, 1)]]  # in plan order, nothing for an empty plan
    assert set(cost.stages) == {"plan", "hints"}


def test_plan_ahead_plans_only_so_far_past_the_readers():
    from zoomgrade.cascade.reading import PlanAhead

    planned: list[int] = []
    pa = PlanAhead(list(range(100)), lambda i: planned.append(i) or [(i, 0, 1, 1)], None, CostRecord(), "p", "h", 3)
    pa.wait(0)
    pa.wait(10)  # a reader at item 10: items up to 13 may be planned, no further
    time.sleep(0.2)  # time enough to plan all 100 were it not held back
    pa.close()
    assert planned == list(range(len(planned))) and 11 <= len(planned) <= 14
    unbounded: list[int] = []
    everything = PlanAhead(list(range(100)), lambda i: unbounded.append(i) or [], None, CostRecord(), "p", "h")
    everything.wait(99)
    everything.close()
    assert unbounded == list(range(100))
    with pytest.raises(ValueError, match="ahead"):
        PlanAhead([1], lambda i: [], None, CostRecord(), "p", "h", 0)


def test_plan_ahead_stops_when_closed_and_a_failing_hint_stops_only_the_hints():
    from zoomgrade.cascade.reading import PlanAhead

    gate = threading.Event()
    planned = []

    def slow_plan(i):
        gate.wait(5)
        planned.append(i)
        return [(i, 0, 1, 1)]

    def bad_hint(boxes):
        raise OSError("no fadvise")

    pa = PlanAhead(list(range(100)), slow_plan, bad_hint, CostRecord(), "plan", "hints")
    pa._stop.set()  # as close() does, before the planner gets far
    gate.set()
    pa.close()
    assert len(planned) <= 1
    pa.wait(50)  # returns: nobody waits for ever on a plan that will not come
    ok = PlanAhead([1, 2, 3], lambda i: [(i, 0, 1, 1)], bad_hint, CostRecord(), "plan", "hints")
    for i in (1, 2, 3):
        ok.wait(i)
    ok.close()
