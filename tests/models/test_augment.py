"""Training augmentations: the slide-to-slide stain jitter stays within its stated ranges."""

from __future__ import annotations

import torch

from zoomgrade.models.augment import augment_images, od_channel_jitter


def _batch(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return 0.2 + 0.75 * torch.rand(n, 3, 8, 8, generator=g)


def test_od_channel_jitter_zero_is_identity() -> None:
    x = _batch()
    assert torch.allclose(od_channel_jitter(x, 0.0, 0.0), x, atol=1e-6)


def test_od_scale_stays_within_its_range_and_keeps_hue() -> None:
    x = _batch(64)
    y = od_channel_jitter(x, scale=0.2, channel_sigma=0.0, generator=torch.Generator().manual_seed(2))
    ratio = torch.log(y) / torch.log(x)  # per-pixel OD ratio: one factor per image, every channel
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1], atol=1e-4)
    assert per_image.min() >= 0.8 - 1e-4 and per_image.max() <= 1.2 + 1e-4
    assert per_image[:, 0].std() > 0.05  # images get different factors


def test_od_channel_sigma_turns_the_hue() -> None:
    x = _batch(64)
    y = od_channel_jitter(x, scale=0.0, channel_sigma=0.08, generator=torch.Generator().manual_seed(3))
    ratio = (torch.log(y) / torch.log(x)).mean(dim=(2, 3))  # (B, 3): one factor per image and channel
    spread = ratio.std(dim=1)
    assert spread.mean() > 0.03  # channels are scaled apart, so the stain's colour changes
    assert (ratio - 1).abs().max() < 0.6


def test_augment_images_applies_it_only_when_asked() -> None:
    x = _batch()
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    plain = augment_images(x, generator=g1, blur_p=0.0)
    jittered = augment_images(x, generator=g2, blur_p=0.0, od_scale=0.2, od_channel_sigma=0.08)
    assert not torch.allclose(plain, jittered, atol=1e-3)
    assert float(jittered.min()) >= 0.0 and float(jittered.max()) <= 1.0
