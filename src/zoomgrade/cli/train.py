"""``zoomgrade train stage1|stage2 --slides DIR``: train a model from slides + QuPath GeoJSON annotations."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from .common import fail, guarded, stderr, stdout


class Which(str, Enum):
    stage1 = "stage1"
    stage2 = "stage2"
    both = "both"  # stage 1 then stage 2 into --out: a complete model folder for `grade --models`


class Backbone(str, Enum):
    # models.stage2.BACKBONES's names, written out so the CLI starts without importing the models
    # (tests/cli/test_train.py keeps the two equal)
    plain = "plain"
    residual = "residual"


@guarded
def train(
    which: Which = typer.Argument(
        ...,
        help="stage1 (low-power whole-slide network), stage2 (high-power patch classifier) or both (a complete model folder).",
    ),
    slides: Path = typer.Option(
        ...,
        "--slides",
        help="Folder of slides, each with a QuPath .geojson beside it (same name), or a CSV manifest (columns slide, geojson, category, patient, split).",
    ),
    out: Path = typer.Option(
        Path("models"),
        "--out",
        help="Model folder: <stage>.safetensors, its .json card, .onnx, training report; train both stages into one folder.",
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (default: stage1 30, stage2 16)."),
    mpp: float | None = typer.Option(None, "--mpp", help="Input resolution in um/px (default: stage1 8, stage2 0.5)."),
    size: int | None = typer.Option(None, "--size", help="stage2: patch side in px at --mpp (default 128)."),
    steps: int | None = typer.Option(None, "--steps", help="stage1: batches per epoch (default 40)."),
    map_stride: int | None = typer.Option(
        None,
        "--map-stride",
        help="stage1: input pixels per map pixel, 2 or 4 (default 2, the shipped stage 1's; 4 runs in about 0.7 of the "
        "time with coarser maps and outlines: docs/models.md).",
    ),
    per_group: int | None = typer.Option(None, "--per-group", help="stage2: crops per annotated group (default 4)."),
    min_cover: float | None = typer.Option(
        None,
        "--min-cover",
        min=0.0,
        max=1.0,
        help="stage2: a crop takes its group's grade when at least this fraction of it is group, or it holds half the group (default 0.15).",
    ),
    edge_margin: float | None = typer.Option(
        None,
        "--edge-margin",
        min=0.0,
        help="stage2: crop centres fall up to this many crop sides beyond a group's bounds (default 0.25).",
    ),
    od_scale: float | None = typer.Option(
        None,
        "--od-scale",
        min=0.0,
        max=0.9,
        help="stage2: scale each crop's optical density by U(1 - x, 1 + x), slide-to-slide stain strength (default 0: off).",
    ),
    od_channel_sigma: float | None = typer.Option(
        None,
        "--od-channel-sigma",
        min=0.0,
        help="stage2: scale each RGB channel's optical density by 1 + N(0, x), slide-to-slide stain hue (default 0: off).",
    ),
    backbone: Backbone | None = typer.Option(
        None,
        "--backbone",
        help="stage2: network shape, plain (dense convolutions, mean pooling; the default) or residual (stage 2 up to v11).",
    ),
    swa_epochs: int | None = typer.Option(
        None,
        "--swa-epochs",
        help="stage2: keep the average of the last N epochs' weights instead of the best epoch (default 0: best epoch).",
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Images per training batch."),
    seed: int = typer.Option(0, "--seed", help="Random seed (sampling, augmentation, initial weights)."),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)."
    ),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda (default: CUDA if available)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    labels: str = typer.Option(
        "tbsrtc",
        "--labels",
        help="Label set: a shipped one (tbsrtc, serous-isrsfc, breast-yokohama) or a .toml file (docs/label-sets.md). Sizes the heads; annotations must use its fine grades' names (or --map).",
    ),
    map_: list[str] | None = typer.Option(
        None,
        "--map",
        help="OLD=NEW: read the annotations' classification OLD as the label set's NEW ('-' drops it). Repeatable.",
    ),
    map_file: Path | None = typer.Option(None, "--map-file", help='TOML file of OLD = "NEW" lines (as --map).'),
    init: str | None = typer.Option(
        None,
        "--init",
        help="Model folder to fine-tune from; 'shipped' for the package's weights, 'none' for random weights (default: shipped when its label set matches).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Go on from the checkpoint a stopped run left in --out (same options)."
    ),
    lr: float | None = typer.Option(None, "--lr", min=0.0, help="Peak learning rate (default 3e-3; fine-tuning 3e-4)."),
    deterministic: bool = typer.Option(
        False, "--deterministic", help="torch deterministic algorithms (bit-identical resumes on GPUs too)."
    ),
    no_onnx: bool = typer.Option(
        False,
        "--no-onnx",
        help="Skip the ONNX export of the final model (faster; the CPU engine then falls back to torch).",
    ),
) -> None:
    """Train a model; the best checkpoint (by validation score) is kept with its model card, which carries
    the label set, and a training report. --out then is a model folder for `zoomgrade grade --models`
    (with both stages). A checkpoint is written after every epoch: a stopped run goes on with --resume."""
    from dataclasses import replace

    from ..labels import load_label_set
    from ..models.datasets import find_slides
    from ..models.finetune import SCRATCH, resolve_init
    from ..models.inference import set_torch_threads
    from ..models.names import check_names, parse_mapping

    if map_stride not in (None, 2, 4):
        raise fail(f"--map-stride {map_stride}: stage 1's maps are at stride 2 or 4")
    new_network = [f"--backbone {backbone.value}"] if backbone is not None else []
    new_network += [f"--map-stride {map_stride}"] if map_stride is not None else []
    if new_network and init not in (None, SCRATCH):
        # --init keeps its folder's network (models/finetune.py): these options beside it would be ignored
        raise fail(f"{' '.join(new_network)} trains a new network; --init {init} keeps that folder's: give one of them")
    label_set = load_label_set(labels)
    names = parse_mapping(map_, map_file)
    check_names([it.geojson for it in find_slides(slides)], label_set, names)  # before any training
    set_torch_threads(threads)
    if deterministic:
        import torch

        torch.use_deterministic_algorithms(True)
    over: dict[str, Any] = {
        k: v
        for k, v in {"mpp": mpp, "batch_size": batch_size, "seed": seed, "threads": threads, "device": device}.items()
        if v is not None
    }
    if lr is not None:
        over["lr"] = lr
    if no_onnx:
        over["export_onnx"] = False

    def start(stage: str) -> dict[str, Any]:
        """Where this stage's weights start (--init), said on stderr; fine-tuning's rate is a tenth."""
        folder, why = resolve_init(init, stage, label_set)
        if folder is not None and init is None and (mpp is not None or size is not None or new_network):
            folder, why = (
                None,
                "random initial weights (--mpp/--size/--backbone/--map-stride differ from the shipped model's)",
            )
        stderr().print(f"{stage}: {why}", highlight=False, markup=False)
        lr_: dict[str, Any] = {} if lr is not None or folder is None else {"lr": 3e-4}
        return {"run": {"init": folder, "init_why": why, "resume": resume}, "lr": lr_}

    results = []
    if which in (Which.stage1, Which.both):
        from ..models.train_stage1 import Stage1TrainConfig, train_stage1

        s = start("stage1")
        only1: dict[str, Any] = {"steps_per_epoch": steps} if steps else {}  # stage-1-only options
        if map_stride is not None:
            only1["net"] = replace(Stage1TrainConfig().net, out_stride=map_stride)
        over1 = {k: v for k, v in over.items() if k != "mpp" or which is Which.stage1}  # --mpp: one stage's
        cfg1 = replace(Stage1TrainConfig(), **over1, **s["lr"], **only1)
        results.append(
            (
                "stage1",
                train_stage1(
                    slides, out, epochs, config=cfg1, progress=not quiet, labels=label_set, names=names, **s["run"]
                ),
            )
        )
    if which in (Which.stage2, Which.both):
        from ..models.train_stage2 import Stage2TrainConfig, train_stage2

        extra: dict[str, Any] = {
            k: v for k, v in {"per_group": per_group, "size": size, "swa_epochs": swa_epochs}.items() if v
        }
        given = {
            "min_cover": min_cover,
            "edge_margin": edge_margin,
            "od_scale": od_scale,
            "od_channel_sigma": od_channel_sigma,
        }
        extra.update({k: v for k, v in given.items() if v is not None})
        if backbone is not None:
            from ..models.stage2 import BACKBONES

            extra["net"] = BACKBONES[backbone.value]
        s = start("stage2")
        over2 = {k: v for k, v in over.items() if k != "mpp" or which is Which.stage2}
        cfg = replace(Stage2TrainConfig(), **over2, **s["lr"], **extra)
        results.append(
            (
                "stage2",
                train_stage2(
                    slides, out, epochs, config=cfg, progress=not quiet, labels=label_set, names=names, **s["run"]
                ),
            )
        )
    for stage, res in results:
        stdout().print(
            f"{stage}: best validation score {res.best_score:.3f} at epoch {res.best_epoch}, "
            f"{res.seconds:.0f} s -> {res.weights} (label set {label_set.name})",
            highlight=False,
            markup=False,
        )
    if (out / "stage1.json").exists() and (out / "stage2.json").exists():
        # A new stage of either kind leaves the folder without early-stop values measured for this pair.
        stdout().print(
            f"early stop: no values measured for these models yet, so its bounds use each slide's own regions "
            f"alone; fit them on 20 or more validation slides: zoomgrade models fit-stop {out} --slides SLIDES",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
