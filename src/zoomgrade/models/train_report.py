"""The training report written beside the model: ``<stage>.report.html`` (self-contained: curves and
per-class figures as embedded PNG) and ``<stage>.curves.png``, from the model card's history."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from .figures import confusion_figure, png_base64, png_bytes


def curves_figure(history: list[dict[str, Any]], score_keys: list[str], initial: dict[str, Any] | None):
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=(8, 3.2), dpi=100)
    ax1, ax2 = fig.subplots(1, 2)
    rows = [h for h in history if h.get("loss") is not None]
    ax1.plot([h["epoch"] for h in rows], [h["loss"] for h in rows], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    for k in score_keys:
        pts = ([(0, initial[k])] if initial and k in initial else []) + [(h["epoch"], h[k]) for h in history if k in h]
        if pts:
            ax2.plot(*zip(*pts), marker="o", label=k)
    ax2.set(xlabel="epoch", ylabel="validation", title="validation scores", ylim=(0, 1.02))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def per_class(confusion: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class from a confusion matrix (rows truth)."""
    out = []
    for i, n in enumerate(names):
        tp, pred, true = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        p = tp / pred if pred else None
        r = tp / true if true else None
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        out.append({"class": n, "precision": p, "recall": r, "f1": f1, "support": int(true)})
    return out


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))


def write_report(out_dir: str | Path, card: Any, score_keys: list[str]) -> Path:
    """Write the report of ``card`` (a saved stage's card) into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    hist = card.metrics.get("history", [])
    init = (card.training.get("init") or {}).get("validation_before_training")
    fig = curves_figure(hist, score_keys, init)
    curves = png_bytes(fig)
    atomic_write_bytes(out / f"{card.name}.curves.png", curves)
    kept = card.metrics.get("validation", {})
    conf = kept.get("confusion") or kept.get("coarse_confusion")
    names = kept.get("confusion_labels") or kept.get("coarse_labels") or []
    parts = [
        f"<h1>{html.escape(card.name)}: training report</h1>",
        f"<p>{html.escape(card.description)}</p>",
        (
            f"<p>Command: <code>{html.escape(str(card.training.get('command')))}</code><br>"
            f"Epochs run: {card.training.get('epochs_run')}, kept: epoch {card.training.get('best_epoch')}, "
            f"{card.training.get('seconds')} s; finished: {card.training.get('finished')}<br>"
            f"Initial weights: {html.escape(str((card.training.get('init') or {}).get('how', 'random')))}<br>"
            f"Class imbalance: {html.escape(str((card.training.get('class_balance') or {}).get('method', '-')))}</p>"
        ),
        f'<img alt="loss and validation curves" src="data:image/png;base64,{png_base64(curves)}">',
    ]
    if conf:
        c = np.asarray(conf)
        pic = png_bytes(confusion_figure(c, names, names, "validation confusion (kept weights)"))
        rows = "".join(
            f"<tr><td>{html.escape(r['class'])}</td><td>{_fmt(r['precision'])}</td><td>{_fmt(r['recall'])}"
            f"</td><td>{_fmt(r['f1'])}</td><td>{r['support']}</td></tr>"
            for r in per_class(c, names)
        )
        parts += [
            "<h2>Per class (validation, kept weights)</h2>",
            (
                "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
                f"{rows}</table>"
            ),
            f'<img alt="confusion matrix" src="data:image/png;base64,{png_base64(pic)}">',
        ]
    cols = ["epoch", "loss", *score_keys]
    body = "".join("<tr>" + "".join(f"<td>{_fmt(h.get(k))}</td>" for k in cols) + "</tr>" for h in hist)
    parts += ["<h2>History</h2><table><tr>" + "".join(f"<th>{k}</th>" for k in cols) + f"</tr>{body}</table>"]
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(card.name)} training report</title><style>body{{font-family:sans-serif;max-width:60em}}"
        "td,th{padding:2px 8px;text-align:right}</style></head><body>" + "\n".join(parts) + "</body></html>"
    )
    path = out / f"{card.name}.report.html"
    return atomic_write_text(path, doc)
