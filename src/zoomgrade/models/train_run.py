"""What both training loops do the same way around their own epochs: the run's config (epochs, the init
model's architecture), seeds, slides and split, the device, the init weights, resuming from the checkpoint a
killed run left, saving one after each epoch, and the end (the report written, the checkpoint removed)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..labels import LabelSet
from .card import ModelCard
from .checkpoint import TrainState, capture_rng, checkpoint_path, load_checkpoint, restore_rng, save_checkpoint
from .datasets import SlideItem, find_slides, named_items, split_items
from .finetune import adopt, init_record, load_init
from .inference import pick_device
from .train_common import TrainResult, resume_key, setup
from .train_report import write_report

#: (score, epoch, state_dict) of the best validation so far; (-1.0, -1, None) before the first
Best = tuple[float, int, dict[str, torch.Tensor] | None]


@dataclass
class TrainRun:
    stage: str  # "stage1" or "stage2": the model folder's file names
    cfg: Any  # the stage's training config, resolved
    init: str | Path | None  # model folder fine-tuned from, None for random weights
    start: nn.Module | None  # its model
    out_dir: str | Path
    t0: float
    gen: torch.Generator
    rng: np.random.Generator
    items: list[SlideItem]
    train_items: list[SlideItem]
    val_items: list[SlideItem]
    dev: torch.device

    @property
    def out(self) -> Path:
        return Path(self.out_dir) / f"{self.stage}.safetensors"

    @property
    def ckpt(self) -> Path:
        return checkpoint_path(self.out_dir, self.stage)

    def init_weights(self, model: nn.Module) -> nn.Module:
        """``model`` (built after the seeds were set) with the init model's weights when fine-tuning."""
        if self.start is not None:
            model.load_state_dict(self.start.state_dict())
        return model

    def normaliser(self, card: ModelCard) -> tuple[torch.Tensor, torch.Tensor]:
        """The card's per-channel mean and std as (1, 3, 1, 1) tensors on the device."""
        mean = torch.tensor(card.normalisation["mean"], device=self.dev).view(1, 3, 1, 1)
        std = torch.tensor(card.normalisation["std"], device=self.dev).view(1, 3, 1, 1)
        return mean, std

    def resume(
        self, modules: dict[str, Any], prog: Any
    ) -> tuple[int, list[dict[str, Any]], Best, dict[str, Any] | None]:
        """Load the checkpoint of a run with the same options into ``modules`` (name -> module, optimiser or
        scheduler; None: not used) and the random generators; (epochs done, history, best, initial row)."""
        st = load_checkpoint(self.ckpt, resume_key(self.cfg, self.init))
        for name, m in modules.items():
            if m is not None:
                m.load_state_dict(st.modules[name])
        restore_rng(st.rng, self.gen, self.rng)
        if prog:
            prog.console.print(f"{self.stage}: resumed after epoch {st.epoch} from {self.ckpt}", highlight=False)
        return st.epoch, st.history, st.best, st.initial

    def checkpoint(
        self,
        epoch: int,
        history: list[dict[str, Any]],
        best: Best,
        modules: dict[str, Any],
        initial: dict[str, Any] | None,
    ) -> None:
        """The state after ``epoch`` finished epochs, for ``resume``."""
        states = {name: m.state_dict() for name, m in modules.items() if m is not None}
        save_checkpoint(
            self.ckpt,
            TrainState(
                epoch, history, best, states, capture_rng(self.gen, self.rng), resume_key(self.cfg, self.init), initial
            ),
        )

    def init_record(self, why: str, initial: dict[str, Any] | None) -> dict[str, Any]:
        return init_record(Path(self.init) if self.init else None, why or "random initial weights", initial)

    def best_weights(self, best: Best) -> dict[str, torch.Tensor]:
        if best[2] is None:  # no epoch scored above -1 (e.g. validation scores NaN): nothing to keep
            raise RuntimeError(f"{self.stage} training: no epoch gave a usable validation score ({self.out_dir})")
        return best[2]

    def done(self, card: ModelCard, metrics: list[str], best: Best, history: list[dict[str, Any]]) -> TrainResult:
        """After the final save: the training report beside the model, the checkpoint removed (the model
        folder holds the result)."""
        write_report(self.out.parent, card, metrics)
        self.ckpt.unlink(missing_ok=True)
        return TrainResult(self.out, best[0], best[1], history, time.perf_counter() - self.t0)


def begin(
    stage: str,
    cfg: Any,
    epochs: int | None,
    init: str | Path | None,
    labels: LabelSet,
    net_cls: Any,
    slides_dir: str | Path,
    out_dir: str | Path,
    names: dict[str, str] | None,
    **net: Any,
) -> TrainRun:
    """Resolve the config (``epochs``; the init model's architecture and mpp; ``net`` overrides, e.g. the
    label set's class count), seed torch and numpy, find the slides (annotation names mapped by ``names``,
    models/names.py) and split them by slide."""
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    start = None
    if init is not None:
        start, init_card = load_init(Path(init), stage, labels)
        cfg = adopt(cfg, init_card, net_cls)
    cfg = replace(cfg, net=replace(cfg.net, **net))
    t0 = time.perf_counter()
    gen = setup(cfg.seed, cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    items = named_items(find_slides(slides_dir), labels, names)
    train_items, val_items = split_items(items, cfg.val_fraction)
    return TrainRun(
        stage, cfg, init, start, out_dir, t0, gen, rng, items, train_items, val_items, pick_device(cfg.device)
    )


def step(opt: torch.optim.Optimizer, sched: Any, loss: torch.Tensor) -> None:
    """One optimiser step on ``loss``, and the schedule's."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
