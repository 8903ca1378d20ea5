"""Pictures for reports (matplotlib's object API: no global pyplot state, no display needed), as PNG
bytes to embed as base64."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np


def png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def png_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def confusion_figure(matrix: np.ndarray, rows: list[str], cols: list[str], title: str):
    """A confusion matrix (rows truth, columns prediction) with its counts written in the cells."""
    import matplotlib.figure

    m = np.asarray(matrix)
    side = 1.2 + 0.55 * max(len(rows), len(cols))
    fig = matplotlib.figure.Figure(figsize=(side + 1, side), dpi=100)
    ax = fig.subplots()
    ax.imshow(m, cmap="Blues", vmin=0, vmax=max(int(m.max()), 1))
    ax.set_xticks(range(len(cols)), cols, rotation=45 if max(map(len, cols), default=0) > 4 else 0)
    ax.set_yticks(range(len(rows)), rows)
    ax.set(xlabel="predicted", ylabel="truth", title=title)
    hi = m.max() / 2 if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(int(m[i, j])), ha="center", va="center", color="white" if m[i, j] > hi else "black")
    fig.tight_layout()
    return fig


def reliability_figure(bins: list[dict[str, Any]], ece: float | None, title: str):
    """Reliability diagram: mean confidence against accuracy per confidence bin (bar width = bin)."""
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=(4.2, 4), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    full = [b for b in bins if b["count"]]
    if full:
        ax.bar(
            [b["lo"] for b in full],
            [b["accuracy"] for b in full],
            width=[b["hi"] - b["lo"] for b in full],
            align="edge",
            alpha=0.6,
            edgecolor="black",
            label="accuracy in bin",
        )
        ax.plot(
            [b["confidence"] for b in full], [b["accuracy"] for b in full], "o", color="C1", label="mean confidence"
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence",
        ylabel="accuracy",
        title=title + (f" (ECE {ece:.3f})" if ece is not None else ""),
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
