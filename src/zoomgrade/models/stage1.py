"""Stage 1: the low-power global network.

The whole slide at low power (default 8 um/px) goes through a small CNN that extracts features at
strides 2, 4, 8 and 16; at stride 16 a pooled multi-head self-attention block relates every place of
the slide to the whole slide (keys/values pooled to a fixed grid keep its cost bounded); a top-down
path fuses the attended coarse features with the finer ones, and dense 1x1 heads predict, per output
position, "cell group here" and the coarse grade.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBNAct, Down, NetConfig, PooledSelfAttention, ResBlock, sinusoidal_2d


@dataclass(frozen=True)
class Stage1Config(NetConfig):
    widths: tuple[int, int, int, int] = (16, 24, 40, 64)  # strides 2, 4, 8, 16
    # no residual block at stride 2: it was a third of the network's time on a 20 x 20 mm slide
    # (1.7 s -> 0.9 s with batch norm folded, 2,496 px square, 2 threads) for detail that stride 4 keeps
    blocks: tuple[int, int, int, int] = (0, 1, 2, 2)
    attn_dim: int = 64
    attn_heads: int = 4
    attn_grid: int = 16  # keys/values pooled to at most grid x grid positions
    fuse_dim: int = 32
    out_stride: int = 2  # 2 or 4: map resolution = input mpp * out_stride
    n_coarse: int = 3


class Stage1Net(nn.Module):
    #: the input's height and width must be multiples of this (the runner pads)
    multiple = 16

    def __init__(self, cfg: Stage1Config | None = None):
        super().__init__()
        cfg = cfg or Stage1Config()
        if cfg.out_stride not in (2, 4):
            raise ValueError("out_stride must be 2 or 4")
        self.cfg = cfg
        w, nb = cfg.widths, cfg.blocks
        self.stem = nn.Sequential(ConvBNAct(3, w[0], stride=2), *[ResBlock(w[0]) for _ in range(nb[0])])
        self.down4 = Down(w[0], w[1], nb[1])
        self.down8 = Down(w[1], w[2], nb[2])
        self.down16 = Down(w[2], w[3], nb[3])
        self.to_attn = nn.Conv2d(w[3], cfg.attn_dim, 1)
        self.attn = PooledSelfAttention(cfg.attn_dim, cfg.attn_heads, cfg.attn_grid)
        f = cfg.fuse_dim
        # Multi-scale fusion: lateral 1x1 from each CNN scale + top-down upsampling of the attended map.
        self.lat = nn.ModuleList([nn.Conv2d(c, f, 1) for c in (w[0], w[1], w[2])])
        self.top = nn.Conv2d(cfg.attn_dim, f, 1)
        # Depthwise-separable smoothing and 1x1 heads: the fine levels are large, keep them cheap.
        self.smooth = nn.ModuleList([nn.Sequential(ConvBNAct(f, f, groups=f), ConvBNAct(f, f, k=1)) for _ in range(3)])
        self.group_head = nn.Sequential(ConvBNAct(f, f, k=1), nn.Conv2d(f, 1, 1))
        self.grade_head = nn.Sequential(ConvBNAct(f, f, k=1), nn.Conv2d(f, cfg.n_coarse, 1))

    @property
    def stride(self) -> int:
        return self.cfg.out_stride

    def onnx_spec(self, example: torch.Tensor):
        """How ``export_onnx`` exports this network: the image (batch, height, width dynamic) and the
        window offset as inputs, the three maps as outputs."""
        from .onnx_export import OnnxSpec

        dyn = torch.export.Dim.DYNAMIC
        return OnnxSpec(
            Stage1Export(self),
            (example, torch.zeros(2)),
            ["x", "offset"],
            ["group", "grade", "attention", "features"],
            ({0: dyn, 2: dyn, 3: dyn}, None),
        )

    def forward(
        self, x: torch.Tensor, pos_offset: tuple[float, float] = (0.0, 0.0)
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B,3,H,W) normalised, H and W multiples of 16. ``pos_offset`` is the window's (y, x)
        origin in input pixels, so windows of a big slide get their absolute position encoding."""
        return self.forward_features(x, pos_offset)[:3]

    def forward_features(
        self, x: torch.Tensor, pos_offset: tuple[float, float] | tuple[torch.Tensor, torch.Tensor] = (0.0, 0.0)
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward``'s three maps and the stride-16 features (B, attn_dim, H/16, W/16) that enter the
        attention block: local appearance, before the slide's context is mixed in. The domain gate
        (``models/domain.py``) scores a slide in this space (measured: in-domain slides far tighter in it
        than in the attended features, whose slide-wide context shifts every cell of a slide alike)."""
        c2 = self.stem(x)
        c4 = self.down4(c2)
        c8 = self.down8(c4)
        c16 = self.to_attn(self.down16(c8))
        _, _, h16, w16 = c16.shape
        pos = sinusoidal_2d(
            h16, w16, self.cfg.attn_dim, offset=(pos_offset[0] / 16, pos_offset[1] / 16), device=x.device
        ).to(c16.dtype)
        a16, att = self.attn(c16, pos[None])
        p = self.top(a16)
        feats = [c8, c4, c2] if self.cfg.out_stride == 2 else [c8, c4]
        for i, c in enumerate(feats):
            lat = self.lat[2 - i](c)
            p = self.smooth[i](lat + F.interpolate(p, size=lat.shape[-2:], mode="nearest"))
        att = F.interpolate(att, size=p.shape[-2:], mode="bilinear", align_corners=False)
        return self.group_head(p), self.grade_head(p), att, c16


class Stage1Export(nn.Module):
    """``Stage1Net`` with the window offset as a tensor input (y, x in input px), for the ONNX export.

    Attention runs as one chunk: the chunk loop's trip count would be fixed at the example's size, and
    the runner hands the engine windows of at most 2,816 px (about 130 MB of attention weights)."""

    def __init__(self, net: Stage1Net):
        super().__init__()
        self.net = copy.deepcopy(net)
        self.net.attn.chunk = 1 << 30

    def forward(
        self, x: torch.Tensor, offset: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net.forward_features(x, pos_offset=(offset[0], offset[1]))
