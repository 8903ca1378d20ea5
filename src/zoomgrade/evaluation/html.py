"""eval.html: one self-contained page (pictures embedded as base64 PNG) from eval.json's record."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text
from ..models.figures import confusion_figure, png_base64, png_bytes, reliability_figure


def _img(fig: Any, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64(png_bytes(fig))}">'


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))


def _ci(v: Any, ci: dict[str, Any]) -> str:
    if v is None:
        return "-"
    if ci.get("lo") is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{ci['lo']:.3f}, {ci['hi']:.3f}]"


def _how(ci: dict[str, Any]) -> str:
    """The interval's method, with k of n for a proportion."""
    if "k" in ci:
        return html.escape(f"{ci['method']}, {ci['k']} of {ci['n']}")
    return html.escape(ci.get("method", ""))


def _table(header: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _mode(mode: str, d: dict[str, Any]) -> list[str]:
    h, ci, reg, sl = d["headline"], d["intervals"], d["region"], d["slide"]
    shown = {**h, "nondiagnostic_rate": sl["nondiagnostic_rate"]}
    parts = [
        f"<h2>{mode}</h2>",
        "<h3>Headline (95% intervals)</h3>",
        _table(
            ["figure", "value [95% interval]", "interval"],
            [[k.replace("_", " "), _ci(v, ci.get(k, {})), _how(ci.get(k, {}))] for k, v in shown.items()],
        ),
    ]
    parts += [
        "<h3>Region level</h3>",
        (
            f"<p>{reg['groups']} annotated groups, {reg['found']} found by a region (detection recall "
            f"{_f(reg['detection_recall'])}), {reg['false_alarm_regions']} regions over no annotation. "
            f"Quadratic weighted kappa over the found groups: {_f(reg['qwk'])}; macro-F1: {_f(reg['macro_f1'])}.</p>"
        ),
        _table(
            ["grade", "precision", "recall", "F1", "support"],
            [
                [g, _f(v["precision"]), _f(v["recall"]), _f(v["f1"]), str(v["support"])]
                for g, v in reg["per_grade"].items()
            ],
        ),
        _img(
            confusion_figure(
                np.asarray(reg["confusion"]),
                reg["classes"],
                reg["classes"],
                f"{mode}: regions (none = missed / false alarm)",
            ),
            "region confusion matrix",
        ),
    ]
    cal = reg["calibration"]
    parts += [
        "<h3>Calibration</h3>",
        (
            f"<p>Expected calibration error {_f(cal['ece'])} over {cal['n']} found groups ({len(cal['bins'])} bins "
            "of the region's top-grade confidence).</p>"
        ),
        _img(reliability_figure(cal["bins"], cal["ece"], f"{mode}: reliability"), "reliability diagram"),
    ]
    parts += [
        "<h3>Slide level</h3>",
        f"<p>{sl['n']} slides with a known category; accuracy {_f(sl['accuracy'])}; nondiagnostic rate "
        f"{_f(sl['nondiagnostic_rate'])} of {sl['n_graded']} graded"
        + (
            f" (truth {_f(sl.get('truth_nondiagnostic_rate'))})"
            if sl.get("truth_nondiagnostic_rate") is not None
            else ""
        )
        + f"; malignant-side sensitivity {_f(sl['malignant_sensitivity'])}.</p>",
        _table(
            ["category", "slides", "sensitivity (exact)", "sensitivity (this or more severe)"],
            [[c, str(v["n"]), _f(v["exact"]), _f(v["at_or_above"])] for c, v in sl["sensitivity"].items()],
        ),
    ]
    if sl["confusion"] is not None:
        parts.append(
            _img(
                confusion_figure(
                    np.asarray(sl["confusion"]), sl["categories"], sl["categories"], f"{mode}: slide categories"
                ),
                "slide confusion matrix",
            )
        )
    return parts


def write_html(doc: dict[str, Any], path: Path) -> Path:
    parts = [
        f"<h1>Evaluation: {html.escape(doc['source'])}</h1>",
        (
            f"<p>Models: {html.escape(doc['models']['folder'])}; modes: {', '.join(doc['modes'])}; "
            f"{doc['n_slides']} slides; label set {html.escape(doc['label_set'])}; zoomgrade {doc['zoomgrade']}; "
            f"{doc['seconds']} s on {html.escape(doc['machine'])}.</p>"
        ),
    ]
    if doc["warnings"]:
        parts.append(
            "<div class='warn'><b>Limits of these figures</b><ul>"
            + "".join(f"<li>{html.escape(w)}</li>" for w in doc["warnings"])
            + "</ul></div>"
        )
    for mode, d in doc["per_mode"].items():
        parts += _mode(mode, d)
    a = doc.get("agreement")
    if a:
        parts += [
            "<h2>Cascade against exhaustive</h2>",
            _table(
                ["figure", "value"],
                [
                    ["slides", str(a["n"])],
                    ["category agreement", _f(a["category_agreement"])],
                    ["region agreement (mean)", _f(a["region_agreement_mean"])],
                    ["cascade seconds (median)", _f(a["seconds_cascade_median"])],
                    ["exhaustive seconds (median)", _f(a["seconds_exhaustive_median"])],
                    ["time ratio cascade / exhaustive (median)", _f(a["time_ratio_median"])],
                ],
            ),
        ]
    rows = []
    for s in doc["slides"]:
        cells = [html.escape(s["slide"]), _f(s["truth"])]
        for mode in doc["modes"]:
            m = s["modes"].get(mode)
            cells.append(
                f"<a href='{html.escape(m['report'])}'>{html.escape(m['category'] or 'withheld')}</a> "
                f"({m['seconds']:.1f} s)"
                if m
                else html.escape(s.get("error") or "-")
            )
        rows.append(cells)
    parts += ["<h2>Slides</h2>", _table(["slide", "truth", *doc["modes"]], rows)]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>zoomgrade evaluation</title><style>"
        "body{font-family:sans-serif;max-width:64em;margin:auto}td,th{padding:2px 8px;text-align:left}"
        ".warn{background:#fff3cd;padding:4px 12px}img{max-width:100%}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
    return atomic_write_text(path, page)
