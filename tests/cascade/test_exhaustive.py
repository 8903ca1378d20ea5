"""The exhaustive baseline's tissue mask: everything on the glass, in both stains, on any input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from zoomgrade.bench.mask_coverage import measure
from zoomgrade.cascade.config import default_config
from zoomgrade.cascade.exhaustive import plan_tiles
from zoomgrade.cascade.tissue import glass_colour, tissue_mask, tissue_mask_kwargs

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-slides"


def _disc(shape: tuple[int, int], cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.mark.slow
@pytest.mark.parametrize("stain", ["pap", "diffquik"])
def test_mask_covers_every_truth_group(synth_slide, stain):
    """A small generated smear: >= 99% of the area of groups of >= 10 cells lies in the mask and in the
    planned tiles, while bare glass around the smear stays out."""
    path = synth_slide("II", seed=1_000_001, size_mm=(1.5, 1.5), stain=stain)
    row = measure(path, dataclasses.replace(default_config().exhaustive, mpp=0.5), tile_px=128)
    assert row["groups"] >= 3, row
    assert row["group_cov_mask"] >= 0.99, row
    assert row["group_cov_tiles"] >= 0.99, row
    assert row["worst_group_tiles"] >= 0.95, row
    assert 0.05 < row["mask_fraction"] < 0.95, row


def test_pale_group_next_to_dense_blood_is_kept():
    """The case an Otsu split on saturation loses: a dense, saturated blood pool and a pale, barely
    stained group on white glass. Both are on the glass, so both are in the mask; the glass is not."""
    rng = np.random.default_rng(7)
    img = (244 + rng.integers(-2, 3, (200, 200, 3))).astype(np.uint8)  # glass with sensor noise
    blood, pale = _disc(img.shape[:2], 60, 60, 40), _disc(img.shape[:2], 140, 140, 15)
    img[blood] = (150, 40, 50)
    img[pale] = (226, 231, 229)  # grey-pale: saturation 0.02, optical density 0.03 in red
    mask = tissue_mask(img)
    assert mask[blood].all() and mask[pale].mean() > 0.99
    glass = ~ndimage.binary_dilation(blood | pale, iterations=3)
    assert mask[glass].mean() < 0.01
    np.testing.assert_allclose(glass_colour(img), 244, atol=2)


def test_glass_is_the_bright_mode_even_when_material_dominates():
    rng = np.random.default_rng(3)
    img = np.empty((100, 100, 3), np.uint8)
    img[:] = rng.integers(150, 230, (100, 100, 1))  # smear over 80% of the slide, broad in brightness
    img[:, :20] = 246  # a strip of glass
    img[5, 5] = 255  # a bright speck is not the glass
    assert np.allclose(glass_colour(img), 246)
    mask = tissue_mask(img, dilate_px=0)
    assert not mask[:, :18].any() and mask[:, 22:].mean() > 0.9


@pytest.mark.parametrize(
    "img",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.full((64, 64, 3), 255, np.uint8),  # all white
        np.full((64, 48, 3), 131, np.uint8),  # flat grey: nothing differs from anything
        np.full((1, 1, 3), 238, np.uint8),  # a 16x16 slide at 8 um/px
        np.full((16, 16, 4), 250, np.uint8),  # RGBA
        np.zeros((8, 8), np.uint8),  # not RGB
    ],
    ids=["empty", "white", "flat", "1px", "rgba", "2d"],
)
def test_degenerate_inputs_give_an_empty_mask_of_the_same_shape(img):
    mask = tissue_mask(img, **tissue_mask_kwargs(default_config().exhaustive))
    assert mask.dtype == bool and mask.shape == img.shape[:2] and not mask.any()


def test_empty_mask_plans_no_tiles():
    plan = plan_tiles((1024, 1024), 0.25, np.zeros((32, 32), bool), 8.0, 128, 0.5, 0.05)
    assert plan.boxes == [] and plan.shape == (4, 4)


@pytest.mark.parametrize("name", ["CMU-1-small-region.svs", "tiny-16px.svs"])
def test_real_slides(name):
    if not (REAL / name).exists():
        pytest.skip(f"real slide {name} not found under {REAL}")
    from zoomgrade.slide import open_slide

    with open_slide(REAL / name) as slide:
        thumb = np.asarray(slide.thumbnail(8.0))
    mask = tissue_mask(thumb, **tissue_mask_kwargs(default_config().exhaustive))
    assert mask.shape == thumb.shape[:2]
    if name.startswith("CMU"):  # an H&E crop: tissue with glass around it
        assert 0.2 < mask.mean() < 0.9
