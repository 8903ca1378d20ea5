"""What ``zoomgrade bench`` concludes from its slides: medians over slides, pooled truth scores, and the
targets each figure is held to (written by ``bench/report.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..labels import TBSRTC
from . import ablation as ab

TARGET_RATIO = 0.05
TARGET_AGREEMENT = 0.98
TARGET_RECALL = 0.98
TARGET_SECONDS = 30.0  # a 20 x 20 mm slide on 2 CPU cores
TARGET_PEAK_MB = 2048.0
TARGET_FLOOR = 2.0
TARGET_GATE_PASS = 0.98  # issue 18: in-domain held-out slides that pass QC and the domain gate
BIG_SLIDE_MM = (20.0, 20.0)


def median_of(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.median(v)) if v else None


def mean_of(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.mean(v)) if v else None



def summarise(record: dict[str, Any], scores: list[dict[str, ab.ModeScore]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Medians over slides, pooled truth scores (all slides' groups together) and the targets."""
    S = record["slides"]
    s: dict[str, Any] = {"n_slides": len(S)}
    for mode in ("cascade", "exhaustive"):
        m = [r[mode] for r in S]
        s[mode] = {
            "median_wall_s": median_of([x["wall_s"] for x in m]),
            "median_wall_with_write_s": median_of([x["wall_with_write_s"] for x in m]),
            "median_stage_s": {k: median_of([x["seconds"].get(k) for x in m]) for k in m[0]["seconds"]} if m else {},
            "median_hp_megapixels": median_of([x["hp_megapixels"] for x in m]),
            "category_accuracy": mean_of([x["correct"] for x in m]),
            "median_macro_f1": median_of([x["macro_f1"] for x in m]),
            # share of these in-domain held-out slides that pass quality control and the domain gate
            "gate_pass_rate": mean_of([x.get("status", "graded") == "graded" for x in m]),
            "median_gate_s": median_of([x.get("gate_s", 0.0) for x in m]),
        }
    modes = list(scores[0]) if scores else []
    pooled: dict[str, Any] = {}
    for mode in modes:
        pairs = [p for sc in scores for p in sc[mode].pairs]
        flags = [f for sc in scores for f in sc[mode].vvi_recalled]
        pooled[mode] = {"macro_f1": ab.macro_f1(pairs, TBSRTC.fine), "f1_per_class": ab.f1_per_class(pairs, TBSRTC.fine),
                        "vvi_groups": len(flags), "vvi_recall": ab.recall(flags)}
    s["pooled"] = pooled
    if scores:
        c = [f for sc in scores for f in sc["cascade"].vvi_recalled]
        e = [f for sc in scores for f in sc["exhaustive"].vvi_recalled]
        s["vvi_recall_vs_exhaustive"] = ab.relative_recall(c, e)
    else:
        s["vvi_recall_vs_exhaustive"] = None
    s["ablation"] = {name: {"category_accuracy": mean_of([r["ablation"][name]["correct"] for r in S]),
                            "pooled_macro_f1": pooled.get(f"lowpower_{name}", {}).get("macro_f1")}
                     for name in (S[0]["ablation"] if S else {})}
    s["median_wall_ratio"] = median_of([r["wall_ratio"] for r in S])
    s["median_hp_pixel_ratio"] = median_of([r["hp_pixel_ratio"] for r in S])
    s["category_agreement"] = mean_of([r["category_agree"] for r in S])
    s["median_floor_s"] = median_of([r["floor"]["serial_s"] for r in S])
    s["median_floor_overlapped_s"] = median_of([r["floor"]["overlapped_s"] for r in S])
    s["median_cascade_over_floor"] = median_of([r["cascade_over_floor"] for r in S])
    probe = {p["mode"]: p for p in record.get("memory_probe", []) if "peak_rss_mb" in p}
    s["cascade_peak_rss_mb"] = probe.get("cascade", {}).get("peak_rss_mb")
    s["exhaustive_peak_rss_mb"] = probe.get("exhaustive", {}).get("peak_rss_mb")
    s["process_peak_rss_mb"] = record.get("process_peak_rss_mb")
    return s, targets(record, s)


def _t(name: str, target: str, value: Any, passed: bool | None, note: str = "") -> dict[str, Any]:
    return {"name": name, "target": target, "value": value, "passed": passed, "note": note}


def targets(record: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    def le(v: float | None, lim: float) -> bool | None:
        return None if v is None else v <= lim

    def ge(v: float | None, lim: float) -> bool | None:
        return None if v is None else v >= lim

    out = [
        _t("wall-time ratio cascade/exhaustive (median)", f"<= {TARGET_RATIO}", s["median_wall_ratio"],
           le(s["median_wall_ratio"], TARGET_RATIO)),
        _t("slide-category agreement cascade vs exhaustive", f">= {TARGET_AGREEMENT}", s["category_agreement"],
           ge(s["category_agreement"], TARGET_AGREEMENT)),
        _t("V/VI recall relative to exhaustive (pooled)", f">= {TARGET_RECALL}", s["vvi_recall_vs_exhaustive"],
           ge(s["vvi_recall_vs_exhaustive"], TARGET_RECALL),
           "" if s["vvi_recall_vs_exhaustive"] is not None else "no truth V/VI group recalled by exhaustive"),
    ]
    ca, ea = s["cascade"]["category_accuracy"], s["exhaustive"]["category_accuracy"]
    out.append(_t("cascade accuracy vs truth >= exhaustive's", "cascade >= exhaustive",
                  None if ca is None else f"{ca:.3f} vs {ea:.3f}", None if ca is None else ca >= ea))
    S = record["slides"]
    big = bool(S) and all(tuple(r.get("size_mm") or ()) == BIG_SLIDE_MM for r in S)
    cores = record["machine"]["cores_usable"]
    wall, peak = s["cascade"]["median_wall_s"], s["cascade_peak_rss_mb"]
    note = "" if big else "applies to 20 x 20 mm slides; this run's slides are smaller"
    if cores != 2:
        note = (note + "; " if note else "") + f"measured on {cores} cores, target is for 2"
    out.append(_t("cascade seconds on a 20x20 mm slide, 2 cores (median)", f"<= {TARGET_SECONDS:g} s", wall,
                  le(wall, TARGET_SECONDS) if big and cores == 2 else None, note))
    out.append(_t("cascade peak memory (fresh process)", f"<= {TARGET_PEAK_MB:g} MB", peak,
                  le(peak, TARGET_PEAK_MB) if big else None, note if not big else ""))
    gp = s["cascade"].get("gate_pass_rate")
    out.append(_t("in-domain slides passing QC and the domain gate", f">= {TARGET_GATE_PASS}", gp, ge(gp, TARGET_GATE_PASS)))
    out.append(_t("cascade time / its floor (median)", f"<= {TARGET_FLOOR:g}", s["median_cascade_over_floor"],
                  le(s["median_cascade_over_floor"], TARGET_FLOOR)))
    return out
