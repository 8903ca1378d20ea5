"""Stage 2: the high-power feature-pyramid classifier.

A patch read at high power (default 0.5 um/px, 128 x 128 px = 64 um) goes through a small CNN
backbone (strides 4, 8, 16, 32); a feature pyramid (lateral 1x1 convolutions + top-down fusion)
brings the coarse context down to the finer levels, every pyramid level is pooled (mean, or mean and
max) and a head grades the patch: the fine grades (TBSRTC II-VI) plus a last "none" class for patches without
follicular cell groups (background, blood, colloid, macrophages), which lets the exhaustive baseline
and the fallback skip empty tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBNAct, Down, NetConfig


@dataclass(frozen=True)
class Stage2Config(NetConfig):
    stem: int = 16  # stride 2
    widths: tuple[int, int, int, int] = (24, 40, 64, 96)  # strides 4, 8, 16, 32
    blocks: tuple[int, int, int, int] = (1, 1, 2, 1)
    fpn_dim: int = 48
    pyramid_levels: int = 4  # C2..C5 (strides 4, 8, 16, 32) feed the pyramid: nuclear detail lives at stride 4
    dropout: float = 0.2
    n_classes: int = 6  # n_fine + 1 ("none" last)
    # "residual": a strided stem and depthwise-separable residual stages (``blocks.Down``).
    # "plain": at every stage dense 3x3 convolutions at the stage's input resolution, then 2 x 2 max
    # pooling, so the first convolution sees the full-resolution pixels before anything is subsampled.
    backbone: str = "residual"
    pooling: str = "mean_max"  # how each pyramid level becomes a vector: "mean_max" or "mean"


#: The training default (stage 2 v14 on): a plain backbone, mean pooling, the pyramid over strides 8-32.
#: On twelve V/VI validation slides, networks of this shape trained on interior crops called 5 of 200 V
#: groups VI, where the residual mean-and-max network with the same data and training called 45
#: (docs/models.md). Cards without ``backbone`` are residual networks (``Stage2Config()``'s defaults).
PLAIN = Stage2Config(widths=(32, 64, 64, 64), blocks=(1, 1, 1, 1), pyramid_levels=3, backbone="plain", pooling="mean")
BACKBONES = {"plain": PLAIN, "residual": Stage2Config()}


class Stage2Net(nn.Module):
    def __init__(self, cfg: Stage2Config | None = None):
        super().__init__()
        cfg = cfg or Stage2Config()
        if not 3 <= cfg.pyramid_levels <= 4:
            raise ValueError("pyramid_levels must be 3 or 4")
        if cfg.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, not {cfg.backbone!r}")
        if cfg.pooling not in ("mean_max", "mean"):
            raise ValueError(f"pooling must be 'mean_max' or 'mean', not {cfg.pooling!r}")
        self.cfg = cfg
        w = cfg.widths
        chans = (cfg.stem, *w)
        self.stem: nn.Module
        if cfg.backbone == "plain":
            self.stem = nn.Sequential(ConvBNAct(3, cfg.stem), nn.MaxPool2d(2))
            self.stages = nn.ModuleList([_plain_stage(chans[i], chans[i + 1], cfg.blocks[i]) for i in range(4)])
        else:
            self.stem = ConvBNAct(3, cfg.stem, stride=2)
            self.stages = nn.ModuleList([Down(chans[i], chans[i + 1], cfg.blocks[i]) for i in range(4)])
        used = w[-cfg.pyramid_levels :]
        f = cfg.fpn_dim
        self.lateral = nn.ModuleList([nn.Conv2d(c, f, 1) for c in used])
        self.smooth = nn.ModuleList([ConvBNAct(f, f) for _ in used])
        per_level = 2 if cfg.pooling == "mean_max" else 1
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout),
            nn.Linear(per_level * f * len(used), 2 * f),
            nn.ReLU(inplace=True),
            nn.Linear(2 * f, cfg.n_classes),
        )

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The pyramid levels, finest first."""
        x = self.stem(x)
        cs = []
        for st in self.stages:
            x = st(x)
            cs.append(x)
        cs = cs[-self.cfg.pyramid_levels :]
        p = self.lateral[-1](cs[-1])
        outs = [self.smooth[-1](p)]
        for i in range(len(cs) - 2, -1, -1):  # top-down: coarse context added to finer laterals
            p = self.lateral[i](cs[i]) + F.interpolate(p, size=cs[i].shape[-2:], mode="nearest")
            outs.insert(0, self.smooth[i](p))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = []
        for p in self.features(x):
            pooled.append(p.mean(dim=(2, 3)))
            if self.cfg.pooling == "mean_max":
                pooled.append(p.amax(dim=(2, 3)))
        return self.head(torch.cat(pooled, dim=1))


def _plain_stage(cin: int, cout: int, convs: int) -> nn.Sequential:
    """``convs`` dense 3x3 convolutions at the input's resolution, then halve it by 2 x 2 max pooling."""
    layers: list[nn.Module] = [ConvBNAct(cin if i == 0 else cout, cout) for i in range(convs)]
    return nn.Sequential(*layers, nn.MaxPool2d(2))
