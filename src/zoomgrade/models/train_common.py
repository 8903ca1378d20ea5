"""What both training loops share: threads and seeds, optimiser + schedule, progress bars, scores, results."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import random
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class TrainResult:
    weights: Path  # best checkpoint (.safetensors; its .json card beside)
    best_score: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, val scores
    seconds: float = 0.0


P = ParamSpec("P")
R = TypeVar("R")


def keeps_torch_state(train: Callable[P, R]) -> Callable[P, R]:
    """A function that seeds torch (and Python's ``random``, through a resumed checkpoint) or sets torch's
    threads for its own run (training, and the bench's research tools), leaving the caller's random states
    and thread count as they were: library code sets no process-wide state."""

    @functools.wraps(train)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        threads, py_state = torch.get_num_threads(), random.getstate()
        cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        try:
            with torch.random.fork_rng(devices=cuda):
                return train(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
            random.setstate(py_state)

    return run


def setup(seed: int, threads: int | None) -> torch.Generator:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def optimiser(
    model: torch.nn.Module, lr: float, weight_decay: float, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    # One-cycle: a short warm-up then cosine decay; converges well in few epochs from scratch.
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=max(total_steps, 1), pct_start=0.15, anneal_strategy="cos"
    )
    return opt, sched


@contextlib.contextmanager
def progress_bar(enabled: bool, console: Console | None = None) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    cols = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*cols, console=console or Console(stderr=True), transient=False) as prog:
        yield prog


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: list[int]) -> float:
    """Macro-averaged F1 over ``classes`` (a class absent from both truth and prediction is skipped)."""
    f1s = []
    for c in classes:
        tp = int(np.sum((y_true == c) & (y_pred == c)))
        fp = int(np.sum((y_true != c) & (y_pred == c)))
        fn = int(np.sum((y_true == c) & (y_pred != c)))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


def command_line() -> str:
    """The command that is running, as a user would type it (recorded in the model card)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("zoomgrade", "__main__.py")):
        argv[0] = "zoomgrade"
    return " ".join(shlex.quote(a) for a in argv)


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }


def record_training(
    card: Any,
    cfg: Any,
    items: list,
    train_items: list,
    val_items: list,
    history: list[dict[str, float]],
    best_epoch: int,
    t0: float,
    command: str | None,
    final: bool,
    **data: Any,
) -> None:
    """Write the card's training record and metrics, the same for both stages; ``data`` adds
    stage-specific facts about the training data (kept after the common ones). A history row marked
    ``swa_of_last_epochs`` is the weight average that was kept, not an epoch."""
    averaged = [h for h in history if "swa_of_last_epochs" in h]
    epochs = [h for h in history if "swa_of_last_epochs" not in h]
    card.training = {
        "data": {
            "slides_dir": str(Path(items[0].slide).parent),
            "n_slides": len(items),
            "train": [it.slide.name for it in train_items],
            "val": [it.slide.name for it in val_items],
            "seeds": sorted(it.seed for it in items if it.seed is not None),
            **data,
        },
        "command": command or command_line(),
        "config": {k: v for k, v in asdict(cfg).items() if k != "net"},
        "epochs_run": len(epochs),
        "best_epoch": best_epoch,
        "seconds": round(time.perf_counter() - t0, 1),
        "finished": final,
        "machine": machine(),
    }
    kept = averaged[-1] if averaged else (history[best_epoch - 1] if history else {})
    card.metrics = {"validation": kept, "history": history}


def resume_key(cfg: Any, init: str | Path | None) -> dict[str, Any]:
    """What a checkpoint must have been written with for a run to resume from it."""
    from .checkpoint import comparable_config

    return {**comparable_config(cfg), "init": str(init) if init else None}


def annotate_card(
    card: Any,
    items: list,
    train_items: list,
    val_items: list,
    *,
    init: dict[str, Any] | None = None,
    class_balance: dict[str, Any] | None = None,
) -> None:
    """Add to the card's training record (after ``record_training``): how the slides were split (and which
    were held out for testing), where the weights started, and how class imbalance was handled."""
    from .manifest import split_record

    card.training["data"].update(split_record(items, train_items, val_items))
    card.training["init"] = init
    card.training["class_balance"] = class_balance
