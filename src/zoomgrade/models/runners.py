"""Inference runners: numpy uint8 images in, probabilities out; batched, ``torch.inference_mode``,
channels_last, CUDA when available. Stage 1's runner is ``stage1_runner.py``; what both share (device,
input, engine choice) is ``inference.py``. Neither imports torch unless torch runs its model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..labels import TBSRTC, LabelSet
from .card import ModelCard, check_card, paths_for, read_card
from .inference import SavedModel, ort_input, pinned_files, runner_engines, softmax_rows, to_input
from .inference import to_array as to_array
from .pooling import pool_windows
from .stage1_runner import FEATURE_STRIDE as FEATURE_STRIDE
from .stage1_runner import Stage1Maps as Stage1Maps
from .stage1_runner import Stage1Runner

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class Stage2Runner:
    """Patches at high power -> class probabilities (N, n_fine + 1), "none" last.

    ``engine``: "torch", "onnxruntime", or "auto" (ONNX Runtime on CPU when the card names an export
    beside the weights, ``weights_path``, and onnxruntime is installed; torch otherwise). ``threads``: ONNX
    Runtime's intra-op threads (None: torch's setting where torch is loaded, else torch's default); torch
    runs with torch's own setting, which only an entry point sets."""

    def __init__(
        self,
        model: nn.Module | SavedModel,
        card: ModelCard,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        engine: str = "auto",
        weights_path: str | Path | None = None,
        threads: int | None = None,
    ):
        self.card = card
        self.batch_size = batch_size
        self._ort, self._torch = runner_engines(model, card, device, engine, weights_path, threads)
        self.engine = "onnxruntime" if self._ort is not None else "torch"
        self.files = pinned_files(card, weights_path, self._ort)

    @property
    def device(self) -> torch.device:
        return self._torch.device

    @property
    def model(self) -> nn.Module:
        return self._torch.get()

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

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
                out[s : s + len(batch)] = self._torch_probs(batch)
        return out

    def _torch_probs(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.model(to_input(batch, self.card, self.device)).float()
            return torch.softmax(logits, dim=1).cpu().numpy()


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
    threads: int | None = None,
) -> tuple[Stage1Runner, Stage2Runner]:
    """Both runners from saved weights, each card checked against ``labels``; the torch models are built
    only where torch runs them (``inference.SavedModel``)."""
    runners = []
    for path, name, classes in (
        (stage1_path, "stage1", list(labels.coarse)),
        (stage2_path, "stage2", [*labels.fine, "none"]),
    ):
        expect = {"name": name, "label_set": labels.name, "labels": classes}
        wpath, cpath = paths_for(path)
        card = read_card(cpath)
        check_card(card, expect, str(cpath))
        runners.append((SavedModel(wpath, expect), card, wpath))
    (m1, c1, w1), (m2, c2, w2) = runners
    return (
        Stage1Runner(m1, c1, device, weights_path=w1, threads=threads),
        Stage2Runner(m2, c2, device, weights_path=w2, threads=threads),
    )
