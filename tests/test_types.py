"""The records that travel: CostRecord is safe to add to from many threads, pickles (Dask ships results),
and a copy with a stage added leaves the original as it was; Region keeps stage 1's cell estimate."""

from __future__ import annotations

import pickle
import threading

from shapely.geometry import box

from zoomgrade.types import MODES, CostRecord, Region, StageCost


def test_cost_record_adds_from_many_threads_without_losing_any() -> None:
    cost = CostRecord()
    n_threads, n_adds = 8, 2000

    def work() -> None:
        for _ in range(n_adds):
            cost.add("read", seconds=0.5, pixels=3, tiles=1)
            cost.add_read(0.5, 3, 1)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = cost.stage("read")
    total = n_threads * n_adds
    assert (st.tiles, st.pixels, st.seconds) == (total, 3 * total, 0.5 * total)
    assert cost.pixels_at(0.5) == 3 * total and cost.tiles_by_mpp["0.5"] == total
    assert cost.pixels_in("read", "absent") == 3 * total


def test_cost_record_pickles_and_copies_without_changing_the_original() -> None:
    cost = CostRecord()
    cost.add("stage1", seconds=1.0, pixels=10)
    back = pickle.loads(pickle.dumps(cost))
    assert back.to_dict() == cost.to_dict()
    back.add("stage1", pixels=1)  # its own lock works
    shown = cost.with_stage("write", StageCost(seconds=2.0))
    assert "write" in shown.stages and "write" not in cost.stages
    shown.stages["stage1"].pixels += 5
    assert cost.stages["stage1"].pixels == 10


def test_region_cells_prefer_the_high_power_count_and_keep_stage_1s() -> None:
    r = Region(0, box(0, 0, 10, 10), None, "benign", 0.9, 100.0, est_cells=12)  # type: ignore[arg-type]
    assert r.cells == 12 and r.counted_cells is None
    import dataclasses

    c = dataclasses.replace(r, counted_cells=3)
    assert (c.cells, c.est_cells, r.cells) == (3, 12, 12)


def test_the_modes_are_defined_once() -> None:
    assert MODES == ("cascade", "exhaustive", "both")
