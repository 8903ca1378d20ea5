"""The figures of an evaluation, from the per-slide records (scikit-learn's metrics; nothing re-derived).

Region level: each annotated group is paired with the region that overlaps it most. Truth "none" marks
a region that overlaps no annotation (a false alarm); prediction "none" marks a group no region found.
Per-grade precision / recall / F1 count both; the quadratic weighted kappa (the measure of ordinal
grading) is over the found groups. Calibration: the region's top-grade confidence against whether that
grade is the annotation's, in equal-width bins (expected calibration error, reliability diagram).
Slide level: category confusion, accuracy, sensitivity for the malignant-side categories, the
nondiagnostic rate; a slide withheld by the domain gate (no category) is counted apart, not as an answer.
Confidence intervals: ``intervals`` (exact binomial for the proportions over slides; for the other figures
the percentile bootstrap here: slides resampled with replacement, every figure recomputed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from ..labels import LabelSet
from .run import SlideRecord

NONE = "none"
N_BINS = 10
BOOTSTRAP = 1000
HEADLINE = ("slide_accuracy", "malignant_sensitivity", "region_macro_f1", "region_qwk", "ece")


def malignant_side(labels: LabelSet) -> list[str]:
    """The categories on the malignant side: the fine grades of the most severe coarse grade (TBSRTC V, VI)."""
    return list(labels.coarse_to_fine[labels.coarse[-1]])


def _region_lists(records: list[SlideRecord], mode: str) -> tuple[list[str], list[str], list[float], list[bool]]:
    """(truth, prediction) per found group, missed group and false-alarm region; and (confidence, right)
    per found group for calibration."""
    yt, yp, conf, ok = [], [], [], []
    for r in records:
        m = r.modes.get(mode)
        if m is None:
            continue
        for t, p, c in m.pairs:
            yt.append(t)
            yp.append(p)
            conf.append(c)
            ok.append(t == p)
        yt += m.missed + [NONE] * len(m.false_alarms)
        yp += [NONE] * len(m.missed) + list(m.false_alarms)
    return yt, yp, conf, ok


def calibration(conf: list[float], ok: list[bool], n_bins: int = N_BINS) -> dict[str, Any]:
    c, k = np.asarray(conf, float), np.asarray(ok, float)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(c, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        acc = mc = None
        if n:
            acc, mc = float(k[sel].mean()), float(c[sel].mean())
            ece += n / len(c) * abs(acc - mc)
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": n, "accuracy": acc, "confidence": mc})
    return {"ece": float(ece) if len(c) else None, "bins": bins, "n": len(c)}


def region_metrics(records: list[SlideRecord], mode: str, labels: LabelSet) -> dict[str, Any]:
    yt, pred, conf, ok = _region_lists(records, mode)
    grades = list(labels.fine)
    cls = [*grades, NONE]
    cm = confusion_matrix(yt, pred, labels=cls) if yt else np.zeros((len(cls), len(cls)), int)
    p, r, f, s = precision_recall_fscore_support(yt, pred, labels=grades, zero_division=0) if yt else ([0.0] * 4,) * 4
    found = [(t, q) for t, q in zip(yt, pred) if t != NONE and q != NONE]
    qwk = None
    if len({t for t, _ in found} | {q for _, q in found}) > 1:
        qwk = float(
            cohen_kappa_score(
                [grades.index(t) for t, _ in found],
                [grades.index(q) for _, q in found],
                weights="quadratic",
                labels=list(range(len(grades))),
            )
        )
    n_groups = sum(t != NONE for t in yt)
    present = [i for i, g in enumerate(grades) if s[i] > 0]
    return {
        "classes": cls,
        "confusion": cm.tolist(),
        "per_grade": {
            g: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, g in enumerate(grades)
        },
        "macro_f1": float(np.mean([f[i] for i in present])) if present else None,
        "qwk": qwk,
        "groups": n_groups,
        "found": len(found),
        "detection_recall": len(found) / n_groups if n_groups else None,
        "false_alarm_regions": sum(t == NONE for t in yt),
        "calibration": calibration(conf, ok),
    }


def slide_metrics(records: list[SlideRecord], mode: str, labels: LabelSet) -> dict[str, Any]:
    cats = list(labels.category_names)
    called = [r for r in records if mode in r.modes and r.modes[mode].category is not None]
    rows = [(r.truth, r.modes[mode].category) for r in called if r.truth in cats]
    graded = [r.modes[mode].category for r in called]
    withheld = sum(mode in r.modes and r.modes[mode].category is None for r in records)
    mal = malignant_side(labels)
    pos_rows = [(t, p) for t, p in rows if t in mal]
    # the k and n of each proportion, for its exact interval
    counts = {
        "n": len(rows),
        "correct": sum(t == p for t, p in rows),
        "n_graded": len(graded),
        "nondiagnostic": graded.count(labels.nondiagnostic),
        "malignant_n": len(pos_rows),
        "malignant_called": sum(p in mal for _, p in pos_rows),
    }
    out: dict[str, Any] = {
        "categories": cats,
        "n": len(rows),
        "n_graded": len(graded),
        "withheld": withheld,
        "counts": counts,
        "nondiagnostic_rate": graded.count(labels.nondiagnostic) / len(graded) if graded else None,
    }
    if not rows:
        return {**out, "confusion": None, "accuracy": None, "sensitivity": {}, "malignant_sensitivity": None}
    yt, yp = zip(*rows)
    sev = {c: labels.severity(c) for c in cats}
    sens = {}
    for c in mal:
        idx = [i for i, t in enumerate(yt) if t == c]
        sens[c] = {
            "n": len(idx),
            "exact": sum(yp[i] == c for i in idx) / len(idx) if idx else None,
            "at_or_above": sum(sev[yp[i]] >= sev[c] for i in idx) / len(idx) if idx else None,
        }
    pos = [i for i, t in enumerate(yt) if t in mal]
    return {
        **out,
        "confusion": confusion_matrix(yt, yp, labels=cats).tolist(),
        "accuracy": float(accuracy_score(yt, yp)),
        "sensitivity": sens,
        # a malignant-side slide called malignant-side (V or VI, either way round) is not missed
        "malignant_sensitivity": sum(yp[i] in mal for i in pos) / len(pos) if pos else None,
        "truth_nondiagnostic_rate": yt.count(labels.nondiagnostic) / len(yt),
    }


def headline(records: list[SlideRecord], mode: str, labels: LabelSet) -> dict[str, float | None]:
    s, r = slide_metrics(records, mode, labels), region_metrics(records, mode, labels)
    return {
        "slide_accuracy": s["accuracy"],
        "malignant_sensitivity": s["malignant_sensitivity"],
        "region_macro_f1": r["macro_f1"],
        "region_qwk": r["qwk"],
        "ece": r["calibration"]["ece"],
    }


def bootstrap(
    records: list[SlideRecord],
    mode: str,
    labels: LabelSet,
    n: int = BOOTSTRAP,
    seed: int = 0,
    keys: tuple[str, ...] = HEADLINE,
) -> dict[str, dict[str, float | None]]:
    """95% percentile intervals of the headline figures ``keys``, resampling slides with replacement."""
    recs = [r for r in records if mode in r.modes]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(n if len(recs) > 1 else 0):
        sample = [recs[i] for i in rng.integers(0, len(recs), len(recs))]
        for k, v in headline(sample, mode, labels).items():
            if v is not None and k in draws:
                draws[k].append(v)
    return {
        k: {"lo": float(np.percentile(v, 2.5)), "hi": float(np.percentile(v, 97.5)), "draws": len(v)}
        if len(v) >= n // 2 and v
        else {"lo": None, "hi": None, "draws": len(v)}
        for k, v in draws.items()
    }


def agreement(records: list[SlideRecord]) -> dict[str, Any] | None:
    """Cascade against exhaustive, over the slides graded in both modes."""
    both = [r for r in records if "cascade" in r.modes and "exhaustive" in r.modes]
    if not both:
        return None
    cat = [r.modes["cascade"].category == r.modes["exhaustive"].category for r in both]
    reg = [
        r.modes["cascade"].comparison["region_agreement"]
        for r in both
        if r.modes["cascade"].comparison and r.modes["cascade"].comparison.get("region_agreement") is not None
    ]
    sc = [r.modes["cascade"].seconds for r in both]
    se = [r.modes["exhaustive"].seconds for r in both]
    ratio = [c / e for c, e in zip(sc, se) if e > 0]
    return {
        "n": len(both),
        "category_agreement": sum(cat) / len(both),
        "region_agreement_mean": float(np.mean(reg)) if reg else None,
        "seconds_cascade_median": float(np.median(sc)),
        "seconds_exhaustive_median": float(np.median(se)),
        "time_ratio_median": float(np.median(ratio)) if ratio else None,
        "disagreements": [
            {"slide": r.slide, "cascade": r.modes["cascade"].category, "exhaustive": r.modes["exhaustive"].category}
            for r, a in zip(both, cat)
            if not a
        ],
    }
