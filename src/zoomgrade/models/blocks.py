"""Small building blocks shared by the two networks (plain torch, no torchvision)."""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


class NetConfig:
    """What both networks' frozen config dataclasses share: a plain dict for the model card, and back (JSON
    turns the tuple fields into lists, which come back as tuples)."""

    def to_dict(self: Any) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        tuples = {f.name for f in fields(cls) if isinstance(f.default, tuple)}  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if k in tuples else v for k, v in d.items()})


class ConvBNAct(nn.Sequential):
    """3x3 (or k x k) convolution, batch norm, ReLU: the unit everything else is made of."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Depthwise-separable residual block: cheap on CPU (few MACs per pixel) yet a 5x5 receptive field."""

    def __init__(self, ch: int, expand: int = 2):
        super().__init__()
        mid = ch * expand
        self.body = nn.Sequential(
            ConvBNAct(ch, mid, k=1),
            ConvBNAct(mid, mid, k=3, groups=mid),
            ConvBNAct(mid, mid, k=3, groups=mid),
            ConvBNAct(mid, ch, k=1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Down(nn.Sequential):
    """Halve the resolution (strided 3x3 conv) and change width, then refine with residual blocks."""

    def __init__(self, cin: int, cout: int, blocks: int = 1):
        super().__init__(ConvBNAct(cin, cout, k=3, stride=2), *[ResBlock(cout) for _ in range(blocks)])


def sinusoidal_2d(
    h: int,
    w: int,
    dim: int,
    *,
    offset: tuple[float | torch.Tensor, float | torch.Tensor] = (0.0, 0.0),
    scale: float = 1.0,
    device: torch.device | None = None,
) -> torch.Tensor:
    """2-D sine/cosine position encoding (dim, h, w): half the channels encode y, half x.

    ``offset`` (in map cells) lets a window of a larger image carry its absolute position, so stitched
    windows see the same encoding as one pass would. Wavelengths span 1..~1000 cells.
    """
    if dim % 4:
        raise ValueError("position-encoding dim must be a multiple of 4")
    q = dim // 4
    freqs = torch.exp(-math.log(1000.0) * torch.arange(q, device=device, dtype=torch.float32) / max(q - 1, 1))
    ys = (torch.arange(h, device=device, dtype=torch.float32) + offset[0]) * scale
    xs = (torch.arange(w, device=device, dtype=torch.float32) + offset[1]) * scale
    py = ys[:, None] * freqs[None, :]  # (h, q)
    px = xs[:, None] * freqs[None, :]  # (w, q)
    enc_y = torch.cat([py.sin(), py.cos()], dim=1).T[:, :, None].expand(2 * q, h, w)
    enc_x = torch.cat([px.sin(), px.cos()], dim=1).T[:, None, :].expand(2 * q, h, w)
    return torch.cat([enc_y, enc_x], dim=0)


def pool_weights(n: int, g: int, like: torch.Tensor) -> torch.Tensor:
    """(g, n) matrix of adaptive average pooling from n cells to g bins (torch's bin edges:
    floor(i n / g) to ceil((i + 1) n / g)). As a matrix product it exports to ONNX for any n; the
    exporter bakes ``adaptive_avg_pool2d``'s kernel for the example's size into the graph."""
    i = torch.arange(g, device=like.device)
    j = torch.arange(n, device=like.device)
    start = (i * n) // g
    end = ((i + 1) * n + g - 1) // g
    m = ((j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])).to(like.dtype)
    return m / m.sum(dim=1, keepdim=True)


class PooledSelfAttention(nn.Module):
    """Multi-head self-attention from every position to keys/values average-pooled to a fixed grid.

    Cost is O(N * G^2) for N positions and a G x G key grid, so it stays bounded on a whole slide;
    queries are processed in chunks to bound memory too. Also returns how much attention each place
    receives (mean over heads and queries, upsampled to the map; 1.0 = uniform) for display.
    """

    def __init__(self, dim: int, heads: int = 4, grid: int = 16, chunk: int = 16384):
        super().__init__()
        if dim % heads:
            raise ValueError("attention dim must be divisible by heads")
        self.dim, self.heads, self.grid, self.chunk = dim, heads, grid, chunk
        self.norm = nn.GroupNorm(1, dim)
        self.q = nn.Conv2d(dim, dim, 1)
        self.kv = nn.Conv2d(dim, 2 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)
        self.ffn = nn.Sequential(
            nn.GroupNorm(1, dim), nn.Conv2d(dim, 2 * dim, 1), nn.GELU(), nn.Conv2d(2 * dim, dim, 1)
        )

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        xn = self.norm(x) + pos
        gh, gw = min(h, self.grid), min(w, self.grid)
        pooled = torch.einsum("bchw,ih,jw->bcij", xn, pool_weights(h, gh, xn), pool_weights(w, gw, xn))
        hd = c // self.heads
        q = self.q(xn).reshape(b, self.heads, hd, h * w).transpose(2, 3)  # (b, H, N, hd)
        k, v = self.kv(pooled).reshape(b, 2, self.heads, hd, gh * gw).unbind(1)  # (b, H, hd, M)
        v = v.transpose(2, 3)  # (b, H, M, hd)
        out = torch.empty_like(q)
        received = torch.zeros(b, gh * gw, device=x.device, dtype=x.dtype)
        scale = hd**-0.5
        for s in range(0, h * w, self.chunk):
            a = torch.softmax(torch.matmul(q[:, :, s : s + self.chunk], k) * scale, dim=-1)  # (b,H,n,M)
            out[:, :, s : s + self.chunk] = torch.matmul(a, v)
            # Summed as a product with ones, not a.sum(dim=(1, 2)): exported, that strided ReduceSum took
            # 77 of 478 ms of a whole-slide stage-1 run in ONNX Runtime; the product is a fast GEMV.
            flat = a.reshape(b, -1, a.shape[-1])
            received += torch.matmul(flat.new_ones(b, 1, flat.shape[1]), flat)[:, 0]
        out = out.transpose(2, 3).reshape(b, c, h, w)
        x = x + self.proj(out)
        x = x + self.ffn(x)
        att = (received * (gh * gw) / (self.heads * h * w)).reshape(b, 1, gh, gw)
        att = F.interpolate(att, size=(h, w), mode="bilinear", align_corners=False)
        return x, att


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every ``ConvBNAct``'s batch norm into its convolution, in place, for inference.

    Measured on stage 1 (2,500 px square, 2 CPU threads): batch norm took as long as all the
    convolutions together, because eager torch makes one extra pass over each large activation map.
    The folded model gives the same outputs to float rounding. Call it only on an ``eval()`` model.
    """
    if model.training:
        raise ValueError("fold_batchnorm needs an eval() model: training would update folded statistics")
    for m in model.modules():
        if isinstance(m, ConvBNAct) and isinstance(m[1], nn.BatchNorm2d):
            m[0] = fuse_conv_bn_eval(m[0], m[1])  # type: ignore[type-var]  # m[0] is the block's Conv2d
            m[1] = nn.Identity()
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
