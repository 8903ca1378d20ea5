"""The domain model: a Gaussian of in-domain features, thresholds from calibration slides, card round trip."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import mahalanobis

from zoomgrade.models.card import ModelCard
from zoomgrade.models.domain import (
    CalibrationSlide,
    DomainModel,
    box_cells,
    fit_domain,
    material_cells,
    slide_scores,
    within,
)


def _slides(rng, n, shift=0.0, cells=300, dim=8):
    cov = np.diag(np.linspace(0.5, 2.0, dim))
    return [rng.multivariate_normal(np.full(dim, shift), cov, cells) for _ in range(n)]


def _calibration(slides, regions_per_slide=0):
    """CalibrationSlides of cell arrays (a one-row grid, every cell material); each region is a run of 20 of
    the slide's cells."""
    return [
        CalibrationSlide(
            x[None],
            np.ones((1, len(x)), bool),
            tuple((slice(0, 1), slice(20 * k, 20 * k + 20)) for k in range(regions_per_slide)),
        )
        for x in slides
    ]


def _cells(c):
    return c.features[c.material]


def _regions(c):
    return [c.features[box].reshape(-1, c.features.shape[-1]) for box in c.boxes]


def test_thresholds_are_the_largest_calibration_scores():
    rng = np.random.default_rng(0)
    # calibration slides that differ from one another (one stained a little differently): the slide-to-slide
    # spread, not the cells', sets the thresholds
    cal = _calibration(_slides(rng, 9) + _slides(rng, 1, shift=2.0), regions_per_slide=2)
    model = fit_domain(_slides(rng, 6), cal)
    assert model.n_train_slides == 6 and model.n_val_slides == 10 and model.n_val_regions == 20
    medians = [float(np.median(model.distance(_cells(c)))) for c in cal]
    regions = [float(model.distance(r).mean()) for c in cal for r in _regions(c)]
    pooled = np.concatenate([model.distance(_cells(c)) for c in cal])
    assert max(medians) > np.quantile(pooled, 0.9)  # the slides' spread is wider than the cells'
    assert model.slide_threshold == model.val_max_median == max(medians)
    assert model.val_max_region == max(regions)
    assert model.cell_threshold == max(model.val_max_region, np.quantile(pooled, 0.99))
    away = [float(np.median(model.distance(x))) for x in _slides(rng, 3, shift=3.0)]
    assert min(away) > model.slide_threshold


def test_with_few_alike_calibration_slides_the_cells_spread_is_the_floor():
    rng = np.random.default_rng(5)
    cal = _calibration(_slides(rng, 1), regions_per_slide=2)
    model = fit_domain(_slides(rng, 4), cal)
    pooled = model.distance(_cells(cal[0]))
    assert model.val_max_median < model.slide_threshold == np.quantile(pooled, 0.9)
    assert model.val_max_region < model.cell_threshold == np.quantile(pooled, 0.99)
    # in-domain slides the one calibration slide's median would withhold half the time pass the floor
    fresh = [float(np.median(model.distance(x))) for x in _slides(rng, 20)]
    assert sum(m > model.val_max_median for m in fresh) > 0 and all(within(m, model.slide_threshold) for m in fresh)


def test_the_slide_that_set_a_threshold_is_within_it_whichever_engine_scores_it():
    t = 11.545855263586596  # the shipped card's slide threshold; its slide scored 11.545856036 by ONNX Runtime
    assert within(t, t) and within(11.545856036045901, t)
    assert not within(t * 1.0001, t)


def test_without_regions_the_region_threshold_is_the_largest_cell_distance():
    rng = np.random.default_rng(3)
    cal = _calibration(_slides(rng, 3))
    model = fit_domain(_slides(rng, 4), cal)
    assert model.n_val_regions == 0 and model.val_max_region == 0.0
    assert model.cell_threshold == max(float(model.distance(_cells(c)).max()) for c in cal) > model.slide_threshold
    # no calibration slide at all: the thresholds come from the training slides, and the card says so
    alone = fit_domain(_slides(rng, 3), [])
    assert alone.n_val_slides == 0 and np.isfinite(alone.slide_threshold)


def test_a_region_is_scored_on_its_material_cells_or_all_of_them():
    feats = np.arange(4 * 4 * 2, dtype=np.float64).reshape(4, 4, 2)
    material = np.zeros((4, 4), bool)
    material[0, 1] = True
    cells = box_cells((0, 0, 32, 16), 1.0, (4, 4))  # 32 x 16 input px: feature cells (0, 0) and (0, 1)
    assert cells == (slice(0, 1), slice(0, 2))
    bare = box_cells((32, 32, 16, 16), 1.0, (4, 4))  # no material under it: all its cells
    model = DomainModel(mean=np.zeros(2), precision=np.eye(2), cell_threshold=1.0, slide_threshold=1.0)
    median, (scored, whole) = slide_scores(model, feats, material, [cells, bare])
    assert median == scored == np.linalg.norm(feats[0, 1])  # the material cell only, not (0, 0)
    assert whole == np.linalg.norm(feats[2, 2])


def test_distance_is_scipys_mahalanobis():
    rng = np.random.default_rng(2)
    model = fit_domain(_slides(rng, 3), _calibration(_slides(rng, 2)))
    x = _slides(rng, 1, shift=1.0, cells=50)[0]
    want = [mahalanobis(row, model.mean, model.precision) for row in x]
    assert np.allclose(model.distance(x), want, rtol=1e-12)


def test_round_trip_through_a_card():
    rng = np.random.default_rng(1)
    model = fit_domain(_slides(rng, 3), _calibration(_slides(rng, 2)))
    back = DomainModel.from_dict(model.to_dict())
    x = _slides(rng, 1)[0]
    assert np.allclose(back.distance(x), model.distance(x))
    assert DomainModel.from_dict({}) is None and DomainModel.from_dict({"space": "other"}) is None
    card = ModelCard(
        name="stage1",
        version="t",
        architecture="Stage1Net",
        hyperparameters={},
        input_mpp=8.0,
        input_size=None,
        label_set="tbsrtc-3",
        labels=["a"],
        domain={"features": model.to_dict()},
    )
    assert ModelCard.from_dict(card.to_dict()).domain["features"]["cell_threshold"] == model.cell_threshold
    old = card.to_dict()
    del old["domain"]  # a card written before the gate existed still loads, with no domain
    assert ModelCard.from_dict(old).domain == {}


def test_material_cells_skip_glass():
    img = np.full((64, 64, 3), 240, np.uint8)
    img[:16, :16] = (120, 100, 160)
    m = material_cells(img, (4, 4))
    assert m[0, 0] and m.sum() == 1
