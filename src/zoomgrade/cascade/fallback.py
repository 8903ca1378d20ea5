"""The fallback pass: regions stage 2 could not decide are decided by their patches, one by one, with the
severity-aware patch rule (``patch_rule.vote``) instead of stage 2's pooling (``fusion.region_likelihood``).

The region is tiled into patches on the stage-2 grid. The windows stage 2 graded (its best-covered ones,
``stage2.windows_per_region``) are the first patches: already read at high power and graded, they are
never read twice; the rest of the grid is read now. Where the stage-2 windows gave fewer than
``fallback.min_count`` voting patches (too few cells in them, or the region's read failed), patches on a
grid shifted by half a patch (new framings of the same region) are read and graded too, and vote with
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import RegionGrade
from .context import PassContext
from .outcome import Outcome, RegionOutcome
from .patch_rule import PatchVote, vote
from .reading import Graded, Reader, hint_ahead, read_and_grade_high_power
from .reading.batches import Images, Probs
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


def needs_more(d: Stage2Decision, ctx: PassContext) -> bool:
    """Too little evidence in the stage-2 windows: read shifted patches as well."""
    if d.window_probs is None or not len(d.window_probs):
        return True
    voting = int((d.window_probs[:, -1] < ctx.cfg.fallback.none_threshold).sum())
    return voting < ctx.cfg.fallback.min_count


def patches_to_read(d: Stage2Decision, ctx: PassContext) -> Windows:
    """The rest of the region's grid, and the grid shifted by half a patch where stage 2 saw too little."""
    wins = d.job.rest
    if needs_more(d, ctx):
        s2 = ctx.cfg.stage2
        shifted = region_windows(
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


def _after_read(g: Graded[_Patches], base: Probs, ctx: PassContext, n_cls: int) -> FallbackResult:
    d = g.item.decision
    o = d.outcome
    if g.skipped or g.error is not None or g.probs is None:
        if len(base):  # budget spent or read failed: decide from the stage-2 windows alone
            return voted(d, base, ctx, 0)
        kind = Outcome.OVER_BUDGET if g.skipped else Outcome.FAILED
        why = None if g.skipped else (g.error or "no patches")
        return FallbackResult(d, RegionOutcome(o.order, o.region, kind, o.grade, _errors(o.error, why)))
    probs = np.concatenate([base, g.probs.reshape(-1, n_cls)], axis=0)
    return voted(d, probs, ctx, len(g.item.windows.boxes))


def run_fallback(ctx: PassContext, decisions: list[Stage2Decision]) -> list[FallbackResult]:
    """One result per decision, in the order given."""
    cfg, n_cls = ctx.cfg, len(ctx.labels.fine) + 1
    own = {d.job.order: (d.window_probs if d.window_probs is not None else np.zeros((0, n_cls))) for d in decisions}
    more = [_Patches(d, w) for d in decisions if (w := patches_to_read(d, ctx)).boxes]
    reading = {id(p.decision) for p in more}
    total = len(decisions)
    ctx.report("fallback", 0, total)
    # enough windows already: decided without reading anything
    results = {d.job.order: voted(d, own[d.job.order], ctx, 0) for d in decisions if id(d) not in reading}
    done = len(results)
    ctx.report("fallback", done, total)
    reader = Reader(ctx.slide, cfg.stage2.mpp, ctx.window_px, ctx.cost, "fallback")
    ctx.cost.add("fallback")  # one record for the pass: its reads and its inference

    def read(p: _Patches) -> Images:
        return reader.read(p.windows.boxes)

    boxes = [b for p in more for b in p.windows.boxes]
    with hint_ahead(ctx.slide, boxes, cfg.stage2.mpp, ctx.cost, "fallback_hints", enabled=cfg.stage2.readahead):
        for g in read_and_grade_high_power(
            ctx,
            more,
            read,
            infer_stage="fallback",
            on_item=lambda n: ctx.report("fallback", done + n, total),
        ):
            order = g.item.decision.job.order
            results[order] = _after_read(g, own[order], ctx, n_cls)
    return [results[d.job.order] for d in decisions]
