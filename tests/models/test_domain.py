"""The domain model: a Gaussian of in-domain features, thresholds from held-out samples, card round trip."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import mahalanobis

from zoomgrade.models.card import ModelCard
from zoomgrade.models.domain import DomainModel, fit_domain, material_cells


def _slides(rng, n, shift=0.0, cells=300, dim=8):
    cov = np.diag(np.linspace(0.5, 2.0, dim))
    return [rng.multivariate_normal(np.full(dim, shift), cov, cells) for _ in range(n)]


def test_in_domain_slides_pass_and_shifted_ones_do_not():
    rng = np.random.default_rng(0)
    model = fit_domain(_slides(rng, 6), _slides(rng, 3))
    assert model.n_train_slides == 6 and model.n_val_slides == 3
    assert model.slide_threshold < model.cell_threshold  # 90% vs 99% of the validation cells
    fresh = [float(np.median(model.distance(x))) for x in _slides(rng, 5)]
    assert max(fresh) <= model.slide_threshold
    away = [float(np.median(model.distance(x))) for x in _slides(rng, 3, shift=3.0)]
    assert min(away) > model.slide_threshold


def test_distance_is_scipys_mahalanobis():
    rng = np.random.default_rng(2)
    model = fit_domain(_slides(rng, 3), _slides(rng, 2))
    x = _slides(rng, 1, shift=1.0, cells=50)[0]
    want = [mahalanobis(row, model.mean, model.precision) for row in x]
    assert np.allclose(model.distance(x), want, rtol=1e-12)


def test_round_trip_through_a_card():
    rng = np.random.default_rng(1)
    model = fit_domain(_slides(rng, 3), _slides(rng, 2))
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
