"""``zoomgrade models check DIR``: load a model folder, run a small batch through each stage, and say what
was found, or exactly what is wrong (``ModelCardError``, one line)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelCardError
from .folder import load_model_folder

CHECK_PATCHES = 4


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A pale smear-like test image: glass with darker blobs (uint8 RGB); what the model makes of it is
    not judged, only that its output has the right shape and is a probability."""
    img = np.full((h, w, 3), 235, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(max(2, h * w // 4000)):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(3, max(4, min(h, w) // 6))
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(60, 160, 3)
    return img


def _check_probs(p: np.ndarray, n: int, what: str, where: str) -> None:
    if p.shape[-1] != n:
        raise ModelCardError(f"{where}: {what} gives {p.shape[-1]} classes, the label set needs {n}")
    if not np.all(np.isfinite(p)):
        raise ModelCardError(f"{where}: {what} gives non-finite outputs on a test batch")
    s = p.reshape(-1, n).sum(axis=1)
    if np.abs(s - 1).max() > 1e-3:
        raise ModelCardError(f"{where}: {what}'s probabilities sum to {s.min():.3g}-{s.max():.3g}, not 1")


def check_model_folder(folder: str | Path, seed: int = 0) -> list[str]:
    """Lines describing the folder's models and label set after a test batch through each stage."""
    d = Path(folder)
    s1, s2 = load_model_folder(d, "cpu", need_stage1=False)
    ls = s2.label_set
    lines = [
        f"model folder {d}",
        f"label set {ls.name}: {ls.title or '(no title)'}",
        f"  source: {ls.source or '(none given)'}",
        "  categories: "
        + ", ".join(f"{c} {ls.category_names[c]} (ROM {ls.risk_of_malignancy[c]:.0%})" for c in ls.categories),
        "  coarse: " + "; ".join(f"{c} = {', '.join(ls.coarse_to_fine[c])}" for c in ls.coarse),
    ]
    rng = np.random.default_rng(seed)
    if s1 is None:
        lines.append("stage 1: none (stage2 only: the exhaustive baseline can run, the cascade cannot)")
    else:
        c1 = s1.card
        maps = s1.predict(_image(rng, 256, 256))
        _check_probs(maps.grade, len(ls.coarse), "stage 1", str(getattr(s1, "source", "stage1")))
        lines.append(
            f"stage 1: {c1.architecture} {c1.version} at {c1.input_mpp:g} um/px, engine {s1.engine}, "
            f"classes {', '.join(c1.labels)}; test image 256 x 256 px -> maps {maps.group.shape[0]} x "
            f"{maps.group.shape[1]}: OK"
        )
    c2 = s2.card
    size = int(c2.input_size or 0)
    if size <= 0:
        raise ModelCardError(f"{getattr(s2, 'source', 'stage2')}: stage 2 needs input_size (its patch side in px)")
    batch = np.stack([_image(rng, size, size) for _ in range(CHECK_PATCHES)])
    if c2.architecture == "onnx" and c2.output == "probabilities":  # the runner renormalises: check the raw rows
        raw = np.asarray(s2.raw(batch), np.float64).reshape(len(batch), -1)
        sums = raw.sum(axis=1)
        if np.abs(sums - 1).max() > 1e-3 or raw.min() < -1e-6:
            raise ModelCardError(
                f"{getattr(s2, 'source', 'stage2')}: output says probabilities but the rows sum "
                f"to {sums.min():.3g}-{sums.max():.3g} (min {raw.min():.3g}); if they are "
                'logits, set "output": "logits"'
            )
    probs = s2.predict(batch)
    _check_probs(probs, len(ls.fine) + 1, "stage 2", str(getattr(s2, "source", "stage2")))
    extra = ""
    if c2.architecture == "onnx":
        none = "with" if "none" in c2.labels else "WITHOUT (every tissue patch counts as cells)"
        extra = (
            f"; input {c2.channel_order} {c2.layout}, pixels to [0, {c2.pixel_max:g}], mean "
            f"{c2.normalisation['mean']} std {c2.normalisation['std']}, output {c2.output}, {none} a 'none' class"
        )
    lines.append(
        f"stage 2: {c2.architecture} {c2.version} at {c2.input_mpp:g} um/px, {size} px patches, engine "
        f"{s2.engine}, classes {', '.join(c2.labels)}{extra}; test batch of {CHECK_PATCHES} -> "
        f"{probs.shape[0]} x {probs.shape[1]} probabilities: OK"
    )
    if s1 is not None:
        lines.append(_early_stop_line(s1, s2, d))
    return lines


def _early_stop_line(s1: Any, s2: Any, folder: Path) -> str:
    from .card import early_stop_record

    if early_stop_record(s1, s2):
        return f"early stop: measured for these models on {s1.card.early_stop.get('measured_on', '(not said)')}"
    why = "measured with another stage 2" if s1.card.early_stop else "none in the stage-1 card"
    return (
        f"early stop: {why}, so its bounds use each slide's own regions alone (fit them on 20 or more slides: "
        f"zoomgrade models fit-stop {shlex.quote(str(folder))} --slides SLIDES)"
    )
