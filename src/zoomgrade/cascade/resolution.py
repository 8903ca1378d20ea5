"""Where each pass reads: a config's resolutions, a 0 taken from the card of the model that reads there.

A model folder's models may be trained at other resolutions than the shipped ones (``zoomgrade train
--mpp``), and what was measured of them (stage 1's domain gate and early-stop record, stage 2's accuracy)
holds at those resolutions only. So the defaults are 0, "the card's", and a config that names another
resolution is graded as asked and warned of (``prepare.slide_warnings``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ModelCardError
from .config import GradeConfig


def card_mpp(config_mpp: float, model: Any, key: str, stage: str) -> float:
    """``config_mpp``, or where that is 0 the ``input_mpp`` of ``model``'s card (``key`` names the setting,
    ``stage`` the model: "stage-1", "stage-2")."""
    if config_mpp > 0:
        return float(config_mpp)
    card = getattr(model, "card", None)
    if card is None or not card.input_mpp:
        raise ModelCardError(f"{key} is 0 (the model card's), but the {stage} model has no card with input_mpp")
    return float(card.input_mpp)


def low_power_mpp(config_mpp: float, model: Any) -> float:
    """The resolution stage 1 reads at (``stage1.mpp``)."""
    return card_mpp(config_mpp, model, "stage1.mpp", "stage-1")


def at_model_mpp(cfg: GradeConfig, s1: Any, s2: Any = None) -> GradeConfig:
    """``cfg`` with each resolution left at 0 replaced by its model card's ``input_mpp``: ``stage1.mpp`` by
    stage 1's, ``stage2.mpp`` and ``exhaustive.mpp`` by stage 2's (a model not given leaves its settings as
    they are: a pass that does not run it), so the result's config says what was read."""
    r = dataclasses.replace
    if s1 is not None and cfg.stage1.mpp == 0:
        cfg = r(cfg, stage1=r(cfg.stage1, mpp=low_power_mpp(0.0, s1)))
    if s2 is not None and cfg.stage2.mpp == 0:
        cfg = r(cfg, stage2=r(cfg.stage2, mpp=card_mpp(0.0, s2, "stage2.mpp", "stage-2")))
    if s2 is not None and cfg.exhaustive.mpp == 0:
        cfg = r(cfg, exhaustive=r(cfg.exhaustive, mpp=card_mpp(0.0, s2, "exhaustive.mpp", "stage-2")))
    return cfg
