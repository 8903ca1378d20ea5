"""How many unread regions the early stop allows to be under-graded surprises: the binomial bound, and the
validation slides' prior with its posterior predictive."""

import numpy as np
import pytest

from zoomgrade.cascade.undergrade import Undergrade, betabinom_ppf, coarse_indices, undergrade_from_config
from zoomgrade.labels import TBSRTC


def test_binomial_bound():
    u = Undergrade({0: 0.01}, confidence=0.999)
    assert u.most(500, 0, 2) < 20 and u.most(500, 0, 2) >= 5  # mean 5: the 0.999 quantile a little above
    assert u.most(10, 4, 4) == 10  # within reach: every one may be evidence
    assert Undergrade({}).most(7, 0, 3) == 7  # nothing measured: anything


@pytest.mark.parametrize(("n", "a", "b"), [(1, 0.5, 0.5), (40, 0.2, 3.0), (300, 0.03, 1.0), (700, 5.0, 50.0)])
def test_the_predictive_quantile_is_scipys(n, a, b):
    from scipy.stats import betabinom

    for q in (0.5, 0.9, 0.999):
        assert betabinom_ppf(q, n, a, b) == int(betabinom.ppf(q, n, a, b))


def test_a_prior_bounds_the_count_by_the_slides_own_reading():
    co = coarse_indices(TBSRTC)  # II benign; III, IV suspicious follicular; V, VI malignant
    prior = {(0, 2): (0.2, 2.5)}  # benign-called regions as malignant evidence: none on most slides, some on a few

    def under(seen_k, seen_c, priors):
        return Undergrade({0: 0.5}, seen={(0, 3): seen_k}, seen_coarse={(0, 2): seen_c}, priors=priors, coarse_of=co)

    bare, with_prior = under((200, 0), (200, 0), {}), under((200, 0), (200, 0), prior)
    # 200 read, none evidence: the slide alone allows the 0.999-quantile at its Clopper-Pearson rate (3.4%);
    # the prior says a slide showing none in 200 is almost surely one of the slides with none
    assert with_prior.most(300, 0, 3) < bare.most(300, 0, 3)
    assert with_prior.most(300, 0, 1) == bare.most(300, 0, 1)  # III: no prior for benign -> suspicious
    # a slide whose reading shows under-grading (40 of 200) is bounded above its own share (60 of 300)
    assert under((200, 40), (200, 40), prior).most(300, 0, 3) > 60


def test_the_prior_bound_covers_slides_drawn_from_it():
    """Slides drawn from the prior, read in part: the predictive quantile covers what the unread hold."""
    rng = np.random.default_rng(11)
    a, b, q = 0.2, 2.5, 0.99
    held = 0
    for _ in range(3000):
        rate = rng.beta(a, b)
        j, n = int(rng.integers(5, 200)), int(rng.integers(5, 400))
        e = rng.binomial(j, rate)
        held += rng.binomial(n, rate) <= betabinom_ppf(q, n, a + e, b + j - e)
    assert held / 3000 >= q - 0.006  # a few standard errors of 3,000 draws under the quantile


def test_the_config_names_its_priors_by_coarse_grades():
    from zoomgrade.cascade.config import config_from_dict
    from zoomgrade.cascade.labelled import config_for_labels
    from zoomgrade.errors import ConfigError

    es = config_from_dict({"early_stop": {"undergrade_prior": {"benign": {"malignant": [0.2, 2.0]}}}}).early_stop
    under = undergrade_from_config(es, TBSRTC)
    assert under.priors == {(0, 2): (0.2, 2.0)}  # reach of benign (II) -> malignant; the default table replaced
    assert under.coarse_of == (0, 1, 1, 2, 2)
    assert undergrade_from_config(config_from_dict({}).early_stop, TBSRTC).priors == {}  # "models", not resolved
    with pytest.raises(ConfigError, match=r"early_stop\.undergrade_prior: .*malignant -> benign"):
        config_for_labels(
            config_from_dict({"early_stop": {"undergrade_prior": {"malignant": {"benign": [1, 2]}}}}), TBSRTC
        )


def test_a_benign_slide_stops_sooner_with_the_prior(shipped_models):
    """The reading stop on a slide of 400 benign-looking regions, every one read II: the category (II,
    adequate) is decided after fewer regions with the shipped models' prior than with the slide's alone."""
    from cascade_builders import make_grade, make_region

    from zoomgrade.cascade.config import config_from_dict
    from zoomgrade.cascade.measured import from_models
    from zoomgrade.cascade.reading_stop import ReadingStop

    def reads(es: dict) -> int:
        regions = [make_region(i, (1.0, 0.0, 0.0), area_um2=3000.0) for i in range(400)]
        cfg = from_models(config_from_dict({"early_stop": {"recall": 0.0, **es}}), *shipped_models, TBSRTC)
        stop = ReadingStop(regions, TBSRTC, cfg)
        for i in range(400):
            stop.graded_as(i, make_grade("II", conf=0.9, est_cells=20, rid=i))
            verdict = stop.check()
            if verdict is not None:
                assert verdict.category is None and verdict.adequate
                assert ("given the validation slides' prior" in verdict.reason) == (es == {})
                return i + 1
        return 400

    with_prior, alone = reads({}), reads({"undergrade_prior": {}})
    assert with_prior < alone < 400


def test_the_unread_regions_that_must_be_groups():
    from scipy.stats import betabinom

    u = Undergrade({}, confidence=0.999, groups={0: (200, 196)})
    assert u.least_groups(300, 0) == int(betabinom.ppf(0.001, 300, 197, 5))
    assert 250 < u.least_groups(300, 0) < 300  # 98% of those read were groups: most of the rest are
    assert Undergrade({}, groups={0: (200, 0)}).least_groups(300, 0) == 0  # none were: none assumed
    assert u.least_groups(300, 2) == 0  # none of that reach read: none assumed


def test_the_group_floor_covers_slides_drawn_at_random():
    """Slides whose share of groups is anything (uniform), read in part: the floor holds at its confidence."""
    rng = np.random.default_rng(5)
    held = 0
    for _ in range(3000):
        share = rng.uniform()
        j, n = int(rng.integers(5, 200)), int(rng.integers(5, 400))
        u = Undergrade({}, confidence=0.99, groups={0: (j, int(rng.binomial(j, share)))})
        held += rng.binomial(n, share) >= u.least_groups(n, 0)
    assert held / 3000 >= 0.99 - 0.006


def test_the_reading_stop_counts_dismissed_regions_as_read_and_no_groups():
    """A slide of 400 benign-looking regions, every other one read dismissed (too few nuclei), the rest graded
    II: the verdict's floor is the one half the regions read being groups gives."""
    import re

    from cascade_builders import make_grade, make_region

    from zoomgrade.cascade.config import config_from_dict
    from zoomgrade.cascade.reading_stop import ReadingStop

    regions = [make_region(i, (1.0, 0.0, 0.0), area_um2=3000.0) for i in range(400)]
    cfg = config_from_dict({"early_stop": {"recall": 0.0, "undergrade": {"benign": 0.01}}})
    stop = ReadingStop(regions, TBSRTC, cfg)
    verdict = None
    for i in range(400):
        if i % 2:
            stop.graded_as(i, make_grade("II", conf=0.9, est_cells=20, rid=i))
        else:
            stop.dismissed(i)
        verdict = stop.check()
        if verdict is not None:
            break
    assert verdict is not None and verdict.category is None
    read = 400 - len(stop.unread)
    floor = int(re.search(r"at least (\d+) of them gradable groups", verdict.reason).group(1))
    assert floor == Undergrade({}, groups={0: (read, read // 2)}).least_groups(len(stop.unread), 0)
    assert 0 < floor < len(stop.unread) / 2
