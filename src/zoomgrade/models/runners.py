"""Inference runners: numpy uint8 images in, probabilities out; batched, ``torch.inference_mode``,
channels_last, CUDA when available.

Engine choice (measured, see docs/models.md): on CPU both stages run in ONNX Runtime when the card
names an export shipped beside the weights (stage 1's export has dynamic height and width), else in
eager torch with batch norm folded into the convolutions; on CUDA always torch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from ..errors import ModelCardError
from ..labels import TBSRTC, LabelSet
from .blocks import fold_batchnorm
from .card import ModelCard, load_model, paths_for
from .hashes import pinned, verify_file

if TYPE_CHECKING:
    from .stage1 import Stage1Net

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_batch(images: np.ndarray) -> np.ndarray:
    """(H,W,3) -> (1,H,W,3); anything but (N,H,W,3) is refused."""
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected (N,H,W,3) RGB images, got shape {images.shape}")
    return images


def to_array(images: np.ndarray, card: ModelCard) -> np.ndarray:
    """(N,H,W,3) or (H,W,3) uint8 -> normalised float32 (N,3,H,W), C-contiguous.

    In place on one float32 copy, then one layout copy: the same float32 operations as
    ``(v / 255 - mean) / std`` on a tensor, so the values are bit-identical. Measured on stage-2 batches
    (32 x 128 px): 2.7 ms against 5.5 ms for a per-channel lookup table, which had
    replaced torch's chain of passes (3-4.5x slower than the table)."""
    images = _as_batch(images)
    x = images.astype(np.float32)
    x /= np.float32(255.0)
    x -= np.asarray(card.normalisation["mean"], np.float32)
    x /= np.asarray(card.normalisation["std"], np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_input(images: np.ndarray, card: ModelCard, device: torch.device) -> torch.Tensor:
    """(N,H,W,3) or (H,W,3) uint8 -> normalised float (N,3,H,W), channels_last, on ``device``."""
    if device.type == "cpu":
        return torch.from_numpy(to_array(images, card)).contiguous(memory_format=torch.channels_last)
    # an accelerator: send the uint8 pixels (a quarter of the bytes) and normalise there
    x = torch.from_numpy(np.ascontiguousarray(_as_batch(images))).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(card.normalisation["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.normalisation["std"], device=device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def _inference_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """An eval-mode copy with batch norm folded into the convolutions, channels_last, on ``device``.
    A copy, so a model still being trained (validation runs through a runner) is left untouched."""
    m = fold_batchnorm(copy.deepcopy(model).to(device).eval())
    return m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format


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


def _ort_engine(card: ModelCard, device: torch.device, engine: str, weights_path: str | Path | None):
    """The ONNX Runtime model for ``card`` when ``engine`` allows it and it can be used, else None."""
    if engine not in ("auto", "torch", "onnxruntime"):
        raise ValueError(f"unknown engine {engine!r}")
    onnx_name = card.engine.get("onnx") if card.engine else None
    ort_model = None
    if engine != "torch" and device.type == "cpu" and onnx_name and weights_path is not None:
        from .onnx_engine import OrtModel, import_ort

        onnx_path = Path(weights_path).with_name(onnx_name)
        if onnx_path.exists() and import_ort() is not None:
            verify_file(onnx_path, card)  # what runs on the CPU is the export the card pins
            ort_model = OrtModel(onnx_path, weights_path, card.engine["weights_sha256"])
    if engine == "onnxruntime" and ort_model is None:
        raise ModelCardError(f"{card.name}: ONNX Runtime engine asked for but no usable export/onnxruntime")
    return ort_model


def _files(card: ModelCard, weights_path: str | Path | None, ort_model: Any) -> dict[str, str]:
    """{file name: SHA-256 the card pins} of the files this runner loaded (checked at load), for result.json."""
    if weights_path is None:
        return {}
    paths = [Path(weights_path)]
    if ort_model is not None:
        paths.append(Path(weights_path).with_name(card.engine["onnx"]))
    return {p.name: h for p in paths if (h := pinned(card, p))}


def _ort_input(ort_model, images: np.ndarray, card: ModelCard) -> np.ndarray:
    """What the export takes: the uint8 pixels as a batch, or (older exports) the normalised NCHW image."""
    return _as_batch(images) if ort_model.takes_pixels else to_array(images, card)


class Stage1Runner:
    """Whole slide at low power -> maps. Images larger than ``window`` on a side are processed in
    overlapping windows (each keeps its centre, ``overlap`` px of context is dropped at inner edges).

    ``engine`` as for ``Stage2Runner``. Inputs smaller than the attention grid (``attn_grid`` cells of
    16 px a side) run in torch: there the grid shrinks with the map, a branch the export (traced on a
    larger example) lacks."""

    def __init__(self, model: nn.Module, card: ModelCard, device: str | torch.device | None = None,
                 window: int = 2816, overlap: int = 256, engine: str = "auto",
                 weights_path: str | Path | None = None):
        self.device = pick_device(device)
        self.model = cast("Stage1Net", _inference_copy(model, self.device))  # its forward_features is used
        self.card = card
        self._ort = _ort_engine(card, self.device, engine, weights_path)
        self.engine = "onnxruntime" if self._ort is not None else "torch"
        self.files = _files(card, weights_path, self._ort)
        self.ort_min_side = 16 * int(card.hyperparameters.get("attn_grid", 16))
        self.stride = int(card.hyperparameters.get("out_stride", 2))
        self.multiple = 16
        self.window = max(self.multiple * 4, window // self.multiple * self.multiple)
        self.overlap = overlap // self.multiple * self.multiple

    def _run(self, img: np.ndarray, y0: int, x0: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        h, w = img.shape[:2]
        ph, pw = -h % self.multiple, -w % self.multiple
        if ph or pw:  # pad with white: that is what glass looks like
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), constant_values=255)
        f: np.ndarray | None = None
        if self._ort is not None and min(img.shape[:2]) >= self.ort_min_side:
            outs = self._ort.run(_ort_input(self._ort, img, self.card), np.array([y0, x0], np.float32))
            gt, ct, at = (torch.from_numpy(o) for o in outs[:3])
            f = outs[3] if len(outs) > 3 else None
        else:
            x = to_input(img, self.card, self.device)
            gt, ct, at, ft = self.model.forward_features(x, pos_offset=(float(y0), float(x0)))
            f = ft.float().cpu().numpy()
        oh, ow = -(-h // self.stride), -(-w // self.stride)
        g = torch.sigmoid(gt[0, 0, :oh, :ow]).float().cpu().numpy()
        c = torch.softmax(ct[0, :, :oh, :ow], dim=0).permute(1, 2, 0).float().cpu().numpy()
        if f is not None:
            fh, fw = -(-h // FEATURE_STRIDE), -(-w // FEATURE_STRIDE)
            f = np.ascontiguousarray(f[0, :, :fh, :fw].transpose(1, 2, 0), dtype=np.float32)
        return g, c, at[0, 0, :oh, :ow].float().cpu().numpy(), f

    @torch.inference_mode()
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
                    feats[slice(*r), slice(*q)] = f[r[0] - y0 // fs:r[1] - y0 // fs, q[0] - x0 // fs:q[1] - x0 // fs]
        return Stage1Maps(group, grade, att, s, features=feats)


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


class Stage2Runner:
    """Patches at high power -> class probabilities (N, n_fine + 1), "none" last.

    ``engine``: "torch", "onnxruntime", or "auto" (ONNX Runtime on CPU when the card names an export
    beside the weights, ``weights_path``, and onnxruntime is installed; torch otherwise)."""

    def __init__(self, model: nn.Module, card: ModelCard, device: str | torch.device | None = None,
                 batch_size: int = 64, engine: str = "auto", weights_path: str | Path | None = None):
        self.device = pick_device(device)
        self.model = _inference_copy(model, self.device)
        self.card = card
        self.batch_size = batch_size
        self._ort = _ort_engine(card, self.device, engine, weights_path)
        self.engine = "onnxruntime" if self._ort is not None else "torch"
        self.files = _files(card, weights_path, self._ort)

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
            batch = images[s:s + self.batch_size]
            if self._ort is not None:
                out[s:s + len(batch)] = _softmax(self._ort(_ort_input(self._ort, batch, self.card)))
            else:
                logits = self.model(to_input(batch, self.card, self.device)).float()
                out[s:s + len(batch)] = torch.softmax(logits, dim=1).cpu().numpy()
        return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax in numpy: on the ONNX path a torch call per batch costs more than the arithmetic,
    when torch's thread pool wakes beside ONNX Runtime's (2.6 ms a batch in a cascade profile)."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def combine_windows(probs: np.ndarray) -> np.ndarray:
    """Grade a region from several windows' stage-2 outputs (N, n_fine+1) by the cascade's one pooling
    rule (``cascade.fusion.pool_windows``): the fine-grade probabilities averaged with each window weighted
    by how sure it is that it shows cells (1 - p_none); (n_fine,) summing to 1 (uniform when every window
    is empty)."""
    from ..cascade.fusion import pool_windows

    return pool_windows(probs)


def load_runners(stage1_path: str | Path, stage2_path: str | Path, device: str | torch.device | None = None,
                 labels: LabelSet = TBSRTC) -> tuple[Stage1Runner, Stage2Runner]:
    dev = pick_device(device)
    m1, c1 = load_model(stage1_path, expect={"name": "stage1", "label_set": labels.name,
                                             "labels": list(labels.coarse)}, device=dev)
    m2, c2 = load_model(stage2_path, expect={"name": "stage2", "label_set": labels.name,
                                             "labels": [*labels.fine, "none"]}, device=dev)
    return (Stage1Runner(m1, c1, dev, weights_path=paths_for(stage1_path)[0]),
            Stage2Runner(m2, c2, dev, weights_path=paths_for(stage2_path)[0]))
