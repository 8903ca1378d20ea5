"""Stage 1's runner: the whole slide at low power -> ``Stage1Maps`` (group probability, coarse grades,
attention, the attended features), in overlapping windows when the image is large."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from .card import ModelCard
from .inference import SavedModel, ort_input, pinned_files, runner_engines, to_input

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .stage1 import Stage1Net


@dataclass
class Stage1Maps:
    group: np.ndarray  # (h, w) probability of "cell group here"
    grade: np.ndarray  # (h, w, n_coarse) coarse-grade probabilities
    attention: np.ndarray  # (h, w) attention received (1.0 = uniform), for display
    stride: int  # map pixel = stride input pixels
    #: (h16, w16, C) the network's attended features, one per FEATURE_STRIDE input px (the domain gate's
    #: space); None from an ONNX export made before it had this output
    features: np.ndarray | None = None


#: input pixels per stage-1 feature cell
FEATURE_STRIDE = 16


class Stage1Runner:
    """Whole slide at low power -> maps. Images larger than ``window`` on a side are processed in
    overlapping windows (each keeps its centre, ``overlap`` px of context is dropped at inner edges).

    ``engine`` as for ``Stage2Runner``. Inputs smaller than the attention grid (``attn_grid`` cells of
    16 px a side) run in torch: there the grid shrinks with the map, a branch the export (traced on a
    larger example) lacks."""

    def __init__(
        self,
        model: nn.Module | SavedModel,
        card: ModelCard,
        device: str | torch.device | None = None,
        window: int = 2816,
        overlap: int = 256,
        engine: str = "auto",
        weights_path: str | Path | None = None,
        threads: int | None = None,
    ):
        self.card = card
        self._ort, self._torch = runner_engines(model, card, device, engine, weights_path, threads)
        self.engine = "onnxruntime" if self._ort is not None else "torch"
        self.files = pinned_files(card, weights_path, self._ort)
        self.ort_min_side = 16 * int(card.hyperparameters.get("attn_grid", 16))
        self.stride = int(card.hyperparameters.get("out_stride", 2))
        self.multiple = 16
        self.window = max(self.multiple * 4, window // self.multiple * self.multiple)
        self.overlap = overlap // self.multiple * self.multiple

    @property
    def device(self) -> torch.device:
        return self._torch.device

    @property
    def model(self) -> Stage1Net:
        return cast("Stage1Net", self._torch.get())  # its forward_features is used

    def _run(self, img: np.ndarray, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        h, w = img.shape[:2]
        ph, pw = -h % self.multiple, -w % self.multiple
        if ph or pw:  # pad with white: that is what glass looks like
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), constant_values=255)
        if self._ort is not None and min(img.shape[:2]) >= self.ort_min_side:
            outs = self._ort.run(ort_input(self._ort, img, self.card), np.array([y0, x0], np.float32))
            g, c, a = outs[:3]
            f = outs[3] if len(outs) > 3 else None
        else:
            g, c, a, f = self._run_torch(img, y0, x0)
        oh, ow = -(-h // self.stride), -(-w // self.stride)
        group = _sigmoid(g[0, 0, :oh, :ow])
        grade = _softmax0(c[0, :, :oh, :ow]).transpose(1, 2, 0)
        if f is not None:
            fh, fw = -(-h // FEATURE_STRIDE), -(-w // FEATURE_STRIDE)
            f = np.ascontiguousarray(f[0, :, :fh, :fw].transpose(1, 2, 0), dtype=np.float32)
        return group, grade, np.asarray(a[0, 0, :oh, :ow], np.float32), f

    def _run_torch(self, img: np.ndarray, y0: int, x0: int) -> tuple[np.ndarray, ...]:
        import torch

        with torch.inference_mode():
            x = to_input(img, self.card, self.device)
            outs = self.model.forward_features(x, pos_offset=(float(y0), float(x0)))
            return tuple(o.float().cpu().numpy() for o in outs)

    def predict(self, image: np.ndarray) -> Stage1Maps:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H,W,3) uint8 image, got {image.shape} {image.dtype}")
        H, W = image.shape[:2]
        s = self.stride
        if self.window >= H and self.window >= W:
            g, c, a, f = self._run(image, 0, 0)
            return Stage1Maps(g, c, a, stride=s, features=f)
        oh, ow = -(-H // s), -(-W // s)
        group = np.zeros((oh, ow), np.float32)
        grade = np.zeros((oh, ow, self.card.hyperparameters.get("n_coarse", 3)), np.float32)
        att = np.zeros((oh, ow), np.float32)
        feats: np.ndarray | None = None
        fs = FEATURE_STRIDE
        step = self.window - 2 * self.overlap
        for y0, y1 in _spans(H, self.window, step, self.multiple):
            for x0, x1 in _spans(W, self.window, step, self.multiple):
                g, c, a, f = self._run(image[y0:y1, x0:x1], y0, x0)
                # keep the centre: drop `overlap` px at each inner edge (they lack context)
                rows = _keep(y0, y1, H, self.overlap, s)
                cols = _keep(x0, x1, W, self.overlap, s)
                local = (slice(rows[0] - y0 // s, rows[1] - y0 // s), slice(cols[0] - x0 // s, cols[1] - x0 // s))
                dest = (slice(*rows), slice(*cols))
                group[dest], grade[dest], att[dest] = g[local], c[local], a[local]
                if f is not None:  # the same centres on the feature grid (window origins are multiples of 16)
                    if feats is None:
                        feats = np.zeros((-(-H // fs), -(-W // fs), f.shape[2]), np.float32)
                    r, q = _keep(y0, y1, H, self.overlap, fs), _keep(x0, x1, W, self.overlap, fs)
                    feats[slice(*r), slice(*q)] = f[
                        r[0] - y0 // fs : r[1] - y0 // fs, q[0] - x0 // fs : q[1] - x0 // fs
                    ]
        return Stage1Maps(group, grade, att, s, features=feats)


# In numpy, float32, as fast as torch's kernels; they differ from torch's in the last bit or two of float32
# (both within the exponential's rounding), so the maps match torch's to 2.4e-7 (tests/models/test_runners.py).
def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return np.asarray(1.0 / (1.0 + np.exp(-x)), np.float32)


def _softmax0(x: np.ndarray) -> np.ndarray:
    """Softmax over the first axis (the coarse grades), in float32."""
    x = np.asarray(x, np.float32)
    z = np.exp(x - x.max(axis=0, keepdims=True))
    return np.asarray(z / z.sum(axis=0, keepdims=True), np.float32)


def _spans(total: int, window: int, step: int, multiple: int) -> list[tuple[int, int]]:
    """Window [start, end) spans covering [0, total); starts on the ``multiple`` grid, so the last one
    may be up to ``multiple - 1`` px longer than ``window``."""
    if total <= window:
        return [(0, total)]
    starts = sorted(set(list(range(0, total - window, step)) + [(total - window) // multiple * multiple]))
    return [(st, total if st == starts[-1] else st + window) for st in starts]


def _keep(start: int, end: int, total: int, overlap: int, stride: int) -> tuple[int, int]:
    """Map rows/cols [a, b) a window spanning [start, end) contributes: its centre part."""
    a = start + (overlap if start > 0 else 0)
    b = end - (overlap if end < total else 0)
    return a // stride, -(-b // stride)
