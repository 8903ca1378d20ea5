"""The fallback pass: regions stage 2 could not decide are decided by their patches, one by one, with the
severity-aware patch rule (``fallback.patch_rule``) instead of stage 2's pooling.

The region is tiled into patches on the stage-2 grid. The windows stage 2 graded (its best-covered ones,
``stage2.windows_per_region``) are the first patches: already read at high power and graded, they are
never read twice; the rest of the grid is read now. Where the stage-2 windows gave fewer than
``fallback.min_count`` voting patches (too few cells in them, or the region's read failed), patches on a
grid shifted by half a patch (new framings of the same region) are read and graded too, and vote with
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..labels import LabelSet
from ..types import CostRecord, RegionGrade
from .budget import Budget
from .config import GradeConfig
from .fallback import PatchVote, patch_rule, rule_kwargs
from .prefetch import hint_ahead, read_and_grade
from .stage2_pass import Stage2Decision
from .windows import Reader, Windows, region_windows


@dataclass
class FallbackOutcome:
    decision: Stage2Decision
    grade: RegionGrade | None  # None: dismissed (no patch showed cells), skipped or failed
    vote: PatchVote | None = None
    skipped: bool = False
    error: str | None = None
    n_read: int = 0  # patches read by the fallback itself (beyond the stage-2 windows)


def vote_of(probs: np.ndarray, labels: LabelSet, cfg: GradeConfig) -> PatchVote:
    return patch_rule(probs, labels, **rule_kwargs(cfg.fallback))


def needs_more(d: Stage2Decision, cfg: GradeConfig) -> bool:
    """Too little evidence in the stage-2 windows: read shifted patches as well."""
    if d.window_probs is None or not len(d.window_probs):
        return True
    voting = int((d.window_probs[:, -1] < cfg.fallback.none_threshold).sum())
    return voting < cfg.fallback.min_count


def _outcome(d: Stage2Decision, probs: np.ndarray, labels: LabelSet, cfg: GradeConfig, n_read: int) -> FallbackOutcome:
    vote = vote_of(probs, labels, cfg)
    if vote.grade is None:
        return FallbackOutcome(d, None, vote, n_read=n_read)
    rg = RegionGrade(region=d.job.region, fine_grade=vote.grade, confidence=vote.confidence, fine_probs=vote.probs,
                     stage2_probs=None if d.likelihood is None else d.likelihood.probs, decided_by="fallback",
                     order=d.job.order, patch_grades=vote.patch_grades, error=d.error)
    return FallbackOutcome(d, rg, vote, n_read=n_read)


def run_fallback(
    slide,
    decisions: list[Stage2Decision],
    runner,
    cfg: GradeConfig,
    labels: LabelSet,
    cost: CostRecord,
    budget: Budget,
    size_px: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[FallbackOutcome]:
    """One outcome per decision, in the order given."""
    n_cls = len(labels.fine) + 1
    own = {d.job.order: (d.window_probs if d.window_probs is not None else np.zeros((0, n_cls))) for d in decisions}
    more = []
    for d in decisions:
        wins = d.job.rest
        if needs_more(d, cfg):
            shifted = region_windows(d.job.region.polygon, slide.mpp, cfg.stage2.mpp, size_px, size_px,
                                     cfg.stage2.max_windows_per_region, cfg.stage2.min_window_overlap, shifted=True,
                                     lattice=cfg.stage2.lattice)
            wins = Windows(wins.boxes + shifted.boxes, np.concatenate([wins.overlap, shifted.overlap]),
                           wins.n_planned)
        if wins.boxes:
            more.append((d, wins))
    results: dict[int, FallbackOutcome] = {}
    total = len(decisions)
    done = 0
    if progress:
        progress("fallback", 0, total)
    for d in decisions:  # enough windows already: decided without reading anything
        if not any(m[0] is d for m in more):
            results[d.job.order] = _outcome(d, own[d.job.order], labels, cfg, 0)
            done += 1
    if progress:
        progress("fallback", done, total)
    stage = cost.stage("fallback")
    reader = Reader(slide, cfg.stage2.mpp, size_px, cost, "fallback")
    budget.readers.append(reader)

    def read(item: tuple[Stage2Decision, Windows]) -> np.ndarray:
        return reader.read(item[1].boxes)

    boxes = [b for _, w in more for b in w.boxes]
    with hint_ahead(slide, boxes, cfg.stage2.mpp, cost, "fallback_hints", enabled=cfg.stage2.readahead):
        for o in read_and_grade(
            more, read, runner.predict, batch_size=cfg.stage2.batch_size, depth=cfg.stage2.prefetch_regions,
            cost=cost, infer_stage="fallback_infer", skip=budget.exhausted if budget.limited else None,
            readers=cfg.stage2.readers,
            on_item=(lambda n: progress("fallback", done + n, total)) if progress else None,
        ):
            d, wins = o.item
            base = own[d.job.order]
            if o.skipped and len(base):  # budget spent: decide from the stage-2 windows alone
                results[d.job.order] = _outcome(d, base, labels, cfg, 0)
            elif o.skipped:
                results[d.job.order] = FallbackOutcome(d, None, skipped=True)
            elif o.error is not None or o.probs is None:
                if len(base):
                    results[d.job.order] = _outcome(d, base, labels, cfg, 0)
                else:
                    results[d.job.order] = FallbackOutcome(d, None, error=o.error or "no patches")
            else:
                probs = np.concatenate([base, o.probs.reshape(-1, n_cls)], axis=0)
                results[d.job.order] = _outcome(d, probs, labels, cfg, len(wins.boxes))
    # One record per pass: inference seconds of the fallback go under "fallback" with its reads.
    inf = cost.stages.pop("fallback_infer", None)
    if inf is not None:
        stage.seconds += inf.seconds
        stage.model_calls += inf.model_calls
        stage.model_items += inf.model_items
    return [results[d.job.order] for d in decisions]
