"""``zoomgrade evaluate``: grade annotated slides with a model folder and write eval.json + eval.html."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._version import __version__
from ..atomic import atomic_write_text
from ..errors import ZoomgradeError
from ..labels import TBSRTC, LabelSet
from ..models.datasets import find_slides
from ..models.inference import torch_threads_for
from . import intervals, metrics
from .run import SlideRecord, grade_all, load_models

#: fewer slides than this: the intervals are said to be wide in every output
FEW_SLIDES = 30


def trained_on(models: tuple[Any, Any]) -> set[str]:
    """Names of the slides the models were trained or validated on (from their cards)."""
    names: set[str] = set()
    for r in models:
        data = (getattr(getattr(r, "card", None), "training", None) or {}).get("data", {})
        names |= set(data.get("train", [])) | set(data.get("val", []))
    return names


def doubts(records: list[SlideRecord], models: tuple[Any, Any], labels: LabelSet) -> list[str]:
    """What limits the figures, said in eval.json and at the top of eval.html."""
    out = []
    failed = [r for r in records if r.error]
    if failed:
        out.append(
            f"{len(failed)} slide(s) could not be graded and are left out: "
            + "; ".join(r.error or "" for r in failed[:3])
        )
    graded = [r for r in records if not r.error]
    if len(graded) < FEW_SLIDES:
        out.append(f"only {len(graded)} slides: the intervals are wide and every figure is a small-sample one")
    withheld = sorted({r.slide for r in graded for m in r.modes.values() if m.category is None})
    if withheld:
        out.append(
            f"{len(withheld)} slide(s) were withheld (no category: the domain gate or quality control "
            "refused them) and are left out of the slide-level figures: " + ", ".join(withheld[:5])
        )
    no_truth = [r.slide for r in graded if r.truth not in labels.category_names]
    if no_truth:
        out.append(
            f"{len(no_truth)} slide(s) have no slide-level category and are left out of the slide-level "
            "figures: " + ", ".join(no_truth[:5])
        )
    seen = sorted(trained_on(models) & {r.slide for r in records})
    if seen:
        out.append(
            f"{len(seen)} slide(s) were used to train or validate these models: their figures are not a "
            "held-out measure: " + ", ".join(seen[:5])
        )
    return out


def run_evaluation(
    source: str | Path,
    out: str | Path,
    *,
    models_dir: str | Path | None = None,
    modes: tuple[str, ...] = ("cascade",),
    config: Any = None,
    split: str | None = None,
    labels: LabelSet = TBSRTC,  # used when the models do not carry a label set
    on_slide: Callable[[int, int, SlideRecord], None] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Grade every slide of ``source`` (folder or CSV manifest; ``split``: only the manifest's rows of that
    split) in ``modes`` and write ``out/eval.json``, ``out/eval.html`` and each slide's outputs. ``threads``:
    the models' CPU threads, as ``zoomgrade grade --threads`` (None: the models' default)."""
    from ..cascade import load_config
    from .html import write_html

    items = find_slides(source)
    if split:
        items = [it for it in items if it.split == split]
        if not items:
            raise ZoomgradeError(f"{source}: no slides in split {split!r}")
    cfg = load_config(config)
    models = load_models(models_dir, None, need_stage1="cascade" in modes, threads=threads)
    labels = getattr(models[1], "label_set", None) or labels  # the folder's label set decides the grades
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    with torch_threads_for(models, threads):  # ONNX Runtime took them at load
        records, seconds = grade_all(items, o, models, cfg, modes, labels, on_slide)
    per_mode = {}
    for m in modes:
        per_mode[m] = {
            "headline": metrics.headline(records, m, labels),
            "intervals": intervals.intervals(records, m, labels),
            "region": metrics.region_metrics(records, m, labels),
            "slide": metrics.slide_metrics(records, m, labels),
        }
    doc = {
        "zoomgrade": __version__,
        "source": str(source),
        "split": split,
        "label_set": labels.name,
        "models": {
            "folder": str(models_dir) if models_dir else "shipped",
            "cards": {
                r.card.name: {"version": r.card.version, "description": r.card.description}
                for r in models
                if r is not None
            },
        },
        "modes": list(modes),
        "n_slides": len(records),
        "seconds": round(seconds, 1),
        "machine": f"{platform.machine()} {platform.system()}",
        "bootstrap": {
            "resamples": metrics.BOOTSTRAP,
            "unit": "slide",
            "interval": "95% percentile",
            "figures": list(intervals.BOOTSTRAPPED),
        },
        "interval_methods": intervals.methods(),
        "malignant_side": metrics.malignant_side(labels),
        "warnings": doubts(records, models, labels),
        "per_mode": per_mode,
        "agreement": metrics.agreement(records),
        "slides": [r.to_dict() for r in records],
    }
    atomic_write_text(o / "eval.json", json.dumps(doc, indent=1) + "\n")
    write_html(doc, o / "eval.html")
    return doc
