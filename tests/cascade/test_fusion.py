import numpy as np
import pytest

from zoomgrade.cascade.fusion import coarse_prior, fine_to_coarse, fuse, region_likelihood


def test_prior_spreads_coarse_over_contained_fine_grades(labels):
    prior = coarse_prior(np.array([0.2, 0.6, 0.2]), labels)
    np.testing.assert_allclose(prior, [0.2, 0.3, 0.3, 0.1, 0.1])
    np.testing.assert_allclose(fine_to_coarse(prior, labels), [0.2, 0.6, 0.2])


def test_prior_floor_keeps_every_grade_possible(labels):
    prior = coarse_prior(np.array([1.0, 0.0, 0.0]), labels, floor=0.05)
    assert prior.min() > 0 and prior.argmax() == 0
    assert prior.sum() == pytest.approx(1.0)


def test_fuse_is_likelihood_times_prior_power(labels):
    lik = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    prior = np.array([0.5, 0.2, 0.2, 0.05, 0.05])
    for w in (0.0, 0.5, 1.0, 2.0):
        expect = lik * prior**w
        np.testing.assert_allclose(fuse(lik, prior, w), expect / expect.sum())
    np.testing.assert_allclose(fuse(lik, prior, 0.0), lik)


def test_fuse_prior_can_tip_a_close_call_but_not_a_clear_one():
    prior = np.array([0.05, 0.05, 0.05, 0.425, 0.425])  # stage 1 says malignant
    close = np.array([0.0, 0.0, 0.0, 0.0, 0.0]) + 0.01
    close[0], close[4] = 0.49, 0.47
    assert fuse(close, prior, 0.5).argmax() == 4
    clear = np.array([0.96, 0.01, 0.01, 0.01, 0.01])
    assert fuse(clear, prior, 0.5).argmax() == 0


def test_fuse_survives_zero_and_tiny_values():
    post = fuse(np.array([0.0, 1e-300, 1.0, 0.0, 0.0]), np.array([1.0, 0, 0, 0, 0]), 3.0)
    assert np.isfinite(post).all() and post.sum() == pytest.approx(1.0)


def test_region_likelihood_ignores_none_and_weights_windows():
    # two cell windows saying V, one empty window saying (renormalised) II: the empty one barely votes
    probs = np.array(
        [
            [0.0, 0.0, 0.0, 0.9, 0.05, 0.05],
            [0.0, 0.0, 0.0, 0.8, 0.1, 0.1],
            [0.05, 0.0, 0.0, 0.0, 0.0, 0.95],
        ]
    )
    lik = region_likelihood(probs)
    assert lik.probs.argmax() == 3
    assert lik.probs.sum() == pytest.approx(1.0)
    assert lik.presence == pytest.approx((0.95 + 0.9 + 0.05) / 3)
    # overlap weights: a window barely inside the region says little
    w = region_likelihood(probs[[0, 2]], overlap=np.array([0.01, 1.0]))
    assert w.presence < 0.1


def test_mostly_none_windows_lower_confidence():
    cell = np.array([[0.0, 0.0, 0.0, 0.0, 0.9, 0.1]] * 4)
    empty = cell.copy()
    empty[:, 5] = 0.85
    empty[:, 4] = 0.15
    assert region_likelihood(cell).probs.max() > 0.85
    assert region_likelihood(empty).probs.max() < region_likelihood(cell).probs.max() - 0.2


def test_no_windows_is_uniform():
    lik = region_likelihood(np.zeros((0, 6)))
    np.testing.assert_allclose(lik.probs, 0.2)
    assert lik.presence == 0 and lik.n_windows == 0


def test_one_pooling_rule_for_the_cascade_and_the_model_evaluation():
    from zoomgrade.models.pooling import pool_windows
    from zoomgrade.models.runners import combine_windows

    probs = np.array([[0.6, 0.2, 0.1, 0.05, 0.05, 0.0], [0.0, 0.0, 0.5, 0.5, 0.0, 0.5], [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]])
    assert np.allclose(pool_windows(probs), combine_windows(probs))
    # weights: the cascade's overlap * P(cell); a window with no weight says nothing
    assert np.allclose(pool_windows(probs, np.array([0.0, 1.0, 0.0])), [0, 0, 0.5, 0.5, 0])
    lik = region_likelihood(probs, np.array([1.0, 0.5, 0.25]))
    p_cell = 1 - probs[:, -1]
    trust = min(1.0, 2 * float((np.array([1.0, 0.5, 0.25]) * p_cell).sum() / 1.75))
    expect = trust * pool_windows(probs, np.array([1.0, 0.5, 0.25]) * p_cell) + (1 - trust) / 5
    assert np.allclose(lik.probs, expect / expect.sum())
