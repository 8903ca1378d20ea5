"""``grade()``: one slide, coarse to fine (or exhaustively, or both side by side) -> ``SlideResult``.

One slide through the cascade, as ``run_cascade`` reads: stage 1 (``stage1.py``: low power -> maps ->
regions) -> the severity queue (``regions.py``) -> stage 2 (``stage2.py``: windows -> grades fused with the
stage-1 prior) -> the fallback for what stage 2 left undecided (``fallback.py``) -> one outcome per region
merged into the region grades (``outcome.py``) -> adequacy and the slide rule (``decision.py``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..labels import LabelSet
from ..qc.apply import apply_gate, gate_after_stage1
from ..qc.gate import GateDecision
from ..types import MODES, CostRecord, Mode, RegionGrade, ResultMode, SlideResult
from . import input_checks
from .compare import compare
from .config import GradeConfig
from .context import PassContext, Progress, SlideLike
from .decision import assess_adequacy, counts, slide_category
from .exhaustive import run_exhaustive
from .fallback import run_fallback
from .input_checks import InputRecord
from .labelled import config_for_labels, models_and_labels
from .measured import from_models
from .outcome import Merged, Outcome, merge
from .prepare import (
    ConfigLike,
    PeakRss,
    at_model_mpp,
    fit_to_slide,
    resolve_config,
    resolve_models,
    slide_warnings,
    versions,
    window_size,
)
from .reading_stop import Reading, ReadingStop, reading_record
from .regions import severity_order
from .stage1 import run_stage1
from .stage2 import run_stage2


def build_result(
    slide: SlideLike,
    mode: ResultMode,
    grades: list[RegionGrade],
    cfg: GradeConfig,
    labels: LabelSet,
    cost: CostRecord,
    maps: dict[str, Any],
    versions: dict[str, str],
    warnings: list[str],
    inputs: InputRecord | None = None,
    reading: Reading | None = None,
) -> SlideResult:
    """Adequacy, slide category and counts: the same for both modes; ``inputs``: what the result says of
    its input besides the grade (read failures, model files)."""
    adequacy = assess_adequacy(grades, cfg.adequacy)
    sc = slide_category(grades, adequacy, labels, cfg.slide_rule)
    return SlideResult(
        slide=slide.info(),
        mode=mode,
        label_set=labels.name,
        labels=labels,
        category=sc.category,
        category_name=labels.category_names[sc.category],
        risk_of_malignancy=float(labels.risk_of_malignancy[sc.category]),
        category_reason=sc.reason,
        adequacy=adequacy,
        counts=counts(grades, labels),
        regions=grades,
        cost=cost,
        config=cfg.to_dict(),
        versions=versions,
        maps=maps,
        warnings=warnings,
        decode_errors=None if inputs is None else inputs.decode_errors,
        model_files={} if inputs is None else dict(inputs.model_files),
        reading=None if reading is None else reading.to_dict(),
    )


def with_inputs(result: SlideResult, inputs: InputRecord) -> SlideResult:
    """``result`` with the read-failure warning last, after the gate's (as every output lists them)."""
    if not inputs.warning:
        return result
    return dataclasses.replace(result, warnings=[*result.warnings, inputs.warning])


def run_cascade(
    ctx: PassContext, rss: PeakRss, force: bool = False
) -> tuple[dict[str, Any], Merged, Reading, GateDecision]:
    """Stage 1 -> quality control and the domain gate -> stage 2 (stopping early once the slide's answer is
    decided) -> fallback -> merged region grades; with stage 1's display maps, the record of what was read
    and the gate's decision."""
    ctx.report("stage1", 0, 1)
    s1 = run_stage1(ctx)
    rss.sample()
    ctx.report("stage1", 1, 1)
    # quality control and domain gate: a withheld slide has no evidence; out-of-domain regions are none
    gate = gate_after_stage1(
        ctx.slide, s1.maps, s1.regions, ctx.stage1, ctx.stage2, ctx.cfg.stage2.mpp, ctx.window_px, ctx.cost, force
    )
    queue = severity_order(gate.evidence(s1.regions), ctx.labels)
    stop = ReadingStop(queue, ctx.labels, ctx.cfg) if ctx.cfg.early_stop.enabled else None
    decisions = run_stage2(ctx, queue, stop)
    rss.sample()
    outcomes = {d.job.order: d.outcome for d in decisions}
    # Without the fallback, an undecided region keeps its fused grade and a failed one its stage-1 grade.
    undecided = [d for d in decisions if d.outcome.kind in (Outcome.UNDECIDED, Outcome.FAILED)]
    if undecided and ctx.cfg.fallback.enabled:
        for r in run_fallback(ctx, undecided):
            outcomes[r.decision.job.order] = r.outcome
        rss.sample()
    merged = merge(list(outcomes.values()), ctx.labels, ctx.cfg.fusion.prior_floor)
    reading = reading_record(decisions, stop)
    if reading.stopped:
        merged = dataclasses.replace(
            merged,
            notes=[
                *merged.notes,
                f"reading stopped early: {reading.unread} regions keep their stage-1 grade ({reading.reason})",
            ],
        )
    return s1.maps, merged, reading, gate


def gate_only(ctx: PassContext, force: bool) -> GateDecision | None:
    """The gate for an exhaustive-only run: stage 1 runs for it alone (its thumbnail, features, regions)."""
    if ctx.stage1 is None:
        return None
    s1 = run_stage1(dataclasses.replace(ctx, cost=CostRecord()))
    return gate_after_stage1(
        ctx.slide,
        s1.maps,
        s1.regions,
        ctx.stage1,
        ctx.stage2,
        ctx.cfg.stage2.mpp,
        window_size(ctx.stage2, 0),
        ctx.cost,
        force,
    )


def grade(
    path_or_slide: Any,
    config: ConfigLike = None,
    *,
    mode: Mode = "cascade",
    mpp: float | None = None,
    backend: str | None = None,
    models: Any = None,
    progress: Progress | None = None,
    force_out_of_domain: bool = False,
) -> SlideResult:
    """Grade one slide. ``mode``: "cascade" (coarse to fine), "exhaustive" (tile everything), or "both"
    (the cascade's result with ``comparison`` holding the exhaustive run's summary and the agreement).
    A slide that fails quality control or lies outside the models' domain is withheld (``status``,
    no category) unless ``force_out_of_domain`` (research: graded, and marked as forced)."""
    if mode not in MODES:
        raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    cascade, exhaustive = grade_modes(
        path_or_slide,
        config,
        cascade=mode != "exhaustive",
        exhaustive=mode != "cascade",
        mpp=mpp,
        backend=backend,
        models=models,
        progress=progress,
        force_out_of_domain=force_out_of_domain,
    )
    result = cascade if cascade is not None else exhaustive
    assert result is not None
    return result


def grade_modes(
    path_or_slide: Any,
    config: ConfigLike = None,
    *,
    cascade: bool = True,
    exhaustive: bool = False,
    mpp: float | None = None,
    backend: str | None = None,
    models: Any = None,
    progress: Progress | None = None,
    force_out_of_domain: bool = False,
) -> tuple[SlideResult | None, SlideResult | None]:
    """The cascade and/or the exhaustive result of one slide, each with its own cost record; with both,
    the cascade result's ``comparison`` is filled (see ``compare``). Sets no process-wide state (torch's
    thread count is the caller's: the CLI and the batch worker set it)."""
    cfg = resolve_config(config)
    s1, s2, labels = models_and_labels(models, cfg, need_stage1=cascade, resolve=resolve_models)
    cfg = config_for_labels(cfg, labels, str(config) if isinstance(config, (str, Path)) else "config")
    cfg = from_models(cfg, s1, s2, labels)  # the early stop's measured tables, where the config leaves them
    cfg = at_model_mpp(cfg, s1, s2)  # the resolutions the config leaves to the model cards
    rss = PeakRss()
    t_start = time.perf_counter()
    own = isinstance(path_or_slide, (str, Path))
    if own:
        from ..slide import open_slide

        slide = open_slide(path_or_slide, mpp=mpp, backend=backend, memory_mb=cfg.limits.memory_mb)
    else:
        slide = path_or_slide
    t_open = time.perf_counter() - t_start
    try:
        vers = versions(s1, s2)
        warn = slide_warnings(slide, cfg, s2, s1)
        cfg = fit_to_slide(slide, cfg, warn)
        cascaded = baseline = None
        if cascade:
            c_ctx = PassContext(slide, cfg, labels, s1, s2, window_size(s2, cfg.stage2.window_px), progress=progress)
            c_ctx.cost.add("open", seconds=t_open)
            t0 = time.perf_counter()
            maps, merged, reading, gate = run_cascade(c_ctx, rss, force_out_of_domain)
            c_ctx.cost.wall_seconds = time.perf_counter() - t0 + t_open
            c_ctx.cost.peak_rss_mb = rss.mb()
            cascaded = (c_ctx.cost, maps, merged, reading, gate)
        if exhaustive:
            e_ctx = PassContext(
                slide, cfg, labels, None, s2, cfg.exhaustive.tile_px or window_size(s2, 0), progress=progress
            )
            e_ctx.cost.add("open", seconds=t_open)
            t0 = time.perf_counter()
            ex = run_exhaustive(e_ctx)
            e_ctx.cost.wall_seconds = time.perf_counter() - t0 + t_open
            e_ctx.cost.peak_rss_mb = rss.mb()
            e_gate = (
                cascaded[4]
                if cascaded is not None
                else gate_only(dataclasses.replace(e_ctx, stage1=s1), force_out_of_domain)
            )
            baseline = (e_ctx.cost, ex, e_gate)
        inputs = input_checks.inspect(slide, cfg, s1, s2)  # after every read: the read failures are all in
        c_result = e_result = None
        if cascaded is not None:
            c_cost, maps, merged, reading, gate = cascaded
            c_result = with_inputs(
                apply_gate(
                    build_result(
                        slide,
                        "cascade",
                        merged.grades,
                        cfg,
                        labels,
                        c_cost,
                        maps,
                        vers,
                        warn + merged.notes,
                        inputs,
                        reading,
                    ),
                    gate,
                ),
                inputs,
            )
        if baseline is not None:
            e_cost, ex, e_gate = baseline
            e_result = with_inputs(
                apply_gate(
                    build_result(
                        slide, "exhaustive", ex.grades, cfg, labels, e_cost, ex.maps, vers, warn + ex.errors[:5], inputs
                    ),
                    e_gate,
                ),
                inputs,
            )
            if c_result is not None:
                c_result = dataclasses.replace(c_result, comparison=compare(c_result, e_result, ex, labels, cfg))
        return c_result, e_result
    finally:
        if own:
            slide.close()


__all__ = ["build_result", "grade", "grade_modes", "resolve_config", "resolve_models", "run_cascade", "window_size"]
