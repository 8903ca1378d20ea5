"""The two networks (plain torch), their model cards and safetensors I/O, inference runners and training.

Import from the submodules (``zoomgrade.models.runners`` etc.); the names below are re-exported lazily so
that importing ``zoomgrade.models`` does not import torch until a model is used.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "Stage1Net": "stage1",
    "Stage1Config": "stage1",
    "Stage2Net": "stage2",
    "Stage2Config": "stage2",
    "ModelCard": "card",
    "load_model": "card",
    "save_model": "card",
    "Stage1Maps": "runners",
    "Stage1Runner": "runners",
    "Stage2Runner": "runners",
    "load_default_models": "folder",
    "combine_windows": "runners",
    "load_models": "folder",
    "load_model_folder": "folder",
}

__all__ = sorted(_LAZY)  # noqa: PLE0605 - built from the lazy table so the two cannot drift


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'zoomgrade.models' has no attribute {name!r}")
