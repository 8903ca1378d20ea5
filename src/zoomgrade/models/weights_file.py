"""Model weights I/O in torch: safetensors (no pickle, nothing executes on load) beside a JSON card
(``card``). Building a model, saving it (with its ONNX export) and loading it back, checked against its card.

Kept apart from the card so that reading a card needs no torch (1.3 s to import on the project's machine):
the CPU engine runs the ONNX export, and the torch model is built only where torch runs it
(``inference.SavedModel``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_path
from ..errors import ModelCardError
from .card import ModelCard, check_card, paths_for, read_card, write_card
from .hashes import sha256, verify_weights
from .stage1 import Stage1Config, Stage1Net
from .stage2 import Stage2Config, Stage2Net

ARCHITECTURES: dict[str, tuple[type[nn.Module], Any]] = {
    "Stage1Net": (Stage1Net, Stage1Config),
    "Stage2Net": (Stage2Net, Stage2Config),
}


def build_model(card: ModelCard) -> nn.Module:
    cls, cfg_cls = ARCHITECTURES[card.architecture]
    try:
        cfg = cfg_cls.from_dict(card.hyperparameters)
    except TypeError as err:
        raise ModelCardError(f"card {card.name}: bad hyper-parameters ({err})") from None
    return cls(cfg)


def save_model(
    model: nn.Module, card: ModelCard, path: str | Path, *, export_example: torch.Tensor | None = None
) -> Path:
    """Write weights, then the ONNX export, then the card, each atomically; returns the .safetensors path.
    The card, written last, holds every file's SHA-256: a run killed in between leaves files that
    ``zoomgrade models check`` reports as not matching their card, never a half-written file.

    With ``export_example`` (an input batch), also export ``<name>.onnx`` for the ONNX Runtime engine and
    record it in ``card.engine``."""
    wpath, cpath = paths_for(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {"name": card.name, "version": card.version, "architecture": card.architecture}
    with atomic_path(wpath) as tmp_w:  # shipped weights must be readable by every user: 0644, not 0600
        save_file(state, str(tmp_w), metadata=meta)
    card.engine = {}
    if export_example is not None:
        from .onnx_engine import engine_record
        from .onnx_export import export_onnx

        was_training = model.training
        onnx = export_onnx(model, wpath.with_suffix(".onnx"), export_example, card.normalisation)
        if onnx is not None:
            card.engine = engine_record(onnx, wpath)
        model.train(was_training)
    card.files = {wpath.name: sha256(wpath)}
    if card.engine.get("onnx"):
        card.files[card.engine["onnx"]] = sha256(wpath.with_name(card.engine["onnx"]))
    write_card(card, cpath)
    return wpath


def add_onnx_export(path: str | Path, example: torch.Tensor) -> Path | None:
    """Export saved weights to ``<name>.onnx`` beside them and record it in their card (the weights are
    not rewritten); for weights saved before their architecture had an ONNX export. None if it failed."""
    from .onnx_engine import engine_record
    from .onnx_export import export_onnx

    model, card = load_model(path)
    wpath, cpath = paths_for(path)
    onnx = export_onnx(model, wpath.with_suffix(".onnx"), example, card.normalisation)
    if onnx is None:
        return None
    card.engine = engine_record(onnx, wpath)
    card.files = {**card.files, wpath.name: sha256(wpath), onnx.name: sha256(onnx)}
    write_card(card, cpath)
    return onnx


def load_model(
    path: str | Path, expect: dict[str, Any] | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelCard]:
    """Load weights + card, check the card against ``expect`` and the tensors against the architecture."""
    wpath, cpath = paths_for(path)
    card = read_card(path)
    check_card(card, expect, str(cpath))
    model = build_model(card)
    verify_weights(wpath, card)  # the bytes that will run are the ones the card describes
    try:
        state = load_file(str(wpath), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelCardError(f"{wpath}: unreadable safetensors file ({err})") from None
    ours = model.state_dict()
    missing = sorted(set(ours) - set(state))
    extra = sorted(set(state) - set(ours))
    bad = [k for k in ours if k in state and tuple(state[k].shape) != tuple(ours[k].shape)]
    if missing or extra or bad:
        detail = "; ".join(
            s
            for s in (
                f"missing {missing[:3]}" if missing else "",
                f"unexpected {extra[:3]}" if extra else "",
                f"shape mismatch {bad[:3]}" if bad else "",
            )
            if s
        )
        raise ModelCardError(f"{wpath}: weights do not match the card's {card.architecture} ({detail})")
    model.load_state_dict(state)
    return model.to(device).eval(), card
