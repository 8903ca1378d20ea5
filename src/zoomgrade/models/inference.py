"""What both runners share: the device, uint8 pixels -> the network's normalised input, an eval-mode copy
of a model, and the choice between ONNX Runtime and torch with the files the card pins.

Engine choice (measured, see docs/models.md): on CPU both stages run in ONNX Runtime when the card
names an export shipped beside the weights (stage 1's export has dynamic height and width), else in
eager torch with batch norm folded into the convolutions; on CUDA always torch.

Torch is imported only where it runs a model: choosing the device and grading on ONNX Runtime need none of
it, and importing it took 1.3 s of a one-slide ``zoomgrade grade`` (docs/benchmark.md).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelCardError
from .card import ModelCard
from .hashes import pinned, verify_file, verify_weights

if TYPE_CHECKING:
    import torch
    from torch import nn


def pick_device(device: str | torch.device | None = None) -> torch.device:
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_type(device: str | torch.device | None = None) -> str:
    """The device type ("cpu", "cuda", ...) of ``device`` (None: CUDA when available), without importing
    torch where the installed torch is a CPU-only build (its version says ``+cpu``): it cannot see a GPU."""
    if device is not None:
        return str(getattr(device, "type", None) or str(device).split(":")[0])
    if "torch" not in sys.modules:
        try:
            if importlib.metadata.version("torch").endswith("+cpu"):
                return "cpu"
        except importlib.metadata.PackageNotFoundError:
            pass
    return pick_device(None).type


@dataclass(frozen=True)
class SavedModel:
    """Weights on disk (``weights_file.load_model``'s ``path`` and ``expect``), built into a torch module
    only when torch is to run them."""

    path: Path
    expect: dict[str, Any] | None = None

    def load(self, device: torch.device) -> nn.Module:
        from .weights_file import load_model

        return load_model(self.path, expect=self.expect, device=device)[0]


class TorchModel:
    """A runner's torch model: an eval-mode copy of a module, made at once; or, from a ``SavedModel``, built
    at once when torch is the engine (``now``), else the first time torch is asked to run it (stage 1 on an
    image smaller than its export takes, docs/models.md). ``runner_engines`` checks the file first."""

    def __init__(self, model: nn.Module | SavedModel, device: str | torch.device | None, now: bool) -> None:
        self._source, self._device = model, device
        self._model: nn.Module | None = None
        if now or not isinstance(model, SavedModel):  # a module being trained is copied as it is now
            self.get()

    @property
    def device(self) -> torch.device:
        return pick_device(self._device)

    def get(self) -> nn.Module:
        if self._model is None:
            dev = self.device
            src = self._source.load(dev) if isinstance(self._source, SavedModel) else self._source
            self._model = inference_copy(src, dev)
        return self._model


def runner_engines(
    model: nn.Module | SavedModel,
    card: ModelCard,
    device: str | torch.device | None,
    engine: str,
    weights_path: str | Path | None,
    threads: int | None,
) -> tuple[Any, TorchModel]:
    """What a runner runs ``card`` with: ONNX Runtime where ``engine`` allows it and the export can be used
    (``ort_engine``, else None), and the torch model, built now where torch is the engine. Saved weights are
    checked against their card first, as when torch loads them."""
    if isinstance(model, SavedModel):
        verify_weights(model.path, card)
    ort = ort_engine(card, device_type(device), engine, weights_path, threads)
    return ort, TorchModel(model, device, now=ort is None)


def _as_batch(images: np.ndarray) -> np.ndarray:
    """(H,W,3) -> (1,H,W,3); anything but (N,H,W,3) is refused."""
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected (N,H,W,3) RGB images, got shape {images.shape}")
    return images


def runs_in_torch(*runners: Any) -> bool:
    """Whether any of ``runners`` runs its model in torch (then torch's thread setting applies to it)."""
    return any(getattr(r, "engine", None) == "torch" for r in runners if r is not None)


def set_torch_threads(n: int | None) -> None:
    """Give torch ``n`` intra-op threads for the calling thread's process (None or 0: leave them), importing it:
    for the entry points whose models run in torch (``train``; ``grade`` and a batch worker's setup and tasks
    through ``set_threads_where_torch_runs``: with OpenMP builds the setting is per calling thread). Library
    code uses ``torch_threads_for``."""
    if n:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def set_threads_where_torch_runs(runners: tuple[Any, ...], n: int | None) -> None:
    """``set_torch_threads(n)`` where one of ``runners`` runs its model in torch: the entry points that grade
    (``grade``, a batch worker's setup and tasks). ONNX Runtime took its threads at load, so a process grading
    on it leaves torch unimported."""
    if runs_in_torch(*runners):
        set_torch_threads(n)


@contextlib.contextmanager
def torch_threads_for(runners: tuple[Any, ...], threads: int | None) -> Iterator[None]:
    """torch's intra-op threads at ``threads`` inside the block, restored after; set, and torch imported,
    only where one of ``runners`` runs its model in torch (ONNX Runtime took its threads at load)."""
    if not threads or not runs_in_torch(*runners):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    import torch

    if device.type == "cpu":
        return torch.from_numpy(to_array(images, card)).contiguous(memory_format=torch.channels_last)
    # an accelerator: send the uint8 pixels (a quarter of the bytes) and normalise there
    x = torch.from_numpy(np.ascontiguousarray(_as_batch(images))).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(card.normalisation["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(card.normalisation["std"], device=device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def inference_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """An eval-mode copy with batch norm folded into the convolutions, channels_last, on ``device``.
    A copy, so a model still being trained (validation runs through a runner) is left untouched."""
    import copy

    import torch

    from .blocks import fold_batchnorm

    m = fold_batchnorm(copy.deepcopy(model).to(device).eval())
    return m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format


def ort_engine(card: ModelCard, device: str, engine: str, weights_path: str | Path | None, threads: int | None = None):
    """The ONNX Runtime model for ``card`` on ``device`` (a ``device_type``) with ``threads`` intra-op
    threads (None: ``onnx_engine.default_threads``) when ``engine`` allows it and it can be used, else None."""
    if engine not in ("auto", "torch", "onnxruntime"):
        raise ValueError(f"unknown engine {engine!r}")
    onnx_name = card.engine.get("onnx") if card.engine else None
    ort_model = None
    if engine != "torch" and device == "cpu" and onnx_name and weights_path is not None:
        from .onnx_engine import OrtModel, import_ort

        onnx_path = Path(weights_path).with_name(onnx_name)
        if onnx_path.exists() and import_ort() is not None:
            verify_file(onnx_path, card)  # what runs on the CPU is the export the card pins
            ort_model = OrtModel(onnx_path, weights_path, card.engine["weights_sha256"], threads)
    if engine == "onnxruntime" and ort_model is None:
        raise ModelCardError(f"{card.name}: ONNX Runtime engine asked for but no usable export/onnxruntime")
    return ort_model


def pinned_files(card: ModelCard, weights_path: str | Path | None, ort_model: Any) -> dict[str, str]:
    """{file name: SHA-256 the card pins} of the files this runner loaded (checked at load), for result.json."""
    if weights_path is None:
        return {}
    paths = [Path(weights_path)]
    if ort_model is not None:
        paths.append(Path(weights_path).with_name(card.engine["onnx"]))
    return {p.name: h for p in paths if (h := pinned(card, p))}


def ort_input(ort_model, images: np.ndarray, card: ModelCard) -> np.ndarray:
    """What the export takes: the uint8 pixels as a batch, or (older exports) the normalised NCHW image."""
    return _as_batch(images) if ort_model.takes_pixels else to_array(images, card)


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row softmax in numpy: on the ONNX path a torch call per batch costs more than the arithmetic,
    when torch's thread pool wakes beside ONNX Runtime's (2.6 ms a batch in a cascade profile)."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
