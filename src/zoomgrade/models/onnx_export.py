"""Exporting a torch model to ONNX for the CPU engine (``onnx_engine``): torch's maintained dynamo exporter,
dynamic batch/height/width, the export taking uint8 pixels (``PixelInput``). Only saving a model needs this
(and torch); running the export does not.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_path


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
