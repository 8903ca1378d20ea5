"""Train the stage-2 network from slides + QuPath GeoJSON (``zoomgrade train stage2``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._version import __version__
from ..labels import TBSRTC, LabelSet, label_set_to_dict
from .augment import augment_images, random_dihedral
from .card import ModelCard, declared_mpp_range
from .datasets import stage2_crops
from .runners import Stage2Runner
from .stage2 import PLAIN, Stage2Config, Stage2Net
from .train_common import (
    TrainResult,
    annotate_card,
    keeps_torch_state,
    macro_f1,
    optimiser,
    progress_bar,
    record_training,
)
from .train_run import Best, TrainRun, begin, step
from .weights_file import save_model


@dataclass
class Stage2TrainConfig:
    mpp: float = 0.5
    size: int = 128  # px at mpp: 64 um, a few dozen nuclei; regions are covered by several windows
    epochs: int = 16
    batch_size: int = 32
    per_group: int = 4  # crops per annotated group
    none_per_slide: int = 40  # "none" crops per slide (with 20: too few busy backgrounds)
    # A crop is labelled with its group's grade when >= min_cover of it is group (or it holds half the
    # group); centres fall up to edge_margin sides beyond the group's bounds. The exhaustive lattice cuts
    # groups anywhere, and its tiles under 15% group were over-graded three to five times as often as the
    # rest (validation slides 60102, 60108), but training on them (0.05 / 0.4, stage 2 v10) made more
    # edge and background tiles vote and more regions over-graded (8 -> 11, 11 -> 16 on those slides),
    # and moved the V/VI line (validation VI groups called V: 107 -> 295 of 406), so 0.15 / 0.25 stay.
    min_cover: float = 0.15
    edge_margin: float = 0.25
    lr: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    val_fraction: float = 0.2
    # Focus blur: at 0.5 um/px a 1.5 px sigma erases nuclear grooves (the V/VI clue, sub-micron), which
    # left the v6 model calling most VI groups V; so stage 2 blurs less often and less far than stage 1.
    blur_p: float = 0.15
    blur_max_sigma: float = 0.8
    # Slide-to-slide stain variation: each crop's optical density scaled by U(1 -/+ od_scale) and each RGB
    # channel's by 1 + N(0, od_channel_sigma) (models/augment.py, od_channel_jitter), as wide as the
    # generator's own palettes (strength U(0.8, 1.2), hue about 8% of the nuclear OD per channel). Off in
    # the shipped recipe: with 0.2 / 0.08, V/VI validation groups went from 38/200 V called VI and 21/80 VI
    # called V to 40/200 and 13/80, and validation slides from 11/12 to 10/12 right (docs/models.md).
    od_scale: float = 0.0
    od_channel_sigma: float = 0.0
    # Average the weights of the last N epochs (SWA) and keep that, instead of the epoch with the best
    # validation score: with 8 validation slides the score swung by 0.3 between epochs (v8 run), so the
    # best epoch was a lucky one (validation 0.906, held-out 0.755). 0 = keep the best epoch.
    swa_epochs: int = 0
    seed: int = 0
    threads: int | None = None
    device: str | None = None  # None: CUDA if available, else CPU
    export_onnx: bool = True  # also write stage2.onnx (the CPU engine) with the final checkpoint
    net: Stage2Config = PLAIN  # frozen, so safe as a shared default


def make_card(cfg: Stage2TrainConfig, labels: LabelSet) -> ModelCard:
    return ModelCard(
        name="stage2",
        version=__version__,
        architecture="Stage2Net",
        hyperparameters=replace(cfg.net, n_classes=len(labels.fine) + 1).to_dict(),
        input_mpp=cfg.mpp,
        input_size=cfg.size,
        label_set=labels.name,
        labels=[*labels.fine, "none"],
        mpp_range=declared_mpp_range(cfg.mpp),
        label_definition=label_set_to_dict(labels),
        description="High-power feature-pyramid patch classifier: fine grade, or 'none' (no follicular cells).",
    )


def _collect(items, cfg: Stage2TrainConfig, labels: LabelSet, rng, prog, task, what: str):
    xs, ys = [], []
    if prog:
        prog.reset(task, total=len(items), description=f"stage2 {what} crops")
    for it in items:
        x, y = stage2_crops(
            it, rng, cfg.mpp, cfg.size, labels, cfg.per_group, cfg.none_per_slide, cfg.min_cover, cfg.edge_margin
        )
        xs.append(x)
        ys.append(y)
        if prog:
            prog.advance(task)
    return np.concatenate(xs), np.concatenate(ys)


def _to_float(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255


@keeps_torch_state
def train_stage2(
    slides_dir: str | Path,
    out_dir: str | Path,
    epochs: int | None = None,
    *,
    config: Stage2TrainConfig | None = None,
    labels: LabelSet = TBSRTC,
    progress: bool = True,
    command: str | None = None,
    names: dict[str, str] | None = None,
    init: str | Path | None = None,
    init_why: str = "",
    resume: bool = False,
) -> TrainResult:
    """``init``: a model folder to fine-tune from (its architecture, mpp and patch size are kept), None
    for random weights. ``resume``: go on from the checkpoint a killed run of the same options left in
    ``out_dir``; it ends as the uninterrupted run would have (``models.checkpoint``)."""
    n_cls = len(labels.fine) + 1
    run = begin(
        "stage2",
        config or Stage2TrainConfig(),
        epochs,
        init,
        labels,
        Stage2Config,
        slides_dir,
        out_dir,
        names,
        n_classes=n_cls,
    )
    cfg, train_items, val_items, dev, rng = run.cfg, run.train_items, run.val_items, run.dev, run.rng
    card = make_card(cfg, labels)
    model = run.init_weights(Stage2Net(cfg.net))
    model = model.to(dev, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    mean, std = run.normaliser(card)
    history: list[dict[str, float]] = []
    best: Best = (-1.0, -1, None)
    with progress_bar(progress) as prog:
        task = prog.add_task("stage2", total=1, info="") if prog else None
        xtr, ytr = _collect(train_items, cfg, labels, rng, prog, task, "train")
        xva, yva = _collect(val_items, cfg, labels, rng, prog, task, "val")
        counts = np.bincount(ytr, minlength=n_cls)
        # Balanced sampling: each class drawn equally often whatever the slides' grade mix.
        p = (1.0 / np.maximum(counts, 1))[ytr]
        p /= p.sum()
        steps = max(1, len(ytr) // cfg.batch_size)
        opt, sched = optimiser(model, cfg.lr, cfg.weight_decay, cfg.epochs * steps)
        swa = torch.optim.swa_utils.AveragedModel(model) if cfg.swa_epochs else None
        first, initial = 0, None
        modules = {"model": model, "opt": opt, "sched": sched, "swa": swa}
        if resume:
            first, history, best, initial = run.resume(modules, prog)
        elif run.start is not None:
            model.eval()
            initial = {"epoch": 0, "loss": None, **_scores(model, card, dev, xva, yva, labels)}
            if prog:
                prog.console.print(
                    f"stage2 epoch 0 (initial weights): macro_f1 {initial['macro_f1']:.3f}", highlight=False
                )
        record = {
            "init": run.init_record(init_why, initial),
            "class_balance": {
                "method": "balanced sampling: each class drawn equally often (probability 1 / class count per crop)",
                "train_crops_per_class": dict(zip(card.labels, (int(c) for c in counts))),
            },
        }
        for ep in range(first, cfg.epochs):
            model.train()
            if prog and task is not None:
                prog.reset(task, total=steps, description=f"stage2 epoch {ep + 1}/{cfg.epochs}")
            losses = []
            for _ in range(steps):
                idx = rng.choice(len(ytr), size=cfg.batch_size, p=p)
                (x,) = random_dihedral(_to_float(xtr[idx]).to(dev), generator=run.gen)
                x = augment_images(
                    x,
                    generator=run.gen,
                    blur_p=cfg.blur_p,
                    blur_max_sigma=cfg.blur_max_sigma,
                    od_scale=cfg.od_scale,
                    od_channel_sigma=cfg.od_channel_sigma,
                )
                x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
                loss = F.cross_entropy(
                    model(x), torch.from_numpy(ytr[idx]).to(dev), label_smoothing=cfg.label_smoothing
                )
                step(opt, sched, loss)
                losses.append(loss.item())
                if prog and task is not None:
                    prog.update(task, advance=1, info=f"loss {np.mean(losses[-10:]):.3f}")
            model.eval()
            row = {"epoch": ep + 1, "loss": float(np.mean(losses)), **_scores(model, card, dev, xva, yva, labels)}
            history.append(row)
            if prog:
                prog.console.print(
                    f"stage2 epoch {ep + 1}: loss {row['loss']:.4f}  macro_f1 {row['macro_f1']:.3f}  "
                    f"fine_macro_f1 {row['fine_macro_f1']:.3f}  none_recall {row['none_recall']:.3f}",
                    highlight=False,
                )
            if swa is not None and ep >= cfg.epochs - cfg.swa_epochs:  # swa exists iff cfg.swa_epochs
                swa.update_parameters(model)
            elif row["macro_f1"] > best[0] and not cfg.swa_epochs:
                best = (row["macro_f1"], ep + 1, copy.deepcopy(model.state_dict()))
                _save(model, card, run, counts, history, best, command, False, record)
            run.checkpoint(ep + 1, history, best, modules, initial)
        if swa is not None:
            row = _finish_swa(swa, xtr, ytr, p, cfg, mean, std, dev, rng, xva, yva, card, labels)
            history.append(row)
            best = (row["macro_f1"], cfg.epochs, copy.deepcopy(swa.module.state_dict()))
    model.load_state_dict(run.best_weights(best))
    _save(model, card, run, counts, history, best, command, True, record)
    return run.done(card, ["macro_f1", "fine_macro_f1", "none_recall"], best, history)


def _scores(model, card, dev, xva, yva, labels: LabelSet) -> dict[str, Any]:
    """Validation scores of ``model`` (in eval mode) on the validation crops."""
    n_cls = len(labels.fine) + 1
    # a fresh runner each time: runners keep a folded copy of the weights they were given
    pred = Stage2Runner(model, card, device=dev, batch_size=64).predict(xva).argmax(1)
    fine = yva < len(labels.fine)
    conf = np.zeros((n_cls, n_cls), int)
    np.add.at(conf, (yva, pred), 1)
    return {
        "confusion": conf.tolist(),
        "confusion_labels": list(card.labels),
        "macro_f1": macro_f1(yva, pred, list(range(n_cls))),
        "fine_macro_f1": macro_f1(yva[fine], pred[fine], list(range(len(labels.fine)))),
        "none_recall": float(np.mean(pred[~fine] == n_cls - 1)) if (~fine).any() else 0.0,
        "accuracy": float(np.mean(pred == yva)),
    }


def _finish_swa(swa, xtr, ytr, p, cfg, mean, std, dev, rng, xva, yva, card, labels) -> dict[str, float]:
    """Batch-norm statistics for the averaged weights (one pass over balanced, unaugmented training
    crops), then its validation row (marked ``swa_of_last_epochs``)."""
    batches = []
    for _ in range(max(1, min(200, len(ytr) // cfg.batch_size))):
        idx = rng.choice(len(ytr), size=cfg.batch_size, p=p)
        batches.append(((_to_float(xtr[idx]).to(dev) - mean) / std).contiguous(memory_format=torch.channels_last))
    torch.optim.swa_utils.update_bn(batches, swa.module)
    swa.module.eval()
    return {
        "epoch": cfg.epochs,
        "swa_of_last_epochs": cfg.swa_epochs,
        "loss": None,
        **_scores(swa.module, card, dev, xva, yva, labels),
    }


def _save(model, card, run: TrainRun, counts, history, best, command, final, record):
    record_training(
        card,
        run.cfg,
        run.items,
        run.train_items,
        run.val_items,
        history,
        best[1],
        run.t0,
        command,
        final,
        train_crops_per_class=dict(zip(card.labels, (int(c) for c in counts))),
    )
    annotate_card(card, run.items, run.train_items, run.val_items, **record)
    # the final checkpoint is also exported to ONNX for the CPU engine (torch stays the reference)
    example = torch.zeros(2, 3, run.cfg.size, run.cfg.size) if final and run.cfg.export_onnx else None
    save_model(model, card, run.out, export_example=example)
