from dataclasses import replace

import numpy as np
from shapely.geometry import box
from skimage.draw import disk

from zoomgrade.cascade.cellcount import count_cells, count_region, crosses, mosaic, polygon_mask, scaled_count
from zoomgrade.cascade.config import AdequacyConfig

CFG = AdequacyConfig()
BG = (205, 195, 220)  # plasma
NUC = (45, 55, 125)  # blue nucleus (Pap)
RBC = (150, 35, 80)  # dark red cell (Diff-Quik): dark but red-dominant


def canvas(n: int = 256) -> np.ndarray:
    return np.broadcast_to(np.array(BG, np.uint8), (n, n, 3)).copy()


def put(img, cy, cx, r_px, colour):
    rr, cc = disk((cy, cx), r_px, shape=img.shape[:2])
    img[rr, cc] = colour


def test_counts_nuclei_of_a_group_and_ignores_red_cells_and_a_lone_nucleus():
    img = canvas()
    # a sheet of 7 nuclei, 7.5 um across (15 px at 0.5 um/px), 10 um apart centre to centre
    for i in range(7):
        put(img, 60 + (i // 4) * 20, 40 + (i % 4) * 20, 7.5, NUC)
    for k in range(15):
        put(img, 200, 10 + 16 * k, 6, RBC)
    put(img, 140, 220, 7, NUC)  # a lymphocyte, far from the group
    assert count_cells(img, 0.5, CFG) == 7


PALE = (90, 100, 150)  # a pale blue nucleus: passes the nuclear test (grey 113) but has no dark core


def test_overlapping_nuclei_with_no_dark_core_count_by_area():
    img = canvas()
    put(img, 100, 100, 30, PALE)  # a blob of crowded nuclei, ~2,800 um2 at 0.5 um/px -> ~64 nuclei
    n = count_cells(img, 0.5, CFG)
    assert abs(n - np.pi * 30**2 * 0.25 / CFG.nucleus_um2) <= 1


def test_nuclei_joined_by_dark_cytoplasm_count_by_their_cores():
    img = canvas()
    # Diff-Quik: 6 nuclei (dark, 7.5 um across) inside a cytoplasm that passes the nuclear test too
    # (grey 110, bluer than red): one component of ~1,000 um2, i.e. ~23 nuclei by area
    put(img, 120, 120, 36, (95, 90, 145))
    for k in range(6):
        put(img, 95 + (k // 3) * 40, 90 + (k % 3) * 30, 7.5, (40, 35, 90))
    assert count_cells(img, 0.5, CFG) == 6
    by_area = replace(CFG, core_grey_max=0.0)
    assert count_cells(img, 0.5, by_area) > 20


def test_inside_mask_and_region_windows():
    img = canvas()
    for i in range(4):
        put(img, 40, 30 + 20 * i, 7.5, NUC)  # 4 nuclei, top half
    for i in range(5):
        put(img, 200, 30 + 20 * i, 7.5, NUC)  # 5 nuclei, bottom half
    top = np.zeros(img.shape[:2], bool)
    top[:128] = True
    assert count_cells(img, 0.5, CFG, top) == 4
    # the same through a region polygon over one 256-px window of 512 level-0 px (slide at 0.25 um/px)
    win = (1000, 2000, 512, 512)
    poly = box(1000, 2000, 1512, 2256)  # the top half of the window
    assert polygon_mask(poly, win, 256)[:128].all() and not polygon_mask(poly, win, 256)[130:].any()
    assert count_region(img[None], [win], poly, 0.5, CFG, margin_px=0) == 4
    # grown over both rows: the larger of the two groups (all groups together with largest_group off)
    assert count_region(img[None], [win], poly, 0.5, CFG, margin_px=400) == 5
    assert count_region(img[None], [win], poly, 0.5, replace(CFG, largest_group=False), margin_px=400) == 9


def test_a_region_counts_its_largest_group_not_its_groups_together():
    """Two groups of 8 side by side in one region (a low-power outline that took both) hold no group of
    10 cells: the region counts 8, not 16, and so is not an adequate group."""
    img = canvas()
    for x0 in (20, 150):  # 130 px = 65 um apart: far over the 10 um gap
        for i in range(8):
            put(img, 60 + (i // 4) * 20, x0 + (i % 4) * 20, 7.5, NUC)
    assert count_cells(img, 0.5, CFG) == 8
    assert count_cells(img, 0.5, replace(CFG, largest_group=False)) == 16
    # windows too far apart to join: their groups cannot touch, so the larger one is the region's count
    apart = np.stack([img[:128, :128], img[:128, 128:]])  # each group whole in its own window
    boxes = [(0, 0, 256, 256), (4096, 0, 256, 256)]  # 16 windows apart: no mosaic
    region = box(0, 0, 4352, 256)
    assert count_region(apart, boxes, region, 0.5, CFG, 0.0) == 8
    assert count_region(apart, boxes, region, 0.5, replace(CFG, largest_group=False), 0.0) == 16


def test_blank_is_zero():
    assert count_cells(canvas(), 0.5, CFG) == 0


def test_a_group_cut_by_a_window_border_is_counted_once():
    """Two neighbouring windows of one grid are counted as one mosaic: nuclei cut by the border between
    them count once, and the halves of a group cut by it are one group."""
    whole = canvas(256)
    for i in range(5):
        put(whole, 60, 88 + 20 * i, 7.5, NUC)  # a row of 5 nuclei across x = 128 (the middle nucleus cut)
    left, right = whole[:, :128].copy(), whole[:, 128:].copy()
    # windows of 128 px at 0.5 um/px = 256 level-0 px at 0.25 um/px, side by side
    boxes = [(0, 0, 256, 256), (256, 0, 256, 256)]
    imgs = np.stack([left[:128], right[:128]])
    region = box(0, 0, 512, 256)
    assert count_region(imgs, boxes, region, 0.5, CFG, 0.0) == count_cells(whole[:128], 0.5, CFG) == 5
    # window by window, the cut nucleus is two
    per_window = sum(count_cells(im, 0.5, CFG) for im in imgs)
    assert per_window == 6


def test_mosaic_only_for_one_grid_of_near_windows():
    imgs = np.zeros((2, 8, 8, 3), np.uint8)
    joined = mosaic(imgs, [(0, 0, 16, 16), (16, 16, 16, 16)])
    assert joined is not None and joined[0].shape == (16, 16, 3) and joined[1] == (0, 0, 32, 32)
    assert mosaic(imgs, [(0, 0, 16, 16), (8, 0, 16, 16)]) is None  # not one grid
    assert mosaic(imgs, [(0, 0, 16, 16), (160, 160, 16, 16)]) is None  # far apart: 121 cells for 2 windows
    assert mosaic(imgs[:1], [(0, 0, 16, 16)]) is None


def test_a_scaled_count_that_crosses_a_threshold_is_flagged():
    # 7 cells in the 2 best-covered of 3 windows scale to 10: would make an adequate group of a small one
    assert scaled_count(7, 2, 3) == 10 and crosses(7, 10, (10,))
    assert not crosses(12, 18, (10,)) and not crosses(4, 6, (10,))
