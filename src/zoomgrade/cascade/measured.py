"""The early stop's measured values come with the models they were measured with.

``early_stop.undergrade`` (how often stage 1 under-grades, at worst), ``undergrade_prior`` (how that varies
from slide to slide) and ``recall_prior`` (how the share of the most severe groups among stage 1's less
severe calls varies) describe a pair of models on validation slides, not a lab's preference. So they live in
the stage-1 model card (``ModelCard.early_stop``, written by ``zoomgrade models fit-stop``,
``evaluation/stop_fit.py``), with the stage-2 files they were measured with; the config's default for each, "models",
takes the card's. A card without the record, or with one measured with another stage 2, gives none: each
bound then uses the slide's own regions alone (the Clopper-Pearson bounds), which assume nothing of other
slides. A table in the config replaces the card's value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..models.card import early_stop_record
from .config import GradeConfig, validate
from .config_types import FROM_MODELS

KEYS = ("undergrade", "undergrade_prior", "recall_prior")


def table(value: Any) -> dict[str, Any]:
    """A measured table as the bounds read it: "models" not resolved (no models in sight) is none."""
    return value if isinstance(value, dict) else {}


def from_models(cfg: GradeConfig, stage1: Any, stage2: Any, labels: Any = None) -> GradeConfig:
    """``cfg`` with every early-stop table left at "models" taken from the models' record (or {}),
    validated against ``labels`` (a ``LabelSet``) when given."""
    es = cfg.early_stop
    if not any(getattr(es, k) == FROM_MODELS for k in KEYS):
        return cfg
    rec = early_stop_record(stage1, stage2)
    new = {k: rec.get(k, {}) for k in KEYS if getattr(es, k) == FROM_MODELS}
    out = dataclasses.replace(cfg, early_stop=dataclasses.replace(es, **new))
    ctx = {} if labels is None else {"fine": labels.fine, "label_set": labels.name, "coarse": labels.coarse}
    return validate(out, "stage-1 model card early_stop", **ctx)


__all__ = ["KEYS", "from_models", "table"]
