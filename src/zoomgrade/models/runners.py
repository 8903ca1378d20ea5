"""Inference runners: numpy uint8 images in, probabilities out; batched, ``torch.inference_mode``,
channels_last, CUDA when available. Stage 1's runner is ``stage1_runner.py``; what both share (device,
input, engine choice) is ``inference.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..labels import TBSRTC, LabelSet
from .card import ModelCard, load_model, paths_for
from .inference import inference_copy, ort_engine, ort_input, pick_device, pinned_files, softmax_rows, to_input
from .inference import to_array as to_array
from .pooling import pool_windows
from .stage1_runner import FEATURE_STRIDE as FEATURE_STRIDE
from .stage1_runner import Stage1Maps as Stage1Maps
from .stage1_runner import Stage1Runner

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class Stage2Runner:
    """Patches at high power -> class probabilities (N, n_fine + 1), "none" last.

    ``engine``: "torch", "onnxruntime", or "auto" (ONNX Runtime on CPU when the card names an export
    beside the weights, ``weights_path``, and onnxruntime is installed; torch otherwise)."""

    def __init__(
        self,
        model: nn.Module,
        card: ModelCard,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        engine: str = "auto",
        weights_path: str | Path | None = None,
    ):
        self.device = pick_device(device)
        self.model = inference_copy(model, self.device)
        self.card = card
        self.batch_size = batch_size
        self._ort = ort_engine(card, self.device, engine, weights_path)
        self.engine = "onnxruntime" if self._ort is not None else "torch"
        self.files = pinned_files(card, weights_path, self._ort)

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

    @torch.inference_mode()
    def predict(self, images: np.ndarray) -> np.ndarray:
        if images.ndim == 3:
            images = images[None]
        if images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images, got {images.dtype}")
        out = np.zeros((len(images), len(self.card.labels)), np.float32)
        for s in range(0, len(images), self.batch_size):
            batch = images[s : s + self.batch_size]
            if self._ort is not None:
                out[s : s + len(batch)] = softmax_rows(self._ort(ort_input(self._ort, batch, self.card)))
            else:
                logits = self.model(to_input(batch, self.card, self.device)).float()
                out[s : s + len(batch)] = torch.softmax(logits, dim=1).cpu().numpy()
        return out


def combine_windows(probs: np.ndarray) -> np.ndarray:
    """Grade a region from several windows' stage-2 outputs (N, n_fine+1) by the cascade's one pooling
    rule (``models.pooling.pool_windows``): the fine-grade probabilities averaged with each window weighted
    by how sure it is that it shows cells (1 - p_none); (n_fine,) summing to 1 (uniform when every window
    is empty)."""
    return pool_windows(probs)


def load_runners(
    stage1_path: str | Path,
    stage2_path: str | Path,
    device: str | torch.device | None = None,
    labels: LabelSet = TBSRTC,
) -> tuple[Stage1Runner, Stage2Runner]:
    dev = pick_device(device)
    m1, c1 = load_model(
        stage1_path, expect={"name": "stage1", "label_set": labels.name, "labels": list(labels.coarse)}, device=dev
    )
    m2, c2 = load_model(
        stage2_path, expect={"name": "stage2", "label_set": labels.name, "labels": [*labels.fine, "none"]}, device=dev
    )
    return (
        Stage1Runner(m1, c1, dev, weights_path=paths_for(stage1_path)[0]),
        Stage2Runner(m2, c2, dev, weights_path=paths_for(stage2_path)[0]),
    )
