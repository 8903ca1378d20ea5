import numpy as np
import torch
from shapely.geometry import box

from zoomgrade.labels import TBSRTC
from zoomgrade.models.augment import augment_images, gaussian_blur, hed_jitter, random_dihedral
from zoomgrade.models.datasets import find_slides, load_groups, region_windows, split_items, stage1_slide, stage2_crops

SLIDE_MPP = 0.5  # as written by conftest.write_tiny_slide


def test_stage1_targets_follow_the_polygons(tiny_slides):
    item = find_slides(tiny_slides)[0]
    s = stage1_slide(item, mpp=8.0, stride=2)
    assert s.image.shape[0] % 16 == 0 and s.group.shape == (s.image.shape[0] // 2, s.image.shape[1] // 2)
    groups = load_groups(item)
    scale = SLIDE_MPP / 16.0  # level-0 px -> map px
    for g in groups:
        cx, cy = g.geometry.centroid.x * scale, g.geometry.centroid.y * scale
        r, c = int(cy), int(cx)
        assert s.group[r, c] == 1.0
        assert s.grade[r, c] == TBSRTC.coarse_index(TBSRTC.coarse_of(g.fine))
    assert s.group[0, 0] == 0 and s.grade[0, 0] == -1
    # no target outside the (slightly grown) union of groups
    assert (s.grade >= 0).sum() == (s.grade_weight > 0).sum()


def test_stage2_crops_are_labelled_by_what_they_show(tiny_slides):
    item = find_slides(tiny_slides)[1]
    x, y = stage2_crops(item, np.random.default_rng(0), mpp=1.0, size=64, per_group=2, n_none=6)
    assert x.shape[1:] == (64, 64, 3) and x.dtype == np.uint8 and len(x) == len(y)
    assert (y == len(TBSRTC.fine)).sum() == 6
    fine = y[y < len(TBSRTC.fine)]
    assert len(fine) >= len(load_groups(item))  # every group gave crops
    # group crops hold the dark nuclei; "none" crops are background
    assert x[y < 5].mean() < x[y == 5].mean() - 10


def test_stage2_edge_crops_show_less_group(tiny_slides):
    # crops allowed to hang far over a group's edge with little group in them (as the exhaustive lattice
    # cuts groups) show more background than crops held to the group's core
    item = find_slides(tiny_slides)[1]

    def group_crops(min_cover, edge_margin):
        x, y = stage2_crops(
            item,
            np.random.default_rng(0),
            mpp=1.0,
            size=32,
            per_group=6,
            n_none=0,
            min_cover=min_cover,
            edge_margin=edge_margin,
        )
        return x[y < len(TBSRTC.fine)]

    core, edge = group_crops(0.6, 0.0), group_crops(0.02, 0.5)
    assert len(core) and len(edge)
    assert (edge.mean(-1) > 220).mean() > (core.mean(-1) > 220).mean() + 0.05


def test_split_and_windows(tiny_slides):
    items = find_slides(tiny_slides)
    tr, va = split_items(items, 0.25)
    assert len(va) == 1 and len(tr) == 3 and not {i.slide for i in tr} & {i.slide for i in va}
    wins = region_windows((0, 0, 1000, 300), slide_mpp=0.25, mpp=0.5, size=256)
    assert len(wins) == 2 and all(w == 512 for _, _, w, _ in wins)
    covered = box(*wins[0][:2], wins[0][0] + 512, wins[0][1] + 512).union(
        box(*wins[1][:2], wins[1][0] + 512, wins[1][1] + 512)
    )
    assert covered.contains(box(0, 0, 1000, 300))


def test_augmentations():
    x = torch.rand(3, 3, 32, 32) * 0.8 + 0.1
    assert torch.allclose(hed_jitter(x, 0.0, 0.0), x, atol=1e-4)
    assert not torch.allclose(hed_jitter(x, 0.2, 0.05), x, atol=1e-2)
    b = gaussian_blur(x, 1.0)
    assert b.std() < x.std() and abs(b.mean() - x.mean()) < 0.01
    y = augment_images(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    t = x[:, :1] > 0.5
    xi, ti = random_dihedral(x, t.float())
    assert torch.equal(xi[:, :1] > 0.5, ti.bool())  # image and target move together


def test_a_bad_truth_file_stops_the_listing_with_its_name(tmp_path, tiny_slides):
    import shutil

    import pytest

    from zoomgrade.errors import ZoomgradeError

    for p in sorted(tiny_slides.iterdir())[:3]:  # one slide with its annotations and truth
        shutil.copy(p, tmp_path / p.name)
    truth = next(tmp_path.glob("*.truth.json"))
    truth.write_text("{")
    with pytest.raises(ZoomgradeError, match=str(truth)):
        find_slides(tmp_path)
