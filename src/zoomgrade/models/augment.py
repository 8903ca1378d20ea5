"""Training augmentations on uint8-derived float batches (B,3,H,W) in [0, 1], in torch.

Stain colour varies between labs and batches (Papanicolaou vs Diff-Quik, fixation, scanner), so the
stain is jittered in HED optical-density space (Ruifrok & Johnston) and in brightness/saturation; focus
varies, so a random Gaussian blur; orientation carries no meaning, so rotations by 90 degrees and flips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# RGB optical density -> haematoxylin/eosin/DAB (skimage's rgb_from_hed, rows normalised), and inverse.
_RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
_RGB_FROM_HED = _RGB_FROM_HED / _RGB_FROM_HED.norm(dim=1, keepdim=True)
_HED_FROM_RGB = torch.linalg.inv(_RGB_FROM_HED)


def optical_density(x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) intensities in [0, 1] as optical density, floored at one grey level (no log of 0)."""
    return -torch.log(x.clamp(1 / 255, 1.0))


def hed_jitter(
    x: torch.Tensor, sigma: float = 0.05, bias: float = 0.02, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Scale each stain's concentration by 1+N(0, sigma) and shift it by N(0, bias), per image."""
    b = x.shape[0]
    hed = torch.einsum("bchw,cd->bdhw", optical_density(x), _HED_FROM_RGB.to(x))
    a = 1 + sigma * torch.randn(b, 3, 1, 1, generator=generator).to(x)
    s = bias * torch.randn(b, 3, 1, 1, generator=generator).to(x)
    od2 = torch.einsum("bdhw,dc->bchw", hed * a + s, _RGB_FROM_HED.to(x))
    return torch.exp(-od2.clamp(min=0)).clamp(0, 1)


def od_channel_jitter(
    x: torch.Tensor, scale: float = 0.2, channel_sigma: float = 0.08, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Scale the optical density of the whole image by U(1 - scale, 1 + scale) and each RGB channel's by a
    further 1 + N(0, channel_sigma), per image: the slide-to-slide variation of a stain's strength and hue.
    HED jitter scales each stain's amount along a fixed stain vector; this turns the vectors themselves."""
    b = x.shape[0]
    od = optical_density(x)
    s = 1 + scale * (2 * torch.rand(b, 1, 1, 1, generator=generator) - 1)
    c = 1 + channel_sigma * torch.randn(b, 3, 1, 1, generator=generator)
    return torch.exp(-(od * (s * c).clamp(min=0.1).to(x)))


def hsv_like_jitter(
    x: torch.Tensor, brightness: float = 0.08, saturation: float = 0.15, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Brightness and saturation jitter per image (saturation = distance from the grey value)."""
    b = x.shape[0]
    grey = x.mean(dim=1, keepdim=True)
    sat = 1 + saturation * (2 * torch.rand(b, 1, 1, 1, generator=generator) - 1).to(x)
    bri = 1 + brightness * (2 * torch.rand(b, 1, 1, 1, generator=generator) - 1).to(x)
    return ((grey + (x - grey) * sat) * bri).clamp(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0.05:
        return x
    r = max(1, int(round(2.5 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def random_blur(
    x: torch.Tensor, p: float = 0.3, max_sigma: float = 1.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    out = x.clone()
    for i in range(x.shape[0]):
        if torch.rand(1, generator=generator).item() < p:
            sigma = 0.3 + (max_sigma - 0.3) * torch.rand(1, generator=generator).item()
            out[i : i + 1] = gaussian_blur(x[i : i + 1], sigma)
    return out


def random_dihedral(*tensors: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """The same random rotation by k*90 degrees and flip applied per sample to every tensor given
    (images and their dense targets alike; all (B, ..., H, W) with matching B, H, W up to scale)."""
    b = tensors[0].shape[0]
    outs = [t.clone() for t in tensors]
    for i in range(b):
        k = int(torch.randint(0, 4, (1,), generator=generator))
        flip = bool(torch.randint(0, 2, (1,), generator=generator))
        for o, t in zip(outs, tensors):
            s = t[i]
            if flip:
                s = s.flip(-1)
            o[i] = torch.rot90(s, k, dims=(-2, -1))
    return outs


def augment_images(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    strength: float = 1.0,
    blur_p: float = 0.3,
    blur_max_sigma: float = 1.5,
    od_scale: float = 0.0,
    od_channel_sigma: float = 0.0,
) -> torch.Tensor:
    """Colour (per-image OD strength and channel jitter when asked, HED, brightness/saturation) and blur;
    geometry is applied separately (with targets)."""
    if od_scale > 0 or od_channel_sigma > 0:
        x = od_channel_jitter(x, od_scale, od_channel_sigma, generator=generator)
    x = hed_jitter(x, sigma=0.05 * strength, bias=0.02 * strength, generator=generator)
    x = hsv_like_jitter(x, 0.08 * strength, 0.15 * strength, generator=generator)
    return random_blur(x, p=blur_p, max_sigma=blur_max_sigma, generator=generator)
