"""The label set of a grading run: taken from the models, checked against the config, and the config's
label-set-relative defaults (the slide rule's per-category thresholds, the fallback's ``severity_from``)
filled from it. The result then records the values that were used."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..labels import LabelSet
from .config import FROM_LABEL_SET, GradeConfig

RULE_KEYS = ("min_count", "min_area_um2", "min_confidence", "min_share")


def models_and_labels(models: Any, cfg: GradeConfig, *, need_stage1: bool,
                      resolve: Callable[[Any, bool], tuple[Any, Any]]) -> tuple[Any, Any, LabelSet]:
    """(stage-1 runner, stage-2 runner, label set): ``models`` (else the config's ``models.folder``, else the
    shipped weights), both stages and the config's ``models.label_set`` agreeing on one label set."""
    from ..models.folder import agreed_label_set

    if models is None and cfg.models.folder:
        models = cfg.models.folder
    s1, s2 = resolve(models, need_stage1)
    labels = agreed_label_set(s1 if need_stage1 else None, s2, cfg.models.label_set or None)
    return s1, s2, labels


def config_for_labels(cfg: GradeConfig, labels: LabelSet, source: str = "config") -> GradeConfig:
    """``cfg`` with the slide rule's per-category values the config leaves out taken from ``labels`` and
    ``fallback.severity_from = "auto"`` made the label set's; a grade the label set lacks is refused."""
    above = labels.fine[1:]
    sr = cfg.slide_rule
    rule: dict[str, dict[str, Any]] = {}
    for key in RULE_KEYS:
        given = getattr(sr, key)
        for g in given:
            if g not in above:
                raise ConfigError(f"{source}: slide_rule.{key}.{g}: {g!r} is not a grade of label set {labels.name} "
                                  f"above its least severe ({', '.join(above)})")
        rule[key] = {**labels.slide_rule.get(key, {}), **given}
    sf = cfg.fallback.severity_from
    if sf == FROM_LABEL_SET:
        sf = labels.severity_from
    elif sf not in ("", *labels.fine):
        raise ConfigError(f"{source}: fallback.severity_from: {sf!r} is not a fine grade of label set {labels.name} "
                          f"({', '.join(labels.fine)}), \"\" or \"{FROM_LABEL_SET}\"")
    r = dataclasses.replace
    return r(cfg, slide_rule=r(sr, **rule), fallback=r(cfg.fallback, severity_from=sf))
