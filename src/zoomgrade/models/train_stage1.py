"""Train the stage-1 network from slides + QuPath GeoJSON (``zoomgrade train stage1``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._version import __version__
from ..labels import TBSRTC, LabelSet, label_set_to_dict
from .augment import augment_images, random_dihedral
from .card import ModelCard, declared_mpp_range
from .datasets import Stage1Slide, stage1_slide
from .domain_fit import card_domain
from .evaluate import stage1_scores
from .runners import Stage1Runner
from .stage1 import Stage1Config, Stage1Net
from .train_common import TrainResult, annotate_card, keeps_torch_state, optimiser, progress_bar, record_training
from .train_run import Best, TrainRun, begin, step
from .weights_file import save_model


@dataclass
class Stage1TrainConfig:
    mpp: float = 8.0
    epochs: int = 30
    steps_per_epoch: int = 40
    batch_size: int = 8
    crop: int = 192  # px at mpp (multiple of 16): 1.5 mm at 8 um/px, several groups and their context
    lr: float = 3e-3
    weight_decay: float = 1e-4
    pos_weight: float = 3.0  # groups are a small part of a slide; missing one costs more than a false alarm
    target_gain: float = 4.0  # map pixel target = min(1, gain x group coverage): small groups must fire
    grade_loss_weight: float = 1.0
    # Weigh the coarse-grade loss by (inverse class frequency) ** grade_balance, frequency = group area in the
    # training slides. Unweighted (0), benign (two thirds of the area) won: held-out found groups, first
    # shipped weights, rows truth benign/suspicious/malignant: [[145, 1, 0], [21, 19, 1], [19, 5, 3]]. Fully
    # weighted (1) over-called malignancy on validation slides: [[63, 6, 27], [3, 17, 7], [4, 4, 17]].
    grade_balance: float = 0.5
    # Validate and keep an exponential moving average of the weights: with batches of 8 crops the raw
    # weights' validation scores swung by 0.2 from one epoch to the next, so the "best" epoch
    # was a lucky one; the average is smooth. 0 = no average.
    ema_decay: float = 0.99
    val_fraction: float = 0.2
    seed: int = 0
    threads: int | None = None
    device: str | None = None  # None: CUDA if available, else CPU
    export_onnx: bool = True  # also write stage1.onnx (the CPU engine) with the final checkpoint
    net: Stage1Config = field(default_factory=Stage1Config)


def _batch(slides: list[Stage1Slide], cfg: Stage1TrainConfig, rng: np.random.Generator):
    """Random square crops (origin on the 16-px grid) of random slides, with their targets."""
    s = cfg.net.out_stride
    c, m = cfg.crop, cfg.crop // s
    imgs: list[np.ndarray] = []
    grp: list[np.ndarray] = []
    grd: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    for _ in range(cfg.batch_size):
        sl = slides[rng.integers(len(slides))]
        H, W = sl.image.shape[:2]
        y = 16 * rng.integers(0, max(H - c, 0) // 16 + 1)
        x = 16 * rng.integers(0, max(W - c, 0) // 16 + 1)
        im = np.full((c, c, 3), 255, np.uint8)
        patch = sl.image[y : y + c, x : x + c]
        im[: patch.shape[0], : patch.shape[1]] = patch
        imgs.append(im)
        for arr, out, fill in ((sl.group, grp, 0.0), (sl.grade, grd, -1), (sl.grade_weight, wts, 0.0)):
            t = np.full((m, m), fill, arr.dtype)
            p = arr[y // s : y // s + m, x // s : x // s + m]
            t[: p.shape[0], : p.shape[1]] = p
            out.append(t)
    return (
        torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255,
        torch.from_numpy(np.stack(grp))[:, None],
        torch.from_numpy(np.stack(grd))[:, None],
        torch.from_numpy(np.stack(wts))[:, None],
    )


def grade_class_weights(slides: list[Stage1Slide], n: int, power: float = 1.0) -> np.ndarray:
    """Inverse-frequency weights ** ``power`` of the coarse classes over the slides' weighted grade targets
    (1 for each class at frequency 1/n), clipped to [0.2, 10] so a nearly absent class cannot dominate."""
    area = np.zeros(n)
    for sl in slides:
        ok = sl.grade >= 0
        np.add.at(area, sl.grade[ok], sl.grade_weight[ok])
    present = area > 0
    w = np.ones(n)
    w[present] = (area[present].sum() / (present.sum() * area[present])) ** power
    return np.clip(w, 0.2, 10.0)


def stage1_loss(
    out, group_t, grade_t, weight_t, cfg: Stage1TrainConfig, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    g, c, _ = out
    pw = torch.tensor(cfg.pos_weight, device=g.device)
    lg = F.binary_cross_entropy_with_logits(g, group_t, pos_weight=pw)
    ce = F.cross_entropy(c, grade_t[:, 0].clamp(min=0), weight=class_weights, reduction="none")
    w = weight_t[:, 0] * (grade_t[:, 0] >= 0)
    lc = (ce * w).sum() / w.sum().clamp(min=1.0)
    return lg + cfg.grade_loss_weight * lc


def make_card(cfg: Stage1TrainConfig, labels: LabelSet) -> ModelCard:
    return ModelCard(
        name="stage1",
        version=__version__,
        architecture="Stage1Net",
        hyperparameters=replace(cfg.net, n_coarse=len(labels.coarse)).to_dict(),
        input_mpp=cfg.mpp,
        input_size=None,
        label_set=labels.name,
        labels=list(labels.coarse),
        mpp_range=declared_mpp_range(cfg.mpp),
        label_definition=label_set_to_dict(labels),
        description="Low-power whole-slide network: per-position cell-group probability and coarse grade.",
    )


@keeps_torch_state
def train_stage1(
    slides_dir: str | Path,
    out_dir: str | Path,
    epochs: int | None = None,
    *,
    config: Stage1TrainConfig | None = None,
    labels: LabelSet = TBSRTC,
    progress: bool = True,
    command: str | None = None,
    names: dict[str, str] | None = None,
    init: str | Path | None = None,
    init_why: str = "",
    resume: bool = False,
) -> TrainResult:
    """``init``: a model folder to fine-tune from (its architecture and mpp are kept), None for random
    weights. ``resume``: go on from the checkpoint a killed run of the same options left in ``out_dir``;
    it ends as the uninterrupted run would have (``models.checkpoint``)."""
    run = begin(
        "stage1",
        config or Stage1TrainConfig(),
        epochs,
        init,
        labels,
        Stage1Config,
        slides_dir,
        out_dir,
        names,
        n_coarse=len(labels.coarse),
    )
    cfg, items, train_items, val_items, dev = run.cfg, run.items, run.train_items, run.val_items, run.dev
    card = make_card(cfg, labels)
    model = run.init_weights(Stage1Net(cfg.net)).to(dev)
    opt, sched = optimiser(model, cfg.lr, cfg.weight_decay, cfg.epochs * cfg.steps_per_epoch)
    ema = None
    if cfg.ema_decay > 0:
        ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
        )
    kept = model if ema is None else ema.module  # what is validated and saved
    best: Best = (-1.0, -1, None)
    history: list[dict[str, float]] = []
    mean, std = run.normaliser(card)
    with progress_bar(progress) as prog:
        task = prog.add_task("stage1 data", total=len(items), info="") if prog else None
        slides = []
        for it in items:
            slides.append(stage1_slide(it, cfg.mpp, cfg.net.out_stride, labels, gain=cfg.target_gain))
            if prog and task is not None:
                prog.advance(task)
        train_slides = [s for s, it in zip(slides, items) if it in train_items]
        val_slides = [s for s, it in zip(slides, items) if it in val_items]
        class_w = None
        if cfg.grade_balance > 0:
            class_w = torch.tensor(
                grade_class_weights(train_slides, cfg.net.n_coarse, cfg.grade_balance), dtype=torch.float32, device=dev
            )
        first, initial = 0, None
        modules = {"model": model, "opt": opt, "sched": sched, "ema": ema}
        if resume:
            first, history, best, initial = run.resume(modules, prog)
        elif run.start is not None:
            initial = {
                "epoch": 0,
                "loss": None,
                **stage1_scores(Stage1Runner(kept, card, device=dev), val_slides, labels),
            }
            if prog:
                prog.console.print(f"stage1 epoch 0 (initial weights): score {initial['score']:.3f}", highlight=False)
        record = {
            "init": run.init_record(init_why, initial),
            "class_balance": {
                "method": f"weighted loss: coarse-grade cross-entropy weighted by (inverse class "
                f"area frequency) ** {cfg.grade_balance:g}; group map pos_weight "
                f"{cfg.pos_weight:g}",
                "class_weights": None
                if class_w is None
                else dict(zip(labels.coarse, (round(float(w), 4) for w in class_w))),
            },
        }
        for ep in range(first, cfg.epochs):
            model.train()
            if prog and task is not None:
                prog.reset(task, total=cfg.steps_per_epoch, description=f"stage1 epoch {ep + 1}/{cfg.epochs}")
            losses = []
            for _ in range(cfg.steps_per_epoch):
                x, g, c, w = (t.to(dev) for t in _batch(train_slides, cfg, run.rng))
                x, g, c, w = random_dihedral(x, g, c, w, generator=run.gen)
                x = (augment_images(x, generator=run.gen) - mean) / std
                loss = stage1_loss(model(x.contiguous(memory_format=torch.channels_last)), g, c, w, cfg, class_w)
                step(opt, sched, loss)
                if ema is not None:
                    ema.update_parameters(model)
                losses.append(loss.item())
                if prog and task is not None:
                    prog.update(task, advance=1, info=f"loss {np.mean(losses[-10:]):.3f}")
            runner = Stage1Runner(kept, card, device=dev)
            scores = stage1_scores(runner, val_slides, labels)
            row = {"epoch": ep + 1, "loss": float(np.mean(losses)), **scores}
            history.append(row)
            if prog:
                prog.console.print(
                    f"stage1 epoch {ep + 1}: loss {row['loss']:.4f}  recall {scores['recall']:.3f}  "
                    f"coarse_acc {scores['coarse_accuracy']:.3f}  precision {scores['precision']:.3f}  "
                    f"score {scores['score']:.3f}",
                    highlight=False,
                )
            if scores["score"] > best[0]:
                best = (scores["score"], ep + 1, copy.deepcopy(kept.state_dict()))
                _save(kept, card, run, history, best, command, False, record)
            run.checkpoint(ep + 1, history, best, modules, initial)
    kept.load_state_dict(run.best_weights(best))
    # the domain gate's statistics, in this model's own feature space (models/domain_fit.py)
    card.domain = card_domain(
        Stage1Runner(kept, card, device=dev), [s.image for s in train_slides], [s.image for s in val_slides]
    )
    _save(kept, card, run, history, best, command, True, record)
    return run.done(
        card, ["score", "recall", "coarse_accuracy", "coarse_balanced_accuracy", "precision"], best, history
    )


def _save(model, card, run: TrainRun, history, best, command, final, record):
    record_training(card, run.cfg, run.items, run.train_items, run.val_items, history, best[1], run.t0, command, final)
    annotate_card(card, run.items, run.train_items, run.val_items, **record)
    # the export's example must hold the full attention grid (attn_grid cells a side, at stride 16)
    g = 16 * run.cfg.net.attn_grid
    example = torch.zeros(1, 3, 2 * g, 3 * g) if final and run.cfg.export_onnx else None
    save_model(model, card, run.out, export_example=example)
