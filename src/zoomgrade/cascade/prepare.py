"""What ``grade()`` settles before any pass runs: the config, the models, the window size, the versions,
and a config fitted to the slide's own resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import psutil

from .._version import __version__
from ..errors import ModelCardError
from .config import GradeConfig, resolve_config
from .context import SlideLike, Stage1Model, Stage2Model
from .resolution import at_model_mpp

ConfigLike = GradeConfig | str | Path | dict[str, Any] | None

__all__ = [
    "ConfigLike",
    "PeakRss",
    "at_model_mpp",
    "fit_to_slide",
    "resolve_config",
    "resolve_models",
    "slide_warnings",
    "versions",
    "window_size",
]


def resolve_models(models: Any, need_stage1: bool) -> tuple[Stage1Model | None, Stage2Model]:
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


def versions(s1: Any, s2: Any) -> dict[str, str]:
    v = {"zoomgrade": __version__}
    for name, r in (("stage1", s1), ("stage2", s2)):
        card = getattr(r, "card", None)
        if card is not None:
            v[name] = f"{card.name} {card.version}"
    return v


def _not_at(mpp: float, model_mpp: float) -> bool:
    """Whether a pass reads at another resolution than its model's (more than 1% off)."""
    return abs(mpp / model_mpp - 1) > 0.01


def slide_warnings(slide: Any, cfg: GradeConfig, s2: Any = None, s1: Any = None) -> list[str]:
    w = []
    card1 = getattr(s1, "card", None)
    if card1 is not None and card1.input_mpp and cfg.stage1.mpp > 0 and _not_at(cfg.stage1.mpp, card1.input_mpp):
        w.append(
            f"stage1.mpp {cfg.stage1.mpp:g} um/px is not the stage-1 model's {card1.input_mpp:g} um/px, where "
            "its domain gate and early-stop record were measured: neither is known to hold"
        )
    card = getattr(s2, "card", None)
    if card is not None and card.input_mpp:  # a model folder's stage 2 may be trained at another resolution
        lo, hi = card.mpp_range or (card.input_mpp, card.input_mpp)
        for key, m in (("stage2.mpp", cfg.stage2.mpp), ("exhaustive.mpp", cfg.exhaustive.mpp)):
            if not lo * 0.99 <= m <= hi * 1.01:
                w.append(f"{key} {m:g} um/px is outside the stage-2 model's {lo:g}-{hi:g} um/px: grades are unreliable")
            elif _not_at(m, card.input_mpp):  # the card's range is declared, not measured (docs/models.md)
                w.append(
                    f"{key} {m:g} um/px is not the stage-2 model's {card.input_mpp:g} um/px, where it was trained "
                    f"(its card allows {lo:g}-{hi:g}): set it to {card.input_mpp:g} unless measured"
                )
    if getattr(slide, "mpp_source", "file") == "estimate":
        w.append(f"mpp {slide.mpp:.4g} estimated from objective power {slide.objective_power:g}x")
    return w


def fit_to_slide(slide: SlideLike, cfg: GradeConfig, warnings: list[str]) -> GradeConfig:
    """A slide scanned coarser than a pass's resolution has nothing finer to give: that pass reads it at the
    slide's own resolution (upsampling would only invent pixels and multiply the work) and says so."""
    m = slide.mpp
    hp = max(cfg.stage2.mpp, cfg.exhaustive.mpp)
    if m > hp * 1.01:
        warnings.append(
            f"slide resolution {m:.3g} um/px is coarser than high power ({hp:g} um/px): "
            "high-power passes read at the slide's own resolution; grades are unreliable"
        )
    lows = [cfg.stage1.mpp] if cfg.stage1.mpp > 0 else []  # 0: stage 1 is not run (an exhaustive-only pass)
    if lows and m > cfg.stage1.mpp * 1.01:
        warnings.append(
            f"slide resolution {m:.3g} um/px is coarser than stage 1's {cfg.stage1.mpp:g} um/px: "
            "low-power maps are made at the slide's own resolution"
        )
    if m <= min(hp, *lows, cfg.exhaustive.mask_mpp) * 1.01:
        return cfg
    r = dataclasses.replace
    return r(
        cfg,
        stage1=r(cfg.stage1, mpp=max(cfg.stage1.mpp, m)) if lows else cfg.stage1,
        stage2=r(cfg.stage2, mpp=max(cfg.stage2.mpp, m)),
        exhaustive=r(cfg.exhaustive, mpp=max(cfg.exhaustive.mpp, m), mask_mpp=max(cfg.exhaustive.mask_mpp, m)),
    )


class PeakRss:
    """Peak resident memory of this run, sampled at stage boundaries."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0

    def sample(self) -> None:
        self.peak = max(self.peak, self.proc.memory_info().rss)

    def mb(self) -> float:
        self.sample()
        return self.peak / 2**20
