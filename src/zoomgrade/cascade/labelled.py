"""The label set of a grading run: taken from the models, checked against the config, and the config's
label-set-relative defaults (the slide rule's per-category thresholds, the fallback's ``severity_from``)
filled from it. The result then records the values that were used."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..labels import LabelSet
from .config import FROM_LABEL_SET, GradeConfig, validate

RULE_KEYS = ("min_count", "min_area_um2", "min_confidence", "min_share")


def models_and_labels(
    models: Any, cfg: GradeConfig, *, need_stage1: bool, resolve: Callable[[Any, bool], tuple[Any, Any]]
) -> tuple[Any, Any, LabelSet]:
    """(stage-1 runner, stage-2 runner, label set): ``models`` (else the config's ``models.folder``, else the
    shipped weights), both stages and the config's ``models.label_set`` agreeing on one label set."""
    from ..models.folder import agreed_label_set

    if models is None and cfg.models.folder:
        models = cfg.models.folder
    s1, s2 = resolve(models, need_stage1)
    labels = agreed_label_set(s1 if need_stage1 else None, s2, cfg.models.label_set or None)
    return s1, s2, labels


def config_for_labels(cfg: GradeConfig, labels: LabelSet, source: str = "config") -> GradeConfig:
    """``cfg`` checked against ``labels`` (every grade it names must be the label set's: one ``ConfigError``
    naming ``source`` and each bad key), with the slide rule's per-category values it leaves out taken from
    the label set's file and ``fallback.severity_from = "auto"`` made the label set's."""
    validate(cfg, source, fine=labels.fine, label_set=labels.name, coarse=labels.coarse)
    sr = cfg.slide_rule
    rule = {key: {**labels.slide_rule.get(key, {}), **getattr(sr, key)} for key in RULE_KEYS}
    sf = labels.severity_from if cfg.fallback.severity_from == FROM_LABEL_SET else cfg.fallback.severity_from
    r = dataclasses.replace
    return validate(
        r(cfg, slide_rule=r(sr, **rule), fallback=r(cfg.fallback, severity_from=sf)),
        source,
        fine=labels.fine,
        label_set=labels.name,
        coarse=labels.coarse,
    )
