"""ONNX Runtime as the CPU engine for stage 2 (measured 3-4x faster than eager torch on this project's
2-core machine, see docs/models.md); torch stays the reference and the engine on CUDA.

The ONNX file is exported beside the weights when they are saved (``<name>.onnx``, torch's maintained
dynamo exporter, dynamic batch/height/width) and the card records the SHA-256 of the weights it was
exported from, so a stale export is refused rather than silently used.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import ModelCardError
from .hashes import sha256

#: onnxruntime writes a telemetry device id under ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ when it
#: is imported, unless this variable is set then. The entry points (CLI, batch workers) set it for their
#: process; ``import_ort`` sets it only around the import, for library callers, and restores it.
TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


@contextlib.contextmanager
def _telemetry_off() -> Iterator[None]:
    before = os.environ.get(TELEMETRY_ENV)
    os.environ[TELEMETRY_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TELEMETRY_ENV, None)
        else:
            os.environ[TELEMETRY_ENV] = before


def import_ort() -> Any | None:
    """onnxruntime, or None when it is not installed; imported with telemetry off (see TELEMETRY_ENV)."""
    with _telemetry_off():
        try:
            import onnxruntime
        except ImportError:
            return None
    return onnxruntime


@dataclass
class OnnxSpec:
    """What to export: the module, example inputs, names, and which dimensions stay dynamic."""

    module: nn.Module
    args: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_shapes: tuple[Any, ...]


def image_spec(model: nn.Module, example: torch.Tensor) -> OnnxSpec:
    """The usual case (stage 2): one NCHW batch in (batch, height and width dynamic), logits out."""
    dyn = torch.export.Dim.DYNAMIC
    return OnnxSpec(model, (example,), ["x"], ["logits"], ({0: dyn, 2: dyn, 3: dyn},))


class PixelInput(nn.Module):
    """The export's front end: uint8 (N, H, W, 3) pixels in, normalised in the graph as ``to_array`` does
    in numpy (``(v / 255 - mean) / std`` in float32), then the wrapped module (with a second input if the
    module takes one).

    Why: the runner then hands ONNX Runtime the slide's pixels as read, and the float copy and layout
    change happen in the engine's reused (already faulted-in) memory. In numpy, a whole-slide thumbnail's
    two 75 MB float copies took 0.09-0.47 s, on fresh pages the kernel may compact into huge pages
    first (docs/models.md)."""

    def __init__(self, module: nn.Module, mean: list[float], std: list[float]):
        super().__init__()
        self.module = module
        self.mean: torch.Tensor  # buffers, declared for the type checker
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor, extra: torch.Tensor | None = None):
        # one optional second input (stage 1's window offset), not *args: torch.export wants a fixed signature
        x = (pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0 - self.mean) / self.std
        return self.module(x) if extra is None else self.module(x, extra)


def pixel_spec(spec: OnnxSpec, normalisation: dict[str, list[float]]) -> OnnxSpec:
    """``spec`` with its first input (an NCHW float image) taken as uint8 NHWC pixels instead."""
    n, c, h, w = spec.args[0].shape
    first = {({0: 0, 2: 1, 3: 2}[k]): v for k, v in (spec.dynamic_shapes[0] or {}).items()}
    return OnnxSpec(
        PixelInput(spec.module, normalisation["mean"], normalisation["std"]),
        (torch.zeros(n, h, w, c, dtype=torch.uint8), *spec.args[1:]),
        ["pixels", *spec.input_names[1:]],
        spec.output_names,
        (first, *spec.dynamic_shapes[1:]),
    )


def export_onnx(
    model: nn.Module, path: str | Path, example: torch.Tensor, normalisation: dict[str, list[float]] | None = None
) -> Path | None:
    """Export ``model`` to ``path``: its own ``onnx_spec(example)`` if it has one (several inputs or
    outputs), else one NCHW float input and one output. With ``normalisation`` (the card's mean and
    std), the export takes uint8 NHWC pixels instead of the normalised image (``PixelInput``). None
    (with a warning) if the exporter or its dependencies (onnx, onnxscript) are missing or the export
    fails."""
    path = Path(path)
    model = model.eval().cpu().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    onnx_spec = getattr(model, "onnx_spec", None)  # models with several inputs or outputs describe them
    spec = onnx_spec(example.cpu()) if onnx_spec is not None else image_spec(model, example.cpu())
    if normalisation is not None:
        spec = pixel_spec(spec, normalisation)
    quiet = logging.getLogger("torch.onnx")  # it logs a line per missing torchvision op
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        # the exporter prints its steps on stdout; a training run's output should stay readable
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), atomic_path(path) as tmp:
            warnings.simplefilter("ignore")
            torch.onnx.export(
                spec.module,
                spec.args,
                str(tmp),
                dynamo=True,
                external_data=False,
                input_names=spec.input_names,
                output_names=spec.output_names,
                dynamic_shapes=spec.dynamic_shapes,
                verbose=False,
            )
    except Exception as err:
        warnings.warn(f"{path}: ONNX export skipped ({type(err).__name__}: {err})", stacklevel=2)
        return None
    finally:
        quiet.setLevel(level)
    return path


def engine_record(onnx_path: Path, weights_path: str | Path) -> dict[str, str]:
    """The card's ``engine`` entry for an export: its file name and the SHA-256 of the weights it came from
    (``OrtModel`` refuses an export whose weights changed)."""
    return {"onnx": Path(onnx_path).name, "weights_sha256": sha256(weights_path)}


class OrtModel:
    """An ONNX Runtime session that behaves like the torch model for the runner: NCHW float32 in, logits out."""

    def __init__(
        self, onnx_path: str | Path, weights_path: str | Path, expected_sha: str | None, threads: int | None = None
    ):
        ort = import_ort()
        if ort is None:
            raise ImportError("onnxruntime is not installed")
        # None: the ONNX file is the model itself (no torch weights it was exported from)
        if expected_sha is not None and sha256(weights_path) != expected_sha:
            raise ModelCardError(
                f"{onnx_path}: exported from other weights than {Path(weights_path).name}; "
                "delete it or re-save the model to re-export"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or torch.get_num_threads())
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # No busy-waiting between ops: on 2 cores ORT's spinning workers starve the cascade's reader
        # thread. Measured on a 4x4 mm cascade grade, 3 interleaved runs each: 4.79 s vs 5.11 s mean
        # wall (stage2_read 2.85 vs 3.15 s), more under CPU contention.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory pattern: ORT plans one block for a whole run from the first run's allocations and
        # builds it on the second. For stage 1 on a 20 x 20 mm slide that second run took 2.1 s instead of
        # 0.5-0.7 s and grew the process by about 850 MB, which a batch then kept (2.2 GB, over the 2 GB
        # target); without it each run took 0.5-0.7 s at 1.3 GB, and stage 2 was as fast.
        so.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelCardError(
                f"{onnx_path}: unreadable ONNX export ({first}); delete it or re-save the model to re-export"
            ) from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._dtypes = [np.uint8 if i.type == "tensor(uint8)" else np.float32 for i in self.session.get_inputs()]
        # newer exports take the pixels (PixelInput); older ones the normalised NCHW image: both still load
        self.takes_pixels = self._dtypes[0] == np.uint8

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The first output for one input (stage 2: logits)."""
        return self.run(x)[0]

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """All outputs for inputs given in the exported order (uint8 pixels or float32, as exported)."""
        feeds = {n: np.ascontiguousarray(a, t) for n, a, t in zip(self.inputs, arrays, self._dtypes)}
        return self.session.run(None, feeds)
