"""``--init``: start training from a model folder's weights (fine-tuning) instead of random ones.

A model folder is laid out like the package's ``weights/`` (``stage1.safetensors`` + ``stage1.json``,
``stage2.*``). The CLI's default is the shipped folder when its label set is the one being trained;
fine-tuning keeps the folder's architecture, input mpp and patch size (the weights only fit those).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import ModelCardError
from ..labels import LabelSet
from .card import ModelCard, read_card
from .weights_file import load_model

#: what ``--init`` takes besides a folder
SHIPPED, SCRATCH = "shipped", "none"


def shipped_dir() -> Path:
    from .runners import WEIGHTS_DIR

    return Path(WEIGHTS_DIR)


def stage_labels(stage: str, labels: LabelSet) -> list[str]:
    return list(labels.coarse) if stage == "stage1" else [*labels.fine, "none"]


def resolve_init(init: str | Path | None, stage: str, labels: LabelSet) -> tuple[Path | None, str]:
    """(folder to start from or None, why in words). ``init`` None: the shipped folder when its card has
    this label set, else random weights; "none": random weights; "shipped" or a folder: that folder,
    refused (ModelCardError) when its card is for other labels."""
    if init is not None and str(init) == SCRATCH:
        return None, "random initial weights (--init none)"
    folder = shipped_dir() if init is None or str(init) == SHIPPED else Path(init)
    if not (folder / f"{stage}.json").exists():
        if init is None:
            return None, f"random initial weights (no shipped {stage} model)"
        raise ModelCardError(
            f"{folder}: no {stage}.json model card: --init takes a model folder (laid out like the shipped weights/)"
        )
    card = read_card(folder / f"{stage}.json")
    if card.label_set != labels.name or list(card.labels) != stage_labels(stage, labels):
        if init is None:
            return None, f"random initial weights (the shipped {stage} is for label set {card.label_set})"
        raise ModelCardError(
            f"{folder / (stage + '.json')}: model is for label set {card.label_set} "
            f"{card.labels}, training {labels.name} {stage_labels(stage, labels)}"
        )
    shipped = folder.resolve() == shipped_dir().resolve()
    return folder, "fine-tuning from the shipped models" if shipped else f"fine-tuning from {folder}"


def load_init(folder: Path, stage: str, labels: LabelSet) -> tuple[nn.Module, ModelCard]:
    """The folder's model (checked against its card and the label set) and its card."""
    return load_model(
        folder / f"{stage}.safetensors",
        expect={"name": stage, "label_set": labels.name, "labels": stage_labels(stage, labels)},
    )


def adopt(cfg: Any, card: ModelCard, net_cls: Any) -> Any:
    """The training config with the init model's architecture, input mpp and (stage 2) patch size."""
    over: dict[str, Any] = {"mpp": card.input_mpp, "net": net_cls.from_dict(card.hyperparameters)}
    if hasattr(cfg, "size") and card.input_size:
        over["size"] = int(card.input_size)
    return replace(cfg, **over)


def init_record(folder: Path | None, why: str, initial: dict[str, Any] | None) -> dict[str, Any]:
    """The card's ``training.init``: where the weights started and their validation scores there."""
    return {"from": str(folder) if folder else None, "how": why, "validation_before_training": initial}
