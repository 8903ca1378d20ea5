"""The fallback pass: regions stage 2 could not decide are decided by their patches, one by one, with the
severity-aware patch rule (``patch_rule.vote``) instead of stage 2's pooling (``fusion.region_likelihood``).

The region is tiled into patches on the stage-2 grid. The windows stage 2 graded (its best-covered ones,
``stage2.windows_per_region``) are the first patches: already read at high power and graded, they are
never read twice; the rest of the grid is read now. Where the stage-2 windows gave fewer than
``fallback.min_count`` voting patches (too few cells in them, or the region's read failed), patches on a
grid shifted by half a patch (new framings of the same region) are read and graded too, and vote with
them. A region stage 2 read from fewer windows than planned (``Job.cut``: stage 1 called it less than
most severe, or only the recall bound was open) is asked that of the windows it would have read: its rest
is read first, and the shifted grid after, in a second pass, only where those windows give fewer than
``min_count`` voting patches, so the fallback reads for it what it would have read for the region graded on
all its planned windows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..types import RegionGrade
from .context import PassContext
from .outcome import Outcome, RegionOutcome
from .patch_rule import PatchVote, vote
from .reading import Graded, Reader, hint_ahead, read_and_grade_high_power
from .reading.batches import Probs
from .stage2 import Stage2Decision
from .windows import Windows, region_windows


@dataclass(frozen=True)
class FallbackResult:
    decision: Stage2Decision  # what stage 2 made of the region
    outcome: RegionOutcome  # what the fallback made of it (replaces the decision's outcome)
    vote: PatchVote | None = None
    n_read: int = 0  # patches read by the fallback itself (beyond the stage-2 windows)

    @property
    def grade(self) -> RegionGrade | None:
        return self.outcome.grade if self.outcome.kind is Outcome.GRADED else None


@dataclass(frozen=True)
class _Patches:
    """A region the fallback reads more patches of."""

    decision: Stage2Decision
    windows: Windows


def _errors(*errors: str | None) -> str | None:
    return "; ".join(e for e in errors if e) or None


def too_few_voting(probs: Probs | None, ctx: PassContext) -> bool:
    """Fewer than ``fallback.min_count`` of these patches show cells (or none were graded)."""
    if probs is None or not len(probs):
        return True
    return int((probs[:, -1] < ctx.cfg.fallback.none_threshold).sum()) < ctx.cfg.fallback.min_count


def needs_more(d: Stage2Decision, ctx: PassContext) -> bool:
    """Too little evidence in the stage-2 windows: read shifted patches as well."""
    return too_few_voting(d.window_probs, ctx)


def shifted_grid(d: Stage2Decision, ctx: PassContext) -> Windows:
    """The region's grid shifted by half a patch: new framings of the same region."""
    s2 = ctx.cfg.stage2
    return region_windows(
        d.job.region.polygon,
        ctx.slide.mpp,
        s2.mpp,
        ctx.window_px,
        ctx.window_px,
        s2.max_windows_per_region,
        s2.min_window_overlap,
        shifted=True,
        lattice=s2.lattice,
    )


def patches_to_read(d: Stage2Decision, ctx: PassContext) -> Windows:
    """The rest of the region's grid, and the grid shifted by half a patch where stage 2 saw too little
    (for a region read from fewer windows than planned, the shifted grid waits for the rest: ``run_fallback``)."""
    wins = d.job.rest
    if not d.job.narrowed and needs_more(d, ctx):
        shifted = shifted_grid(d, ctx)
        wins = Windows(wins.boxes + shifted.boxes, np.concatenate([wins.overlap, shifted.overlap]), wins.n_planned)
    return wins


def voted(d: Stage2Decision, probs: Probs, ctx: PassContext, n_read: int) -> FallbackResult:
    """The region decided by the patch rule over ``probs`` (its stage-2 windows' and its patches')."""
    pv = vote(probs, ctx.labels, ctx.cfg)
    o = d.outcome
    if pv.grade is None:
        return FallbackResult(d, RegionOutcome(o.order, o.region, Outcome.DISMISSED), pv, n_read)
    rg = RegionGrade(
        region=o.region,
        fine_grade=pv.grade,
        confidence=pv.confidence,
        fine_probs=pv.probs,
        stage2_probs=None if d.likelihood is None else d.likelihood.probs,
        decided_by="fallback",
        order=o.order,
        patch_grades=pv.patch_grades,
        error=o.error,
    )
    return FallbackResult(d, RegionOutcome(o.order, o.region, Outcome.GRADED, rg), pv, n_read)


def _after_read(g: Graded[_Patches], base: Probs, ctx: PassContext, n_cls: int, n_before: int = 0) -> FallbackResult:
    """The region voted on ``base`` (the patches graded before this read) and what this read graded."""
    d = g.item.decision
    o = d.outcome
    if g.skipped or g.error is not None or g.probs is None:
        if len(base):  # budget spent or read failed: decide from the patches graded before
            return voted(d, base, ctx, n_before)
        kind = Outcome.OVER_BUDGET if g.skipped else Outcome.FAILED
        why = None if g.skipped else (g.error or "no patches")
        return FallbackResult(d, RegionOutcome(o.order, o.region, kind, o.grade, _errors(o.error, why)))
    probs = np.concatenate([base, g.probs.reshape(-1, n_cls)], axis=0)
    return voted(d, probs, ctx, n_before + len(g.item.windows.boxes))


def _read_pass(
    ctx: PassContext, more: list[_Patches], reader: Reader, on_item: Callable[[int], None]
) -> Iterator[Graded[_Patches]]:
    with hint_ahead(
        ctx.slide,
        [b for p in more for b in p.windows.boxes],
        ctx.cfg.stage2.mpp,
        ctx.cost,
        "fallback_hints",
        enabled=ctx.cfg.stage2.readahead,
    ):
        yield from read_and_grade_high_power(
            ctx, more, lambda p: reader.read(p.windows.boxes), infer_stage="fallback", on_item=on_item
        )


def run_fallback(ctx: PassContext, decisions: list[Stage2Decision]) -> list[FallbackResult]:
    """One result per decision, in the order given."""
    cfg, n_cls = ctx.cfg, len(ctx.labels.fine) + 1
    own = {d.job.order: (d.window_probs if d.window_probs is not None else np.zeros((0, n_cls))) for d in decisions}
    more = [_Patches(d, w) for d in decisions if (w := patches_to_read(d, ctx)).boxes]
    reading = {id(p.decision) for p in more}
    reading_more: dict[int, int] = {}  # order -> patches the first pass read, for those read again
    total = len(decisions)
    ctx.report("fallback", 0, total)
    # enough windows already: decided without reading anything
    results = {d.job.order: voted(d, own[d.job.order], ctx, 0) for d in decisions if id(d) not in reading}
    done = len(results)
    ctx.report("fallback", done, total)
    reader = Reader(ctx.slide, cfg.stage2.mpp, ctx.window_px, ctx.cost, "fallback")
    ctx.cost.add("fallback")  # one record for the pass: its reads and its inference
    later: list[_Patches] = []  # regions read from fewer windows than planned whose shifted grid is due
    for g in _read_pass(ctx, more, reader, lambda n: ctx.report("fallback", done + n, total)):
        d = g.item.decision
        order = d.job.order
        results[order] = r = _after_read(g, own[order], ctx, n_cls)
        if d.job.narrowed and g.probs is not None and g.error is None and not g.skipped:
            probs = np.concatenate([own[order], g.probs.reshape(-1, n_cls)], axis=0)
            if too_few_voting(probs[: len(own[order]) + d.job.cut], ctx):  # the windows stage 2 would have read
                own[order] = probs
                later.append(_Patches(d, shifted_grid(d, ctx)))
                reading_more[order] = r.n_read
    for g in _read_pass(ctx, [p for p in later if p.windows.boxes], reader, lambda n: None):
        order = g.item.decision.job.order
        results[order] = _after_read(g, own[order], ctx, n_cls, reading_more[order])
    return [results[d.job.order] for d in decisions]
