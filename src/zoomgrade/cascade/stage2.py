"""Stage 2: each region, most severe first, re-read at high power from the slide pyramid (never an
upsampled low-power crop) in windows covering it, graded in batches while reader threads prefetch the
next regions; then prior fusion with the region's stage-1 grade.

Read order: coarse grades stay most severe first (malignant, suspicious, benign); within one coarse grade the
regions are read in serpentine bands across the slide, so consecutive reads touch the same file tiles while
they are still in the slide's decoded-tile cache. Decisions come back in severity order whatever the read
order. Under a high-power budget the strict severity order is kept: it decides which regions are read."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..types import Region, RegionGrade
from .cellcount import count_region, crosses, no_group, scaled_count
from .config import GradeConfig
from .context import PassContext
from .fusion import Likelihood, coarse_prior, fuse, region_likelihood
from .outcome import Outcome, RegionOutcome
from .reading import PLAN_AHEAD, Graded, PlanAhead, Reader, read_and_grade_high_power, slide_hinter
from .reading.batches import Images, Probs
from .reading_stop import ReadingStop
from .windows import Windows, best_covered, region_windows


@dataclass
class Job:
    order: int  # position in the severity queue
    region: Region  # as stage 1 found it
    windows: Windows = dataclasses.field(default_factory=Windows)  # read and graded by stage 2
    rest: Windows = dataclasses.field(default_factory=Windows)  # the region's other windows (fallback)
    cut: int = 0  # windows planned but moved to ``rest`` (stage2.windows_less_severe, early_stop.recall_windows)
    for_recall: bool = False  # narrowed (further) once only the recall bound was open
    #: its count is its windows' scaled up, past a threshold the cells counted do not reach, and the rest was
    #: not counted to settle it: only recall was open, when no threshold decides anything
    unsettled: bool = False

    @property
    def narrowed(self) -> bool:
        return self.cut > 0


@dataclass(frozen=True)
class Stage2Decision:
    """What stage 2 made of one region (``outcome``), and the evidence the fallback goes on from."""

    job: Job
    outcome: RegionOutcome
    likelihood: Likelihood | None = None
    window_probs: Probs | None = None  # (k, n_fine + 1) stage-2 outputs of the windows (fallback reuses)

    @property
    def grade(self) -> RegionGrade | None:
        return self.outcome.grade

    @property
    def error(self) -> str | None:
        return self.outcome.error


def plan_windows(job: Job, slide_mpp: float, cfg: GradeConfig, size_px: int, top: str | None = None) -> Job:
    """Fill ``job.windows`` (its best-covered windows) and ``job.rest`` (the others) from its region; a region
    stage 1 calls less severe than ``top`` (the label set's most severe coarse grade) is narrowed to
    ``stage2.windows_less_severe`` windows."""
    every = region_windows(
        job.region.polygon,
        slide_mpp,
        cfg.stage2.mpp,
        size_px,
        size_px,
        cfg.stage2.max_windows_per_region,
        cfg.stage2.min_window_overlap,
        lattice=cfg.stage2.lattice,
    )
    job.windows, job.rest = best_covered(every, cfg.stage2.windows_per_region)
    if top is not None and job.region.coarse_grade != top:
        # Stage 2 tells the most severe coarse grade's fine grades apart least well (V from VI): those regions
        # get the full first look. On the 41 validation slides one window for the others read 20% fewer
        # tiles with the same categories and V/VI groups; a region one window leaves undecided, or would
        # dismiss, is read whole as any narrowed one.
        narrow(job, cfg.stage2.windows_less_severe)
    return job


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


def decide(ctx: PassContext, job: Job, region: Region, probs: Probs) -> Stage2Decision:
    """Likelihood from the windows, fused with the stage-1 prior; low confidence -> the fallback's turn."""
    cfg, labels = ctx.cfg, ctx.labels
    lik = region_likelihood(probs, job.windows.overlap)
    if lik.presence < cfg.fusion.min_presence:
        kind = Outcome.UNDECIDED if cfg.fallback.enabled else Outcome.DISMISSED
        return Stage2Decision(job, RegionOutcome(job.order, region, kind), lik, probs)
    prior = coarse_prior(region.coarse_probs, labels, cfg.fusion.prior_floor)
    post = fuse(lik.probs, prior, cfg.fusion.prior_weight)
    k = int(np.argmax(post))
    rg = RegionGrade(
        region=region,
        fine_grade=labels.fine[k],
        confidence=float(post[k]),
        fine_probs=post,
        stage2_probs=lik.probs,
        decided_by="stage2",
        order=job.order,
    )
    low = rg.confidence < cfg.fallback.confidence_threshold and cfg.fallback.enabled
    return Stage2Decision(
        job, RegionOutcome(job.order, region, Outcome.UNDECIDED if low else Outcome.GRADED, rg), lik, probs
    )


def _decision(ctx: PassContext, g: Graded[Job], counted: int | None) -> Stage2Decision:
    """One region's decision from its graded windows and its high-power cell count (None: not counted)."""
    job, cfg = g.item, ctx.cfg
    # The high-power count is kept beside stage 1's area estimate (Region.cells uses it first).
    region = (
        job.region
        if counted is None
        else dataclasses.replace(job.region, counted_cells=counted, counted_settled=not job.unsettled)
    )
    if counted is not None and no_group(counted, cfg.adequacy) and g.error is None:
        # No follicular nuclei at high power: colloid, blood or debris that looked like a group at low
        # power. Whatever a classifier says of such pixels, there are no cells to grade.
        return Stage2Decision(job, RegionOutcome(job.order, region, Outcome.DISMISSED))
    if g.skipped:
        return Stage2Decision(job, RegionOutcome(job.order, region, Outcome.OVER_BUDGET))
    if g.error is not None:
        return Stage2Decision(job, RegionOutcome(job.order, region, Outcome.FAILED, error=g.error))
    if g.probs is None or g.probs.size == 0:
        kind = Outcome.UNDECIDED if cfg.fallback.enabled else Outcome.DISMISSED
        return Stage2Decision(job, RegionOutcome(job.order, region, kind, error="no windows"))
    return decide(ctx, job, region, g.probs)


class _CountingReader:
    """Reads a job's windows (once its plan is ready) and, in the same reader thread, counts the region's
    nuclei in them: the pixels are in hand anyway, and the count overlaps inference."""

    def __init__(self, ctx: PassContext, plans: PlanAhead[Job], recall_only: threading.Event) -> None:
        self.ctx, self.plans, self.recall_only = ctx, plans, recall_only
        self.reader = Reader(ctx.slide, ctx.cfg.stage2.mpp, ctx.window_px, ctx.cost, "stage2_read")
        self.margin0 = ctx.cfg.adequacy.outline_margin_um / ctx.slide.mpp
        # the counts that decide something
        self.thresholds = (ctx.cfg.adequacy.adequate_count, ctx.cfg.slide_rule.min_cells)
        self.cells: dict[int, int] = {}  # job order -> cells, scaled to all the region's planned windows

    def __call__(self, job: Job) -> Images:
        self.plans.wait(job)
        recall_only = self.recall_only.is_set()
        if recall_only:
            cut = job.cut
            narrow(job, self.ctx.cfg.early_stop.recall_windows)
            job.for_recall = job.cut > cut
        imgs = self.reader.read(job.windows.boxes)
        cfg = self.ctx.cfg
        if cfg.adequacy.count_nuclei and len(imgs):
            self.cells[job.order] = self._count(job, imgs, recall_only)
        return imgs

    def graded(self, job: Job) -> bool:
        """Whether the model need see ``job``'s windows, once read: not where its count dismisses it, as
        ``_decision`` then does whatever the model says (on the Diff-Quik bench slides, where stage 1 takes
        blood and colloid for groups, up to a third of the regions read)."""
        n = self.cells.get(job.order)
        return n is None or not no_group(n, self.ctx.cfg.adequacy)

    def _count(self, job: Job, imgs: Images, recall_only: bool) -> int:
        cfg = self.ctx.cfg
        t0 = time.perf_counter()
        n = count_region(imgs, job.windows.boxes, job.region.polygon, cfg.stage2.mpp, cfg.adequacy, self.margin0)
        k = len(job.windows.boxes)
        est = scaled_count(n, k, job.windows.n_planned)
        t_count = time.perf_counter() - t0
        # A narrowed region (one window) that would be dismissed for too few nuclei is counted whole: its
        # other windows may hold the group (on validation slides, 2 of 427 V/VI groups were lost so).
        would_dismiss = job.narrowed and no_group(est, cfg.adequacy)
        crossing = crosses(n, est, self.thresholds) and bool(job.rest.boxes)
        if crossing and recall_only and not would_dismiss:
            # The category and adequacy are decided: the threshold decides nothing now, and the early stop
            # takes the count as unknown should they reopen. Reading the rest to settle it was 2-15% of a
            # 20 x 20 mm bench slide's high-power tiles.
            job.unsettled, crossing = True, False
        if (would_dismiss or crossing) and job.rest.boxes:
            # Scaled up from the best-covered windows, which hold most of a small group, a count can pass a
            # threshold the group does not reach: where it would decide, the rest of the grid is counted.
            more = self.reader.read(job.rest.boxes)
            t0 = time.perf_counter()
            n = count_region(
                np.concatenate([imgs, more]),
                job.windows.boxes + job.rest.boxes,
                job.region.polygon,
                cfg.stage2.mpp,
                cfg.adequacy,
                self.margin0,
            )
            est = scaled_count(n, k + len(job.rest.boxes), job.windows.n_planned)
            t_count += time.perf_counter() - t0
        self.ctx.cost.add("stage2_count", seconds=t_count)
        return est


def narrow(job: Job, k: int) -> None:
    """Keep only the ``k`` best-covered of ``job``'s planned windows (0: all); the others join ``job.rest``,
    where the fallback finds them if stage 2 cannot decide on fewer."""
    if k <= 0 or len(job.windows.boxes) <= k:
        return
    job.windows, dropped = best_covered(job.windows, k)
    job.cut += len(dropped.boxes)  # they lead ``rest``: the fallback asks of them what stage 2 would have
    job.rest = Windows(
        dropped.boxes + job.rest.boxes, np.concatenate([dropped.overlap, job.rest.overlap]), job.windows.n_planned
    )


def _stop_now(stop: ReadingStop, d: Stage2Decision, n_done: int, check_every: int) -> bool:
    """Tell the early stop what stage 2 made of one region; every ``check_every`` regions, ask it."""
    kind = d.outcome.kind
    if kind is Outcome.DISMISSED:
        stop.dismissed(d.job.order)
    elif kind is Outcome.GRADED and d.grade is not None:
        stop.graded_as(d.job.order, d.grade)  # the region carries whether its count is settled
    elif kind is not Outcome.OVER_BUDGET:
        stop.awaits_fallback(d.job.order, d.outcome.region)
    return n_done % check_every == 0 and stop.check() is not None


def run_stage2(ctx: PassContext, regions: list[Region], stop: ReadingStop | None = None) -> list[Stage2Decision]:
    """Grade ``regions`` (already severity-ordered) at ``cfg.stage2.mpp``; one decision per region, in order.
    With ``stop``, reading ends once it says the slide's answer is decided; the rest come back unread."""
    slide, cfg, size = ctx.slide, ctx.cfg, ctx.window_px
    budget = ctx.high_power_budget()
    jobs = [Job(i, r) for i, r in enumerate(regions)]
    if not budget.limited:
        # two windows high: a usual file tile (256-1024 px) spans one or two bands
        jobs = read_order(jobs, 2 * size * cfg.stage2.mpp / slide.mpp)
    # Windows are planned in a thread of their own, in read order, beside inference (up front on the model's
    # thread, 0.15-0.2 s of a 20 x 20 mm slide's 750 regions ran with one core idle), PLAN_AHEAD regions
    # ahead of the readers, and each plan's file bytes are hinted as soon as it is made.
    hint = slide_hinter(slide, cfg.stage2.mpp) if cfg.stage2.readahead else None
    with PlanAhead(
        jobs,
        lambda job: plan_windows(job, slide.mpp, cfg, size, ctx.labels.coarse[-1]).windows.boxes,
        hint,
        ctx.cost,
        "stage2_plan",
        "stage2_hints",
        PLAN_AHEAD,
    ) as plans:
        # Set while only the recall bound keeps reading: the readers then read recall_windows a region.
        recall_only = threading.Event()
        read = _CountingReader(ctx, plans, recall_only)
        total = len(jobs)
        ctx.report("stage2", 0, total)
        # About one check per model batch: the rule walks every graded region (cheap, but not per region).
        check_every = max(1, cfg.stage2.batch_size // max(1, cfg.stage2.windows_per_region))
        out: list[Stage2Decision] = []
        for g in read_and_grade_high_power(
            ctx,
            jobs,
            read,
            infer_stage="stage2_infer",
            on_item=lambda n: ctx.report("stage2", n, total),
            graded=read.graded,
        ):
            out.append(_decision(ctx, g, read.cells.get(g.item.order)))
            if stop is not None and _stop_now(stop, out[-1], len(out), check_every):
                break
            if stop is not None and cfg.early_stop.recall_windows:
                if stop.category_decided_at is not None:
                    recall_only.set()
                else:  # a region read since reopened the category (under-grading is bounded, not excluded)
                    recall_only.clear()
    if len(out) < total:  # stopped early: the rest keep their stage-1 grade
        seen = {d.job.order for d in out}
        out.extend(
            Stage2Decision(j, RegionOutcome(j.order, j.region, Outcome.UNREAD)) for j in jobs if j.order not in seen
        )
    return sorted(out, key=lambda d: d.job.order)  # back to severity order (the read order may differ)
