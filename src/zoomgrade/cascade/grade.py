"""``grade()``: one slide, coarse to fine (or exhaustively, or both side by side) -> ``SlideResult``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from .._version import __version__
from ..errors import ConfigError, ModelCardError
from ..labels import LabelSet
from ..qc.apply import apply_gate, gate_after_stage1
from ..types import CostRecord, RegionGrade, SlideResult
from . import input_checks
from .adequacy import assess_adequacy
from .budget import Budget, stage1_grade
from .compare import compare
from .config import GradeConfig, resolve_config
from .exhaustive import ExhaustiveOutput, run_exhaustive
from .fallback_pass import run_fallback
from .labelled import config_for_labels, models_and_labels
from .queue import severity_order
from .reading_stop import Reading, ReadingStop, reading_record
from .slide_rule import counts, slide_category
from .stage1_pass import run_stage1
from .stage2_pass import run_stage2

Progress = Callable[[str, int, int], None]
MODES = ("cascade", "exhaustive", "both")


class _Rss:
    """Peak resident memory of this run, sampled at stage boundaries and as items complete."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0

    def sample(self) -> None:
        self.peak = max(self.peak, self.proc.memory_info().rss)

    def mb(self) -> float:
        self.sample()
        return self.peak / 2**20


def resolve_models(models: Any, need_stage1: bool) -> tuple[Any, Any]:
    """(Stage1Runner, Stage2Runner) from ``models`` (a pair, an object with .stage1/.stage2, or a model
    folder's path), or the shipped weights when None."""
    if models is None or isinstance(models, (str, Path)):
        from ..models.folder import load_models

        models = load_models(models, need_stage1=need_stage1)
    if isinstance(models, (tuple, list)) and len(models) == 2:
        s1, s2 = models
    elif hasattr(models, "stage1") and hasattr(models, "stage2"):
        s1, s2 = models.stage1, models.stage2
    else:
        raise ModelCardError("models: expected (stage1_runner, stage2_runner)")
    if need_stage1 and s1 is None:
        raise ModelCardError("models: the cascade needs a stage-1 runner")
    return s1, s2


def window_size(runner: Any, configured: int) -> int:
    if configured:
        return int(configured)
    size = getattr(getattr(runner, "card", None), "input_size", None)
    if not size:
        raise ModelCardError("stage-2 model card gives no input_size; set stage2.window_px in the config")
    return int(size)


def _versions(s1: Any, s2: Any) -> dict[str, str]:
    v = {"zoomgrade": __version__}
    for name, r in (("stage1", s1), ("stage2", s2)):
        card = getattr(r, "card", None)
        if card is not None:
            v[name] = f"{card.name} {card.version}"
    return v


def _warnings(slide: Any, cfg: GradeConfig, s2: Any = None) -> list[str]:
    w = []
    card = getattr(s2, "card", None)
    if card is not None and card.input_mpp:  # a model folder's stage 2 may be trained at another resolution
        lo, hi = card.mpp_range or (card.input_mpp, card.input_mpp)
        for key, m in (("stage2.mpp", cfg.stage2.mpp), ("exhaustive.mpp", cfg.exhaustive.mpp)):
            if not lo * 0.99 <= m <= hi * 1.01:
                w.append(f"{key} {m:g} um/px is outside the stage-2 model's {lo:g}-{hi:g} um/px: grades are unreliable")
    if getattr(slide, "mpp_source", "file") == "estimate":
        w.append(f"mpp {slide.mpp:.4g} estimated from objective power {slide.objective_power:g}x")
    return w


def fit_to_slide(slide: Any, cfg: GradeConfig, warnings: list[str]) -> GradeConfig:
    """A slide scanned coarser than a pass's resolution has nothing finer to give: that pass reads it at the
    slide's own resolution (upsampling would only invent pixels and multiply the work) and says so."""
    m = slide.mpp
    hp = max(cfg.stage2.mpp, cfg.exhaustive.mpp)
    if m > hp * 1.01:
        warnings.append(f"slide resolution {m:.3g} um/px is coarser than high power ({hp:g} um/px): "
                        "high-power passes read at the slide's own resolution; grades are unreliable")
    if m > cfg.stage1.mpp * 1.01:
        warnings.append(f"slide resolution {m:.3g} um/px is coarser than stage 1's {cfg.stage1.mpp:g} um/px: "
                        "low-power maps are made at the slide's own resolution")
    if m <= min(hp, cfg.stage1.mpp, cfg.exhaustive.mask_mpp) * 1.01:
        return cfg
    r = dataclasses.replace
    return r(cfg, stage1=r(cfg.stage1, mpp=max(cfg.stage1.mpp, m)), stage2=r(cfg.stage2, mpp=max(cfg.stage2.mpp, m)),
             exhaustive=r(cfg.exhaustive, mpp=max(cfg.exhaustive.mpp, m), mask_mpp=max(cfg.exhaustive.mask_mpp, m)))


def build_result(slide: Any, mode: str, grades: list[RegionGrade], cfg: GradeConfig, labels: LabelSet,
                 cost: CostRecord, maps: dict[str, Any], versions: dict[str, str], warnings: list[str],
                 reading: Reading | None = None) -> SlideResult:
    """Adequacy, slide category and counts: the same for both modes."""
    adequacy = assess_adequacy(grades, cfg.adequacy)
    sc = slide_category(grades, adequacy, labels, cfg.slide_rule)
    return SlideResult(
        slide=slide.info(), mode=mode, label_set=labels.name, labels=labels, category=sc.category,
        category_name=labels.category_names[sc.category],
        risk_of_malignancy=float(labels.risk_of_malignancy[sc.category]), category_reason=sc.reason,
        adequacy=adequacy, counts=counts(grades, labels), regions=grades, cost=cost, config=cfg.to_dict(),
        versions=versions, maps=maps, warnings=warnings, reading=None if reading is None else reading.to_dict(),
    )


def _cascade(slide: Any, s1: Any, s2: Any, cfg: GradeConfig, labels: LabelSet, cost: CostRecord, rss: _Rss,
             progress: Progress | None, force: bool = False
             ) -> tuple[list[RegionGrade], dict[str, Any], list[str], Reading, Any]:
    size = window_size(s2, cfg.stage2.window_px)
    if progress:
        progress("stage1", 0, 1)
    s1out = run_stage1(slide, s1, cfg, labels, cost)
    rss.sample()
    if progress:
        progress("stage1", 1, 1)
    # quality control and domain gate: a withheld slide has no evidence; out-of-domain regions are none
    gate = gate_after_stage1(slide, s1out.maps, s1out.regions, s1, s2, cfg.stage2.mpp, size, cost, force)
    queue_ = severity_order(gate.evidence(s1out.regions), labels)
    budget = Budget(cfg.budget)
    stop = ReadingStop(queue_, labels, cfg) if cfg.early_stop.enabled else None
    decisions = run_stage2(slide, queue_, s2, cfg, labels, cost, budget, size, progress, stop)
    rss.sample()
    floor = cfg.fusion.prior_floor
    final: dict[int, RegionGrade] = {}
    notes: list[str] = []
    n_dismissed = n_budget = 0
    for d in decisions:
        if d.unread:
            final[d.job.order] = stage1_grade(d.job.region, labels, d.job.order, floor, "stage1-early-stop")
        elif d.skipped:
            final[d.job.order] = stage1_grade(d.job.region, labels, d.job.order, floor)
            n_budget += 1
        elif d.grade is not None and not d.needs_fallback:
            final[d.job.order] = d.grade
        elif d.dismissed:
            n_dismissed += 1
    pending = [d for d in decisions if d.needs_fallback and not d.skipped]
    if pending and cfg.fallback.enabled:
        for fo in run_fallback(slide, pending, s2, cfg, labels, cost, budget, size, progress):
            d = fo.decision
            if fo.grade is not None:
                final[d.job.order] = fo.grade
            elif fo.skipped or fo.error is not None:
                # Fallback not run (budget) or failed: the stage-2 grade if there is one, else stage 1's.
                keep = d.grade or stage1_grade(d.job.region, labels, d.job.order, floor)
                keep.error = "; ".join(e for e in (d.error, fo.error) if e) or None
                final[d.job.order] = keep
                n_budget += int(fo.skipped and d.grade is None)
            else:
                n_dismissed += 1  # no patch showed cells at high power
        rss.sample()
    elif pending:  # fallback disabled: the fused grade stands; a failed read keeps the stage-1 grade
        for d in pending:
            keep = d.grade or stage1_grade(d.job.region, labels, d.job.order, floor)
            keep.error = d.error
            final[d.job.order] = keep
    if n_dismissed:
        notes.append(f"{n_dismissed} stage-1 regions showed no cell group at high power and were dismissed")
    if n_budget:
        notes.append(f"high-power budget spent: {n_budget} regions keep their stage-1 grade")
    reading = reading_record(decisions, stop)
    if reading.stopped:
        notes.append(f"reading stopped early: {reading.unread} regions keep their stage-1 grade ({reading.reason})")
    return [final[k] for k in sorted(final)], s1out.maps, notes, reading, gate


def _gate_only(slide: Any, s1: Any, s2: Any, cfg: GradeConfig, labels: LabelSet, cost: CostRecord,
               force: bool) -> Any:
    """The gate for an exhaustive-only run: stage 1 runs for it alone (its thumbnail, features, regions)."""
    if s1 is None:
        return None
    s1out = run_stage1(slide, s1, cfg, labels, CostRecord())
    return gate_after_stage1(slide, s1out.maps, s1out.regions, s1, s2, cfg.stage2.mpp, window_size(s2, 0), cost,
                             force)


def _exhaustive(slide: Any, s2: Any, cfg: GradeConfig, labels: LabelSet, cost: CostRecord,
                progress: Progress | None) -> ExhaustiveOutput:
    size = cfg.exhaustive.tile_px or window_size(s2, 0)
    return run_exhaustive(slide, s2, cfg, labels, cost, size, progress)


def grade(path_or_slide: Any, config: GradeConfig | str | Path | dict | None = None, *, mode: str = "cascade",
          mpp: float | None = None, backend: str | None = None, models: Any = None,
          progress: Progress | None = None, force_out_of_domain: bool = False) -> SlideResult:
    """Grade one slide. ``mode``: "cascade" (coarse to fine), "exhaustive" (tile everything), or "both"
    (the cascade's result with ``comparison`` holding the exhaustive run's summary and the agreement).
    A slide that fails quality control or lies outside the models' domain is withheld (``status``,
    no category) unless ``force_out_of_domain`` (research: graded, and marked as forced)."""
    if mode not in MODES:
        raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    cascade, exhaustive = grade_modes(path_or_slide, config, cascade=mode != "exhaustive",
                                      exhaustive=mode != "cascade", mpp=mpp, backend=backend, models=models,
                                      progress=progress, force_out_of_domain=force_out_of_domain)
    result = cascade if cascade is not None else exhaustive
    assert result is not None
    return result


def grade_modes(path_or_slide: Any, config: GradeConfig | str | Path | dict | None = None, *, cascade: bool = True,
                exhaustive: bool = False, mpp: float | None = None, backend: str | None = None,
                models: Any = None, progress: Progress | None = None, force_out_of_domain: bool = False
                ) -> tuple[SlideResult | None, SlideResult | None]:
    """The cascade and/or the exhaustive result of one slide, each with its own cost record; with both,
    the cascade result's ``comparison`` is filled (see ``compare``)."""
    cfg = resolve_config(config)
    s1, s2, labels = models_and_labels(models, cfg, need_stage1=cascade, resolve=resolve_models)
    cfg = config_for_labels(cfg, labels, str(config) if isinstance(config, (str, Path)) else "config")
    if cfg.stage2.torch_threads:
        import torch

        torch.set_num_threads(cfg.stage2.torch_threads)
    rss = _Rss()
    t_start = time.perf_counter()
    own = isinstance(path_or_slide, (str, Path))
    if own:
        from ..slide import open_slide

        slide = open_slide(path_or_slide, mpp=mpp, backend=backend, memory_mb=cfg.limits.memory_mb)
    else:
        slide = path_or_slide
    t_open = time.perf_counter() - t_start
    try:
        versions = _versions(s1, s2)
        warn = _warnings(slide, cfg, s2)
        cfg = fit_to_slide(slide, cfg, warn)
        c_result = e_result = None
        gate = None
        if cascade:
            cost = CostRecord()
            cost.stage("open").seconds = t_open
            t0 = time.perf_counter()
            grades, maps, notes, reading, gate = _cascade(slide, s1, s2, cfg, labels, cost, rss, progress,
                                                         force_out_of_domain)
            cost.wall_seconds = time.perf_counter() - t0 + t_open
            cost.peak_rss_mb = rss.mb()
            c_result = apply_gate(build_result(slide, "cascade", grades, cfg, labels, cost, maps, versions, warn + notes,
                                    reading), gate)
        if exhaustive:
            cost = CostRecord()
            cost.stage("open").seconds = t_open
            t0 = time.perf_counter()
            ex = _exhaustive(slide, s2, cfg, labels, cost, progress)
            cost.wall_seconds = time.perf_counter() - t0 + t_open
            cost.peak_rss_mb = rss.mb()
            e_result = apply_gate(build_result(slide, "exhaustive", ex.grades, cfg, labels, cost, ex.maps, versions,
                                               warn + ex.errors[:5]), gate or _gate_only(slide, s1, s2, cfg, labels,
                                                                                         cost, force_out_of_domain))
            if c_result is not None:
                c_result.comparison = compare(c_result, e_result, ex, labels, cfg)
        input_checks.record(slide, cfg, s1, s2, [r for r in (c_result, e_result) if r is not None])
        return c_result, e_result
    finally:
        if own:
            slide.close()


__all__ = ["build_result", "grade", "grade_modes", "resolve_config", "resolve_models"]
