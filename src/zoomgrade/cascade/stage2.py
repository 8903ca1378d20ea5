"""Stage 2: each region, most severe first, re-read at high power from the slide pyramid (never an
upsampled low-power crop) in windows covering it, graded in batches while reader threads prefetch the
next regions; then prior fusion with the region's stage-1 grade.

Read order: coarse grades stay most severe first (malignant, suspicious, benign); within one coarse grade the
regions are read in serpentine bands across the slide, so consecutive reads touch the same file tiles while
they are still in the slide's decoded-tile cache. Decisions come back in severity order whatever the read
order. Under a high-power budget the strict severity order is kept: there the order decides which regions
are read at all."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..labels import LabelSet
from ..types import CostRecord, Region, RegionGrade
from .budget import Budget
from .cellcount import count_region, crosses, scaled_count
from .config import GradeConfig
from .fusion import Likelihood, coarse_prior, fuse, region_likelihood
from .prefetch import PlanAhead, read_and_grade, slide_hinter
from .reading_stop import ReadingStop
from .windows import Reader, Windows, best_covered, region_windows


@dataclass
class Job:
    order: int  # position in the severity queue
    region: Region
    windows: Windows = dataclasses.field(default_factory=Windows)  # read and graded by stage 2
    rest: Windows = dataclasses.field(default_factory=Windows)  # the region's other windows (fallback)


@dataclass
class Stage2Decision:
    """What stage 2 made of one region: a grade, a request for the fallback, or a dismissal."""

    job: Job
    grade: RegionGrade | None  # None: budget-skipped before reading (filled by the caller) or dismissed
    likelihood: Likelihood | None = None
    needs_fallback: bool = False
    dismissed: bool = False  # windows showed no cells: a stage-1 false alarm
    skipped: bool = False  # budget spent before this region was read
    unread: bool = False  # not read: the early stop had decided the slide (cascade/early_stop.py)
    error: str | None = None
    window_probs: np.ndarray | None = None  # (k, n_fine + 1) stage-2 outputs of the windows (fallback reuses)


def _stop_now(stop: ReadingStop, d: Stage2Decision, n_done: int, check_every: int) -> bool:
    """Tell the early stop what stage 2 made of one region; every ``check_every`` regions, ask it."""
    if d.dismissed:
        stop.dismissed(d.job.order)
    elif d.grade is not None and not d.needs_fallback:
        stop.graded_as(d.job.order, d.grade)
    elif not d.skipped:
        stop.awaits_fallback(d.job.order, d.job.region)
    return n_done % check_every == 0 and stop.check() is not None


def plan_windows(job: Job, slide_mpp: float, cfg: GradeConfig, size_px: int) -> Job:
    """Fill ``job.windows`` (its best-covered windows) and ``job.rest`` (the others) from its region."""
    every = region_windows(job.region.polygon, slide_mpp, cfg.stage2.mpp, size_px, size_px,
                           cfg.stage2.max_windows_per_region, cfg.stage2.min_window_overlap,
                           lattice=cfg.stage2.lattice)
    job.windows, job.rest = best_covered(every, cfg.stage2.windows_per_region)
    return job


def plan_jobs(regions: list[Region], slide_mpp: float, cfg: GradeConfig, size_px: int) -> list[Job]:
    """Every region's job with its windows planned (``run_stage2`` plans each in its reader instead)."""
    return [plan_windows(Job(i, r), slide_mpp, cfg, size_px) for i, r in enumerate(regions)]


def read_order(jobs: list[Job], band_px: float) -> list[Job]:
    """``jobs`` (severity-ordered) regrouped for tile locality: each run of one coarse grade is sorted by
    the region's bounding-box centre in serpentine bands ``band_px`` level-0 px high (left to right, then
    right to left); runs keep their order, so no less severe region is read before a more severe one."""
    out: list[Job] = []
    start = 0
    for i in range(1, len(jobs) + 1):
        if i == len(jobs) or jobs[i].region.coarse_grade != jobs[start].region.coarse_grade:
            out.extend(sorted(jobs[start:i], key=lambda j: _band_key(j, band_px)))
            start = i
    return out


def _band_key(job: Job, band_px: float) -> tuple[int, float, int]:
    x0, y0, x1, y1 = job.region.polygon.bounds
    band = int(((y0 + y1) / 2) // max(band_px, 1.0))
    cx = (x0 + x1) / 2
    return band, (cx if band % 2 == 0 else -cx), job.order


def decide(job: Job, probs: np.ndarray, labels: LabelSet, cfg: GradeConfig) -> Stage2Decision:
    """Likelihood from the windows, fused with the stage-1 prior; low confidence -> fallback."""
    lik = region_likelihood(probs, job.windows.overlap)
    if lik.presence < cfg.fusion.min_presence:
        return Stage2Decision(job, None, lik, needs_fallback=cfg.fallback.enabled, dismissed=not cfg.fallback.enabled)
    prior = coarse_prior(job.region.coarse_probs, labels, cfg.fusion.prior_floor)
    post = fuse(lik.probs, prior, cfg.fusion.prior_weight)
    k = int(np.argmax(post))
    rg = RegionGrade(region=job.region, fine_grade=labels.fine[k], confidence=float(post[k]), fine_probs=post,
                     stage2_probs=lik.probs, decided_by="stage2", order=job.order)
    low = rg.confidence < cfg.fallback.confidence_threshold
    return Stage2Decision(job, rg, lik, needs_fallback=low and cfg.fallback.enabled)


def run_stage2(
    slide,
    regions: list[Region],
    runner,
    cfg: GradeConfig,
    labels: LabelSet,
    cost: CostRecord,
    budget: Budget,
    size_px: int,
    progress: Callable[[str, int, int], None] | None = None,
    stop: ReadingStop | None = None,
) -> list[Stage2Decision]:
    """Grade ``regions`` (already severity-ordered) at ``cfg.stage2.mpp``; one decision per region, in order.
    With ``stop``, reading ends once it says the slide's answer is decided; the rest come back ``unread``."""
    jobs = [Job(i, r) for i, r in enumerate(regions)]
    if not budget.limited:
        # two windows high: a usual file tile (256-1024 px) spans one or two bands
        jobs = read_order(jobs, 2 * size_px * cfg.stage2.mpp / slide.mpp)
    # Windows are planned in a thread of their own, in read order, beside inference (not all up front on
    # the model's thread: 0.15-0.2 s of a 20 x 20 mm slide's 750 regions ran there with one core idle);
    # each plan's file bytes are hinted as soon as it is made, well before a reader gets to it.
    hint = slide_hinter(slide, cfg.stage2.mpp) if cfg.stage2.readahead else None
    with PlanAhead(jobs, lambda job: plan_windows(job, slide.mpp, cfg, size_px).windows.boxes, hint, cost,
                   "stage2_plan", "stage2_hints") as plans:
        return _grade_jobs(slide, jobs, plans, runner, cfg, labels, cost, budget, size_px, progress, stop)


def _grade_jobs(slide, jobs: list[Job], plans: PlanAhead[Job], runner, cfg: GradeConfig, labels: LabelSet,
                cost: CostRecord, budget: Budget, size_px: int, progress: Callable[[str, int, int], None] | None,
                stop: ReadingStop | None = None) -> list[Stage2Decision]:
    reader = Reader(slide, cfg.stage2.mpp, size_px, cost, "stage2_read")
    budget.readers.append(reader)
    cells: dict[int, int] = {}
    lock = threading.Lock()  # the reader threads share the count's cost record
    margin0 = cfg.adequacy.outline_margin_um / slide.mpp
    thresholds = (cfg.adequacy.min_cells, cfg.slide_rule.min_cells)  # the cell counts that decide something

    def read(job: Job) -> np.ndarray:
        plans.wait(job)
        imgs = reader.read(job.windows.boxes)
        t_count = 0.0
        if cfg.adequacy.count_nuclei and len(imgs):
            # In the reader thread, overlapping inference: the pixels are in hand anyway.
            t2 = time.perf_counter()
            n = count_region(imgs, job.windows.boxes, job.region.polygon, cfg.stage2.mpp, cfg.adequacy, margin0)
            k = len(job.windows.boxes)
            est = scaled_count(n, k, job.windows.n_planned)
            t_count = time.perf_counter() - t2
            if crosses(n, est, thresholds) and job.rest.boxes:
                # Scaled up from the best-covered windows, which hold most of a small group, a count can pass
                # a threshold the group does not reach: where it would decide, the rest of the grid is counted.
                more = reader.read(job.rest.boxes)
                t2 = time.perf_counter()
                n = count_region(np.concatenate([imgs, more]), job.windows.boxes + job.rest.boxes, job.region.polygon,
                                 cfg.stage2.mpp, cfg.adequacy, margin0)
                est = scaled_count(n, k + len(job.rest.boxes), job.windows.n_planned)
                t_count += time.perf_counter() - t2
            cells[job.order] = est
        if t_count:
            with lock:
                cost.stage("stage2_count").seconds += t_count
        return imgs

    total = len(jobs)
    out: list[Stage2Decision] = []
    # About one check per model batch: the rule walks every graded region (cheap, but not per region).
    check_every = max(1, cfg.stage2.batch_size // max(1, cfg.stage2.windows_per_region))
    if progress:
        progress("stage2", 0, total)
    for o in read_and_grade(
        jobs, read, runner.predict,
        batch_size=cfg.stage2.batch_size, depth=cfg.stage2.prefetch_regions, cost=cost,
        infer_stage="stage2_infer", skip=budget.exhausted if budget.limited else None, readers=cfg.stage2.readers,
        on_item=(lambda n: progress("stage2", n, total)) if progress else None,
    ):
        counted = o.item.order in cells
        if counted:  # the high-power cell count replaces the low-power area estimate
            o.item.region = dataclasses.replace(o.item.region, est_cells=cells[o.item.order])
        if counted and cells[o.item.order] < cfg.adequacy.min_nuclei_per_group and o.error is None:
            # No follicular nuclei at high power: colloid, blood or debris that looked like a group at low
            # power. Whatever a classifier says of such pixels, there are no cells to grade.
            out.append(Stage2Decision(o.item, None, dismissed=True, window_probs=o.probs))
        elif o.skipped:
            out.append(Stage2Decision(o.item, None, skipped=True))
        elif o.error is not None:
            out.append(Stage2Decision(o.item, None, needs_fallback=True, error=o.error))
        elif o.probs is None or o.probs.size == 0:
            out.append(Stage2Decision(o.item, None, needs_fallback=cfg.fallback.enabled,
                                      dismissed=not cfg.fallback.enabled, error="no windows"))
        else:
            d = decide(o.item, o.probs, labels, cfg)
            d.window_probs = o.probs
            out.append(d)
        if stop is not None and _stop_now(stop, out[-1], len(out), check_every):
            break
    if len(out) < total:  # stopped early: the rest keep their stage-1 grade
        seen = {d.job.order for d in out}
        out.extend(Stage2Decision(j, None, unread=True) for j in jobs if j.order not in seen)
    out.sort(key=lambda d: d.job.order)  # back to severity order (the read order may differ)
    return out
