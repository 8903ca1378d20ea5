"""Stage 2's read order: coarse grades stay most severe first; within one grade, regions are read in
serpentine bands for tile locality; decisions still come back in severity order; a budget keeps the
strict severity order (it decides which regions are read at all)."""

from __future__ import annotations

import numpy as np
import pytest
from cascade_builders import context, make_region

from zoomgrade.bench.slide_io import write_aperio_from_array
from zoomgrade.cascade.config import GradeConfig
from zoomgrade.cascade.regions import severity_order
from zoomgrade.cascade.stage2 import Job, read_order, run_stage2
from zoomgrade.cascade.windows import Windows
from zoomgrade.slide import open_slide
from zoomgrade.types import CostRecord

BENIGN, SUSPICIOUS, MALIGNANT = (0.9, 0.05, 0.05), (0.1, 0.8, 0.1), (0.05, 0.1, 0.85)


def _jobs(regions) -> list[Job]:
    return [Job(i, r, Windows()) for i, r in enumerate(regions)]


def test_read_order_keeps_grade_runs_and_snakes_within_each(labels):
    rng = np.random.default_rng(1_000_300)
    # a 3 x 4 grid of benign regions (bands of 1000 px), two malignant and one suspicious region among them
    cells = [(c * 1000 + 100, r * 1000 + 100) for r in range(3) for c in range(4)]
    regions = [
        make_region(i, BENIGN, x=x, y=y, side=300, confidence=float(rng.uniform(0.5, 1)))
        for i, (x, y) in enumerate(cells)
    ]
    regions += [
        make_region(20, MALIGNANT, x=3100, y=2100, side=300),
        make_region(21, MALIGNANT, x=100, y=100),
        make_region(22, SUSPICIOUS, x=2000, y=0),
    ]
    jobs = _jobs(severity_order(regions, labels))
    out = read_order(jobs, band_px=1000)
    assert sorted(j.order for j in out) == list(range(len(jobs)))
    sev = [labels.coarse_index(j.region.coarse_grade) for j in out]
    assert sev == sorted(sev, reverse=True)  # never a less severe region before a more severe one
    assert [j.region.id for j in out[:3]] == [21, 20, 22]  # malignant by position, then suspicious
    # benign: row 0 left to right, row 1 right to left, row 2 left to right
    assert [j.region.id for j in out[3:]] == [0, 1, 2, 3, 7, 6, 5, 4, 8, 9, 10, 11]


@pytest.fixture(scope="module")
def scattered(tmp_path_factory):
    rng = np.random.default_rng(1_000_301)
    img = rng.integers(60, 200, (1536, 1536, 3)).astype(np.uint8)
    path = tmp_path_factory.mktemp("order") / "scattered.svs"
    write_aperio_from_array(path, img, tile=256, step=4, n_levels=2, mpp=0.25, mag=40)
    return path


class _Recording:
    def __init__(self, slide):
        self._s = slide
        self.reads: list[tuple[int, int]] = []

    def __getattr__(self, name):
        return getattr(self._s, name)

    def read_region(self, x, y, w, h, mpp):
        self.reads.append((x, y))
        return self._s.read_region(x, y, w, h, mpp)


def _regions():
    # benign regions placed far apart in severity order (P(malignant) falling), alternating sides of the slide
    spots = [(100, 100), (1200, 1200), (600, 100), (100, 1200), (1100, 100), (600, 1200)]
    coarse = [(0.6 + 0.05 * i, 0.1, 0.3 - 0.05 * i) for i in range(len(spots))]
    return [make_region(i, c, x=x, y=y, side=200) for i, (c, (x, y)) in enumerate(zip(coarse, spots))]


def test_stage2_reads_by_locality_but_decides_in_severity_order(scattered, any_models, labels):
    cfg = GradeConfig()
    cfg.stage2.readers = 1  # with several, reads start in this order but their calls interleave
    cfg.stage2.windows_less_severe = 0  # benign regions read whole: a narrowed one's count may read its rest
    size = any_models[1].card.input_size
    regs = severity_order(_regions(), labels)
    with open_slide(scattered) as s:
        rec = _Recording(s)
        out = run_stage2(context(rec, any_models, cfg, labels, CostRecord()), regs)
    assert [d.job.order for d in out] == list(range(len(regs)))
    assert [d.job.region.id for d in out] == [0, 1, 2, 3, 4, 5]
    first_y = [y for _, y in rec.reads]
    # the top three regions are all read before the bottom three, left to right
    band = 2 * size * any_models[1].card.input_mpp / s.mpp  # stage2.mpp 0: the card's
    bands = [int((y + 100) // band) for y in first_y]
    assert bands == sorted(bands)
    top_x = [x for (x, y), b in zip(rec.reads, bands) if b == bands[0]]
    assert top_x == sorted(top_x)


def test_a_budget_keeps_the_strict_severity_order(scattered, any_models, labels):
    cfg = GradeConfig()
    cfg.budget.high_power_megapixels = 1000.0  # limited, though never reached here
    regs = severity_order(_regions(), labels)
    with open_slide(scattered) as s:
        rec = _Recording(s)
        run_stage2(context(rec, any_models, cfg, labels, CostRecord()), regs)
    starts = [(r.polygon.bounds[0], r.polygon.bounds[1]) for r in regs]
    seen = [min(starts, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2) for x, y in rec.reads]
    assert list(dict.fromkeys(seen)) == starts  # regions visited in queue order
