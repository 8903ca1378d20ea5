"""Training checkpoints a killed run resumes from: everything that decides what happens next.

After each epoch the loop writes ``OUT/checkpoints/<stage>.last.pt`` (temp file, fsync, rename: a kill
at any moment leaves the previous checkpoint or the new one, never half of one). It holds the model,
optimiser, schedule and weight-average states, the best weights so far, the history, and the random
states that order the data and the augmentations (torch's global generator, the loop's torch
generator, its numpy generator, Python's ``random``). Resuming restores all of them, so the resumed run
draws the same batches as an uninterrupted one; on CPU with the same thread count (or torch's
deterministic mode) it ends with the same weights.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import ZoomgradeError

FORMAT = 1


def checkpoint_path(out_dir: str | Path, stage: str) -> Path:
    return Path(out_dir) / "checkpoints" / f"{stage}.last.pt"


@dataclass
class TrainState:
    """The loop's state after ``epoch`` finished epochs (``best`` = (score, epoch, state_dict))."""

    epoch: int
    history: list[dict[str, Any]]
    best: tuple[float, int, dict[str, torch.Tensor] | None]
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> state_dict
    rng: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the training config, to refuse a changed one
    initial: dict[str, Any] | None = None  # validation row of the initial weights (fine-tuning)


def capture_rng(gen: torch.Generator, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "torch_gen": gen.get_state(),
        "numpy": rng.bit_generator.state,
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any], gen: torch.Generator, rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["torch_gen"])
    rng.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


def save_checkpoint(path: Path, state: TrainState) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **{f: getattr(state, f) for f in state.__dataclass_fields__}}, tmp)


def load_checkpoint(path: Path, config: dict[str, Any]) -> TrainState:
    """The state saved at ``path``; refuses one written by a different training config (a resumed run
    must do what the interrupted one would have done)."""
    if not path.exists():
        raise ZoomgradeError(f"{path}: no checkpoint to resume from (start without --resume)")
    try:
        d = torch.load(path, map_location="cpu", weights_only=False)  # our own file, written above
    except Exception as err:  # any unreadable file gets the same one-line answer
        raise ZoomgradeError(f"{path}: unreadable checkpoint ({err.__class__.__name__})") from None
    if d.get("format") != FORMAT:
        raise ZoomgradeError(f"{path}: checkpoint format {d.get('format')}, this zoomgrade reads {FORMAT}")
    diff = sorted(k for k in set(config) | set(d["config"]) if config.get(k) != d["config"].get(k))
    if diff:
        detail = ", ".join(f"{k}: {d['config'].get(k)!r} -> {config.get(k)!r}" for k in diff[:4])
        raise ZoomgradeError(
            f"{path}: the checkpoint was written with other training options ({detail}); resume with the same options"
        )
    d.pop("format")
    d["best"] = tuple(d["best"])
    return TrainState(**d)


def comparable_config(cfg: Any) -> dict[str, Any]:
    """The config as plain values, without what may change between a run and its resumption."""
    d = asdict(cfg)
    d.pop("threads", None)
    d.pop("device", None)
    return _plain(d)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
