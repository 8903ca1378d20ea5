"""Acceptance measures on annotated slides (held-out seeds): stage-1 recall of cell groups and coarse-grade
accuracy of the found ones; stage-2 fine-grade macro-F1 over groups (each group graded from the windows
that cover it, as the cascade does)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from shapely.strtree import STRtree

from ..labels import TBSRTC, LabelSet
from ..slide import open_slide
from .datasets import Group, SlideItem, _fit, find_slides, load_groups, region_windows
from .regions import maps_to_regions
from .runners import Stage1Runner, Stage2Runner, combine_windows
from .train_common import macro_f1


def match_regions(regions: list, groups: list[Group], labels: LabelSet = TBSRTC, pairs: bool = False) -> dict[str, Any]:
    """Counts: groups, found (some region overlaps the group), coarse_correct (the most-overlapping
    region's coarse grade is the group's), regions, true_regions (regions overlapping some group),
    ``confusion`` (rows: the found groups' true coarse grade, columns: the region's), and with ``pairs``
    also ``matches`` (per group: index of its most-overlapping region, -1 when none) and ``hit`` (per
    region: whether it overlaps some group)."""
    polys = [r.polygon for r in regions]
    tree = STRtree(polys) if polys else None
    found = correct = 0
    hit = np.zeros(len(regions), bool)
    n = len(labels.coarse)
    confusion = np.zeros((n, n), int)
    matches = [-1] * len(groups)
    for k, g in enumerate(groups):
        if tree is None:
            continue
        best, best_area = None, 0.0
        for i in tree.query(g.geometry):
            a = polys[i].intersection(g.geometry).area
            if a > 0:
                hit[i] = True
                if a > best_area:
                    best, best_area = int(i), a
        if best is not None:
            matches[k] = best
            found += 1
            correct += regions[best].coarse_grade == labels.coarse_of(g.fine)
            confusion[
                labels.coarse_index(labels.coarse_of(g.fine)), labels.coarse_index(regions[best].coarse_grade)
            ] += 1
    out = {
        "groups": len(groups),
        "found": found,
        "coarse_correct": int(correct),
        "regions": len(regions),
        "true_regions": int(hit.sum()),
        "confusion": confusion,
    }
    if pairs:
        out.update(matches=matches, hit=[bool(h) for h in hit])
    return out


def stage1_scores(
    runner: Stage1Runner, samples: Iterable[Any], labels: LabelSet = TBSRTC, group_threshold: float = 0.5
) -> dict[str, float]:
    """``samples``: objects with ``image`` (at runner.card.mpp), ``groups`` and ``slide_mpp`` (e.g.
    ``Stage1Slide``s) or ``SlideItem``s (read here)."""
    tot: dict[str, Any] = {
        "groups": 0,
        "found": 0,
        "coarse_correct": 0,
        "regions": 0,
        "true_regions": 0,
        "confusion": np.zeros((len(labels.coarse),) * 2, int),
    }
    for s in samples:
        if isinstance(s, SlideItem):
            with open_slide(s.slide) as slide:
                image = slide.read_region(0, 0, *slide.dimensions, runner.card.mpp)
                smpp = slide.mpp
            groups = load_groups(s, labels)
        else:
            image, groups, smpp = s.image, s.groups, s.slide_mpp
        maps = runner.predict(image)
        regions = maps_to_regions(maps, runner.card.mpp * maps.stride, smpp, labels, group_threshold=group_threshold)
        for k, v in match_regions(regions, groups, labels).items():
            tot[k] += v
    recall = tot["found"] / max(tot["groups"], 1)
    acc = tot["coarse_correct"] / max(tot["found"], 1)
    precision = tot["true_regions"] / max(tot["regions"], 1)
    confusion = tot.pop("confusion")
    rows = confusion.sum(1)
    balanced = float(np.mean([confusion[i, i] / rows[i] for i in range(len(rows)) if rows[i]])) if rows.sum() else 0.0
    # checkpoint score: plain accuracy alone rewarded calling everything benign (most groups are)
    return {
        "recall": recall,
        "coarse_accuracy": acc,
        "coarse_balanced_accuracy": balanced,
        "precision": precision,
        "score": 0.4 * recall + 0.2 * acc + 0.2 * balanced + 0.2 * precision,
        **{k: float(v) for k, v in tot.items()},
        "coarse_confusion": confusion.tolist(),
        "coarse_labels": list(labels.coarse),
    }


def stage2_group_scores(
    runner: Stage2Runner, items: Iterable[SlideItem], labels: LabelSet = TBSRTC, max_windows: int = 16
) -> dict[str, Any]:
    """Grade every annotated group from the high-power windows covering its bounds; macro-F1 over the
    fine grades, accuracy, and the confusion matrix (rows truth, columns prediction)."""
    mpp, size = runner.card.input_mpp, int(runner.card.input_size or 256)
    y_true, y_pred = [], []
    for it in items:
        groups = load_groups(it, labels)
        with open_slide(it.slide) as slide:
            for g in groups:
                wins = region_windows(g.geometry.bounds, slide.mpp, mpp, size, max_windows)
                crops = np.stack([_fit(slide.read_region(x, y, w, h, mpp), size) for x, y, w, h in wins])
                y_pred.append(int(np.argmax(combine_windows(runner.predict(crops)))))
                y_true.append(labels.fine_index(g.fine))
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    n = len(labels.fine)
    conf = np.zeros((n, n), int)
    for t, p in zip(yt, yp):
        conf[t, p] += 1
    return {
        "groups": int(len(yt)),
        "macro_f1": macro_f1(yt, yp, list(range(n))),
        "accuracy": float(np.mean(yt == yp)) if len(yt) else 0.0,
        "confusion": conf.tolist(),
        "labels": list(labels.fine),
    }


def evaluate_dir(
    slides_dir: str | Path, stage1: Stage1Runner | None, stage2: Stage2Runner | None, labels: LabelSet = TBSRTC
) -> dict[str, Any]:
    items = find_slides(slides_dir)
    out: dict[str, Any] = {"slides": len(items), "seeds": sorted(i.seed for i in items if i.seed is not None)}
    if stage1 is not None:
        out["stage1"] = stage1_scores(stage1, items, labels)
    if stage2 is not None:
        out["stage2"] = stage2_group_scores(stage2, items, labels)
    return out


if __name__ == "__main__":  # python -m zoomgrade.models.evaluate DIR [stage1.safetensors stage2.safetensors]
    import json
    import sys

    import torch

    from .folder import load_default_models
    from .runners import load_runners

    torch.set_num_threads(2)
    r1, r2 = load_runners(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else load_default_models()
    print(json.dumps(evaluate_dir(sys.argv[1], r1, r2), indent=1))
