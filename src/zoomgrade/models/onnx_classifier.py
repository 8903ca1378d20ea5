"""Any ONNX image classifier as stage 2: the card says how it wants its pixels and what it outputs.

A card with ``architecture = "onnx"`` names an ONNX file beside it (``onnx_file``, default
``stage2.onnx``) and gives the input (``input_mpp``, ``input_size``, ``channel_order`` RGB|BGR, pixels
scaled to [0, ``pixel_max``], then ``normalisation`` mean/std per channel, ``layout`` NCHW|NHWC; a uint8
input takes the pixels as read, in the card's channel order and layout), its ``labels`` (the label set's
fine grades in any order, plus an optional ``"none"`` class for "no cells here") and its ``output``
(``logits`` or ``probabilities``). The runner gives what ``Stage2Runner`` gives: probabilities over the
label set's fine grades in its order, then P(none) (0 when the model has no such class). docs/your-own-model.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelCardError
from ..labels import LabelSet
from .card import ModelCard
from .hashes import verify_file
from .onnx_engine import OrtModel, import_ort

NONE = "none"


def check_onnx_card(card: ModelCard, labels: LabelSet, where: str) -> list[int]:
    """Refuse what the runner cannot use; return, per output column, its index in [*fine, "none"]."""

    def bad(msg: str) -> ModelCardError:
        return ModelCardError(f"{where}: {msg}")

    if not card.input_size or card.input_size < 8:
        raise bad(f"input_size must be the model's input side in px (>= 8), got {card.input_size!r}")
    if not card.input_mpp or card.input_mpp <= 0:
        raise bad(f"input_mpp must be > 0, got {card.input_mpp!r}")
    if card.channel_order not in ("RGB", "BGR"):
        raise bad(f"channel_order must be RGB or BGR, got {card.channel_order!r}")
    if card.layout not in ("NCHW", "NHWC"):
        raise bad(f"layout must be NCHW or NHWC, got {card.layout!r}")
    if card.output not in ("logits", "probabilities"):
        raise bad(f"output must be logits or probabilities, got {card.output!r}")
    if not card.pixel_max or card.pixel_max <= 0:
        raise bad(f"pixel_max must be > 0 (1 for pixels in [0, 1], 255 for [0, 255]), got {card.pixel_max!r}")
    norm = card.normalisation or {}
    if len(norm.get("mean", [])) != 3 or len(norm.get("std", [])) != 3 or min(norm["std"]) <= 0:
        raise bad("normalisation must give 3 means and 3 positive stds (one per channel, in channel_order)")
    want = [*labels.fine, NONE]
    classes = list(card.labels)
    dup = sorted({c for c in classes if classes.count(c) > 1})
    unknown = [c for c in classes if c not in want]
    missing = [g for g in labels.fine if g not in classes]
    if dup or unknown or missing:
        parts = [
            f"duplicated {dup}" if dup else "",
            f"not in the label set {unknown}" if unknown else "",
            f"missing {missing}" if missing else "",
        ]
        raise bad(
            f"classes {classes} do not match label set {labels.name}'s fine grades {list(labels.fine)} "
            f"(+ optional {NONE!r}): " + "; ".join(p for p in parts if p)
        )
    return [want.index(c) for c in classes]


class OnnxClassifierRunner:
    """Patches at high power -> (N, n_fine + 1) probabilities, "none" last, from an ONNX-only model."""

    engine = "onnxruntime"

    def __init__(
        self,
        onnx_path: str | Path,
        card: ModelCard,
        labels: LabelSet,
        batch_size: int = 64,
        where: str = "stage2",
        threads: int | None = None,
    ):
        self.card = card
        self.label_set = labels
        self.columns = check_onnx_card(card, labels, where)
        self.has_none = NONE in card.labels
        self.batch_size = batch_size
        p = Path(onnx_path)
        if not p.exists():
            raise ModelCardError(f"{p}: ONNX file named by {where} not found")
        if import_ort() is None:
            raise ModelCardError(f"{p}: onnxruntime is not installed")
        # what runs is the file the card pins (`python -m zoomgrade.models.hashes DIR` records it)
        self.files = {p.name: verify_file(p, card)}
        self.ort = OrtModel(p, p, None, threads)
        inp = self.ort.session.get_inputs()
        if len(inp) != 1:
            raise ModelCardError(f"{p}: the model takes {len(inp)} inputs; stage 2 gives one image batch")
        shape = list(inp[0].shape)
        if len(shape) != 4:
            raise ModelCardError(f"{p}: input {inp[0].name!r} has shape {shape}, expected 4 dimensions ({card.layout})")
        c_axis, hw = (1, (2, 3)) if card.layout == "NCHW" else (3, (1, 2))
        if isinstance(shape[c_axis], int) and shape[c_axis] != 3:
            raise ModelCardError(
                f"{p}: input shape {shape} has {shape[c_axis]} channels at the {card.layout} "
                "channel axis, expected 3 (is layout right?)"
            )
        for a in hw:
            if isinstance(shape[a], int) and shape[a] != card.input_size:
                raise ModelCardError(
                    f"{p}: input shape {shape} does not take {card.input_size} px (the card's input_size)"
                )
        self.fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.uint8_input = self.ort.takes_pixels

    @property
    def labels(self) -> list[str]:
        return [*self.label_set.fine, NONE]

    def _prepare(self, batch: np.ndarray) -> np.ndarray:
        x = batch[..., ::-1] if self.card.channel_order == "BGR" else batch
        if not self.uint8_input:
            x = x.astype(np.float32) * np.float32(self.card.pixel_max / 255.0)
            x -= np.asarray(self.card.normalisation["mean"], np.float32)
            x /= np.asarray(self.card.normalisation["std"], np.float32)
        if self.card.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's own output for one batch (its classes, its order)."""
        if self.fixed_batch and len(batch) != self.fixed_batch:
            outs = []
            for s in range(0, len(batch), self.fixed_batch):
                part = batch[s : s + self.fixed_batch]
                pad = self.fixed_batch - len(part)
                if pad:
                    part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
                outs.append(self.ort(self._prepare(part))[: self.fixed_batch - pad])
            return np.concatenate(outs)
        return self.ort(self._prepare(batch))

    def predict(self, images: np.ndarray) -> np.ndarray:
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (N,H,W,3) uint8 images, got {images.shape} {images.dtype}")
        n_out = len(self.label_set.fine) + 1
        out = np.zeros((len(images), n_out), np.float32)
        for s in range(0, len(images), self.batch_size):
            batch = images[s : s + self.batch_size]
            y = np.asarray(self.raw(batch), np.float64).reshape(len(batch), -1)
            if y.shape[1] != len(self.columns):
                raise ModelCardError(
                    f"{self.card.name}: the model gives {y.shape[1]} outputs per image, its card "
                    f"lists {len(self.columns)} classes"
                )
            if self.card.output == "logits":
                y = np.exp(y - y.max(axis=1, keepdims=True))
            y = np.clip(y, 0.0, None)
            y /= np.maximum(y.sum(axis=1, keepdims=True), 1e-12)
            out[s : s + len(batch)][:, self.columns] = y
        return out
