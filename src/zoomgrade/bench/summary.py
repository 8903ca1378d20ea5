"""What ``zoomgrade bench`` concludes from its slides: medians over slides, pooled truth scores, and the
targets each figure is held to (written by ``bench/report.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..labels import TBSRTC
from . import ablation as ab

# The targets of docs/benchmark.md: the cascade's promise (same answers in a few percent of exhaustive time),
# read early and cheaply (issue 23), and the domain gate's cost and pass rate (issue 18).
TARGET_RATIO = 0.02  # median wall-time ratio cascade / exhaustive
TARGET_RATIO_MAX = 0.035  # no slide over this ratio
TARGET_AGREEMENT = 0.98
TARGET_RECALL = 0.98  # V/VI group recall: of the cascade relative to exhaustive, and of the cascade vs truth
TARGET_WRONG = 1  # slides whose category is wrong vs truth, at most (11 of 12 right)
TARGET_SECONDS = 30.0  # a 20 x 20 mm slide on 2 CPU cores
TARGET_PEAK_MB = 1536.0
TARGET_FLOOR = 1.5
TARGET_WRITE_SHARE = 0.25  # writing the outputs, of the whole command (open + grade + write)
TARGET_GATE_PASS = 0.98  # in-domain held-out slides that pass QC and the domain gate
TARGET_GATE_SHARE = 0.05  # the gate's median seconds over the cascade's median wall
BIG_SLIDE_MM = (20.0, 20.0)


def median_of(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.median(v)) if v else None


def mean_of(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.mean(v)) if v else None


def summarise(
    record: dict[str, Any], scores: list[dict[str, ab.ModeScore]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
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
            "n_wrong": sum(not x["correct"] for x in m),
            # what a user waits for per slide, and the share of it spent writing the outputs
            "median_write_share": median_of(
                [x["seconds"].get("write", 0.0) / x["wall_with_write_s"] for x in m if x["wall_with_write_s"]]
            ),
        }
    modes = list(scores[0]) if scores else []
    pooled: dict[str, Any] = {}
    for mode in modes:
        pairs = [p for sc in scores for p in sc[mode].pairs]
        flags = [f for sc in scores for f in sc[mode].vvi_recalled]
        pooled[mode] = {
            "macro_f1": ab.macro_f1(pairs, TBSRTC.fine),
            "f1_per_class": ab.f1_per_class(pairs, TBSRTC.fine),
            "vvi_groups": len(flags),
            "vvi_recall": ab.recall(flags),
            # Truth groups of any grade some region overlaps: stage 1's recall as the result shows it. Stage 2
            # regrades what it is sent, so a stage 1 that misses groups can leave every slide answer unchanged.
            **ab.groups_found(pairs),
        }
    s["pooled"] = pooled
    if scores:
        c = [f for sc in scores for f in sc["cascade"].vvi_recalled]
        e = [f for sc in scores for f in sc["exhaustive"].vvi_recalled]
        s["vvi_recall_vs_exhaustive"] = ab.relative_recall(c, e)
    else:
        s["vvi_recall_vs_exhaustive"] = None
    s["ablation"] = {
        name: {
            "category_accuracy": mean_of([r["ablation"][name]["correct"] for r in S]),
            "pooled_macro_f1": pooled.get(f"lowpower_{name}", {}).get("macro_f1"),
        }
        for name in (S[0]["ablation"] if S else {})
    }
    s["median_wall_ratio"] = median_of([r["wall_ratio"] for r in S])
    s["max_wall_ratio"] = max((r["wall_ratio"] for r in S if r["wall_ratio"] is not None), default=None)
    # the V slides (truth V): which category each mode gave them
    s["v_slides"] = {
        mode: [r[mode]["category"] for r in S if r.get("truth_category") == "V"] for mode in ("cascade", "exhaustive")
    }
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
        _t(
            "wall-time ratio cascade/exhaustive (median)",
            f"<= {TARGET_RATIO}",
            s["median_wall_ratio"],
            le(s["median_wall_ratio"], TARGET_RATIO),
        ),
        _t(
            "wall-time ratio, slowest slide",
            f"<= {TARGET_RATIO_MAX}",
            s.get("max_wall_ratio"),
            le(s.get("max_wall_ratio"), TARGET_RATIO_MAX),
        ),
        _t(
            "slide-category agreement cascade vs exhaustive",
            f">= {TARGET_AGREEMENT}",
            s["category_agreement"],
            ge(s["category_agreement"], TARGET_AGREEMENT),
        ),
        _t(
            "V/VI recall relative to exhaustive (pooled)",
            f">= {TARGET_RECALL}",
            s["vvi_recall_vs_exhaustive"],
            ge(s["vvi_recall_vs_exhaustive"], TARGET_RECALL),
            "" if s["vvi_recall_vs_exhaustive"] is not None else "no truth V/VI group recalled by exhaustive",
        ),
    ]
    pooled_c = s.get("pooled", {}).get("cascade", {})
    rc = pooled_c.get("vvi_recall")
    out.append(
        _t(
            "V/VI group recall of the cascade vs truth (pooled)",
            f">= {TARGET_RECALL}",
            rc,
            ge(rc, TARGET_RECALL),
            f"{pooled_c.get('vvi_groups', 0)} truth V/VI groups",
        )
    )
    n = s.get("n_slides", 0)
    for mode in ("cascade", "exhaustive"):
        wrong = s[mode].get("n_wrong")
        out.append(
            _t(
                f"slides with a wrong category vs truth, {mode}",
                f"<= {TARGET_WRONG} of {n}",
                None if wrong is None else f"{wrong} of {n}",
                None if wrong is None else wrong <= TARGET_WRONG,
            )
        )
    vs = s.get("v_slides", {}).get("cascade", [])
    out.append(
        _t(
            "V slides called V by the cascade",
            "all",
            f"{sum(c == 'V' for c in vs)} of {len(vs)}",
            all(c == "V" for c in vs) if vs else None,
            "" if vs else "no V slide in this run",
        )
    )
    ca, ea = s["cascade"]["category_accuracy"], s["exhaustive"]["category_accuracy"]
    out.append(
        _t(
            "cascade accuracy vs truth >= exhaustive's",
            "cascade >= exhaustive",
            None if ca is None else f"{ca:.3f} vs {ea:.3f}",
            None if ca is None else ca >= ea,
        )
    )
    S = record["slides"]
    big = bool(S) and all(tuple(r.get("size_mm") or ()) == BIG_SLIDE_MM for r in S)
    cores = record["machine"]["cores_usable"]
    wall, peak = s["cascade"]["median_wall_s"], s["cascade_peak_rss_mb"]
    note = "" if big else "applies to 20 x 20 mm slides; this run's slides are smaller"
    if cores != 2:
        note = (note + "; " if note else "") + f"measured on {cores} cores, target is for 2"
    out.append(
        _t(
            "cascade seconds on a 20x20 mm slide, 2 cores (median)",
            f"<= {TARGET_SECONDS:g} s",
            wall,
            le(wall, TARGET_SECONDS) if big and cores == 2 else None,
            note,
        )
    )
    out.append(
        _t(
            "cascade peak memory (fresh process)",
            f"<= {TARGET_PEAK_MB:g} MB",
            peak,
            le(peak, TARGET_PEAK_MB) if big else None,
            note if not big else "",
        )
    )
    ws = s["cascade"].get("median_write_share")
    out.append(
        _t(
            "writing, share of the whole cascade command (median)",
            f"<= {TARGET_WRITE_SHARE}",
            ws,
            le(ws, TARGET_WRITE_SHARE),
            f"whole command (open + grade + write) median {s['cascade'].get('median_wall_with_write_s') or 0:.2f} s",
        )
    )
    gp = s["cascade"].get("gate_pass_rate")
    out.append(
        _t("in-domain slides passing QC and the domain gate", f">= {TARGET_GATE_PASS}", gp, ge(gp, TARGET_GATE_PASS))
    )
    gs, cw = s["cascade"].get("median_gate_s"), s["cascade"]["median_wall_s"]
    share = gs / cw if gs is not None and cw else None
    out.append(
        _t(
            "QC and domain gate, share of the cascade's wall time (medians)",
            f"<= {TARGET_GATE_SHARE}",
            share,
            le(share, TARGET_GATE_SHARE),
        )
    )
    out.append(
        _t(
            "cascade time / its floor (median)",
            f"<= {TARGET_FLOOR:g}",
            s["median_cascade_over_floor"],
            le(s["median_cascade_over_floor"], TARGET_FLOOR),
        )
    )
    return out
