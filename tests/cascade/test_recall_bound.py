"""The early stop's recall bound: the pure bound, the bookkeeping that feeds it, and the reason a graded
slide records."""

from __future__ import annotations

import numpy as np
import pytest
from cascade_builders import make_grade, make_region

from zoomgrade.cascade import grade
from zoomgrade.cascade.config import config_from_dict
from zoomgrade.cascade.reading_stop import ReadingStop
from zoomgrade.cascade.recall_bound import RecallTarget, rate_bound, recall_check, unread_bound
from zoomgrade.labels import TBSRTC

BENIGN, SUSPICIOUS, MALIGNANT = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def test_the_config_keys_are_checked():
    from zoomgrade.errors import ConfigError

    assert config_from_dict({}).early_stop.recall == 0.99
    with pytest.raises(ConfigError, match=r"early_stop\.recall"):
        config_from_dict({"early_stop": {"recall": 1.5}})
    with pytest.raises(ConfigError, match=r"early_stop\.recall_confidence"):
        config_from_dict({"early_stop": {"recall_confidence": 1.0}})


def test_rate_bound_is_one_without_a_sample_and_shrinks_with_it():
    assert rate_bound(0, 0, 0.9) == 1.0 and rate_bound(5, 5, 0.9) == 1.0
    assert rate_bound(100, 0, 0.9) == pytest.approx(1 - 0.1 ** (1 / 100))  # Clopper-Pearson with none seen
    assert rate_bound(400, 0, 0.9) < rate_bound(100, 0, 0.9) < rate_bound(100, 10, 0.9) < rate_bound(100, 10, 0.99)
    assert rate_bound(100, 10, 0.9) > 0.1  # above the share seen


def test_unread_bound_counts_every_unread_region_of_an_unsampled_coarse_grade():
    assert unread_bound({0: 30, 1: 4}, {}, 0.9) == 34
    assert unread_bound({0: 30, 1: 0}, {0: (100, 0)}, 0.9) == pytest.approx(30 * rate_bound(100, 0, 0.9))


def test_recall_check_holds_exactly_at_the_target_share():
    t = RecallTarget(0.98, 0.9, slack=0.0)
    seen = {0: (200, 20)}
    u = 10 * rate_bound(200, 20, 0.9)
    need = u * 0.98 / 0.02  # u <= 0.02 (found + u)
    assert not recall_check(int(np.floor(need)) - 1, {0: 10}, seen, t).holds
    assert recall_check(int(np.ceil(need)) + 1, {0: 10}, seen, t).holds
    assert recall_check(0, {}, seen, t).holds  # nothing unread that could hide a severe group


def test_slack_lets_a_slide_with_none_found_stop_and_target_zero_is_off():
    seen = {0: (300, 0)}
    u = 100 * rate_bound(300, 0, 0.9)
    assert 0.5 < u < 1.0
    assert recall_check(0, {0: 100}, seen, RecallTarget(0.98, 0.9, slack=1.0)).holds
    assert not recall_check(0, {0: 100}, seen, RecallTarget(0.98, 0.9, slack=0.5)).holds
    assert recall_check(0, {0: 10_000}, {}, RecallTarget(0.0)).holds


@pytest.mark.parametrize("seed", range(20))
def test_when_the_bound_holds_the_expected_recall_is_at_the_target(seed):
    """Random slides: the benign-looking regions hold severe groups at a hidden rate and are read in random
    order. Where the bound lets reading stop, the expected recall (severe groups found over found plus the
    expected unread) must reach the target in at least nine of ten stops (the bound's confidence)."""
    rng = np.random.default_rng(seed)
    t = RecallTarget(0.9, 0.9, slack=0.0)
    ok = stops = 0
    for _ in range(50):
        rate, n = float(rng.uniform(0, 0.4)), int(rng.integers(50, 400))
        found_first = int(rng.integers(0, 60))  # the most severe coarse grade's regions, read first
        severe = rng.random(n) < rate
        for j in range(16, n, 16):
            e = int(severe[:j].sum())
            if recall_check(found_first + e, {0: n - j}, {0: (j, e)}, t).holds:
                found, missed = found_first + e, (n - j) * rate
                stops += 1
                ok += found + missed == 0 or found / (found + missed) >= t.target
                break
    assert stops > 25  # the bound does let reading stop, on most of the 50
    assert ok / stops >= 0.9


def _stop(
    n_benign: int, recall: float, n_vi: int = 30, prior: dict | None = None, slack: float = 0.0
) -> tuple[ReadingStop, int]:
    regions = [make_region(i, MALIGNANT, area_um2=8000.0) for i in range(n_vi)]
    regions += [make_region(n_vi + i, BENIGN, area_um2=3000.0) for i in range(n_benign)]
    # under-grading bounded as the shipped models' card measured it (before, 0.5 and 0.4)
    es = {"recall": recall, "recall_slack": slack, "recall_prior": prior or {}, "undergrade": {"benign": 0.5}}
    cfg = config_from_dict({"early_stop": es})
    stop = ReadingStop(regions, TBSRTC, cfg)
    for i in range(n_vi):  # the malignant-looking ones, read first, all VI
        stop.graded_as(i, make_grade("VI", conf=0.97, area_um2=8000.0, est_cells=40, rid=i))
    return stop, n_vi


def test_category_decided_first_then_the_recall_bound_stops_reading():
    stop, k = _stop(60, 0.98)
    assert stop.check() is None  # VI is decided, but 60 benign-looking regions are unread and unsampled
    assert stop.category_decided_at == k
    assert stop.recall_now().unread_bound == 60
    old, _ = _stop(60, 0.0)
    assert old.check() is not None and old.stopped_by == "category"  # the old rule stops here
    verdict = None
    for i in range(k, k + 60):
        stop.graded_as(i, make_grade("II", conf=0.9, est_cells=20, rid=i))
        verdict = stop.check()
        if verdict is not None:
            break
    assert verdict is not None and stop.stopped_by == "recall"
    assert verdict.reason.startswith("the recall bound") and "V/VI" in verdict.reason
    assert stop.unread  # it stopped before the last one
    assert stop.recall_now().unread_bound <= 0.02 / 0.98 * stop.recall_now().found


def test_a_graded_slide_records_which_condition_stopped_reading(synth_slide, shipped_models):
    path = synth_slide("VI")
    old = grade(path, {"early_stop": {"recall": 0.0}}, models=shipped_models).reading
    new = grade(path, models=shipped_models).reading
    assert old is not None and new is not None
    assert new["unread"] <= old["unread"]  # the bound only adds a condition
    for r in (old, new):
        assert r["stopped_by"] in ("category", "recall") if r["stopped"] else r["stopped_by"] is None
    if old["stopped"]:
        assert old["reason"].startswith("the category and adequacy")
    if new["stopped"]:
        assert new["reason"].startswith("the " + ("recall bound" if new["stopped_by"] == "recall" else "category"))
    else:
        assert new["reason"].startswith("every region read")


def test_with_a_prior_the_bound_is_the_posterior_quantile():
    from scipy.stats import beta

    prior = (0.35, 3.4)
    assert rate_bound(0, 0, 0.9, prior) == pytest.approx(beta.ppf(0.9, 0.35, 3.4))  # before any is read
    assert rate_bound(100, 0, 0.9, prior) == pytest.approx(beta.ppf(0.9, 0.35, 103.4))
    assert rate_bound(100, 0, 0.9, prior) < rate_bound(100, 0, 0.9)  # none seen: below the slide alone
    # many severe read: the slide's own share dominates, and the bound stays above it
    assert 0.25 < rate_bound(400, 100, 0.9, prior) < rate_bound(400, 100, 0.99, prior) < 0.31
    assert unread_bound({0: 50, 1: 10}, {0: (100, 0)}, 0.9, {0: prior}) == pytest.approx(
        50 * rate_bound(100, 0, 0.9, prior) + 10  # grade 1 has no prior and no sample: every region counts
    )


@pytest.mark.parametrize("seed", range(3))
def test_with_the_prior_the_expected_recall_is_at_the_target_on_slides_drawn_from_it(seed):
    """Slides whose benign-looking regions' severe share is drawn from the prior itself (most near none, a
    few with many): where the posterior bound lets reading stop, the expected recall reaches the target (or
    the slack) in at least nine of ten stops, and it stops sooner than the slide-only bound. 300 slides:
    the share of stops that hold varies by about 0.013 from seed to seed."""
    rng = np.random.default_rng(1000 + seed)
    prior = (0.26, 2.68)  # the shipped benign prior
    t, t0 = RecallTarget(0.9, 0.9, slack=1.0, priors={0: prior}), RecallTarget(0.9, 0.9, slack=1.0)
    ok = stops = 0
    read_with = read_without = 0
    for _ in range(300):
        rate, n = float(rng.beta(*prior)), int(rng.integers(50, 400))
        found_first = int(rng.integers(0, 60))
        severe = rng.random(n) < rate
        first = {}
        for j in range(8, n, 8):
            e = int(severe[:j].sum())
            for name, target in (("with", t), ("without", t0)):
                if name not in first and recall_check(found_first + e, {0: n - j}, {0: (j, e)}, target).holds:
                    first[name] = j
                    if name == "with":
                        found, missed = found_first + e, (n - j) * rate
                        stops += 1
                        ok += missed <= max((1 - t.target) * (found + missed), t.slack)
        read_with += first.get("with", n)
        read_without += first.get("without", n)
    assert stops > 250
    assert ok / stops >= 0.9
    assert read_with < read_without


def test_a_prior_lets_a_slide_with_none_found_stop_sooner():
    def reads(prior: dict | None) -> int:
        stop, _ = _stop(300, 0.99, n_vi=0, prior=prior, slack=1.0)
        for i in range(300):
            stop.graded_as(i, make_grade("II", conf=0.9, est_cells=20, rid=i))
            if stop.recall_now().holds:
                return i + 1
        return 300

    with_prior, alone = reads({"benign": [0.26, 2.68]}), reads(None)
    assert with_prior < alone


def test_the_prior_table_replaces_the_default_and_is_checked():
    from zoomgrade.errors import ConfigError

    assert config_from_dict({}).early_stop.recall_prior == "models"  # the models' card's (cascade/measured.py)
    assert config_from_dict({"early_stop": {"recall_prior": {}}}).early_stop.recall_prior == {}
    one = config_from_dict({"early_stop": {"recall_prior": {"suspicious_follicular": [0.5, 2.0]}}})
    assert one.early_stop.recall_prior == {"suspicious_follicular": (0.5, 2.0)}  # benign's is not kept
    for bad in ({"benign": [0.0, 1.0]}, {"benign": [1.0]}, {"benign": [1.0, 2.0, 3.0]}, "model"):
        with pytest.raises(ConfigError, match=r"early_stop\.recall_prior"):
            config_from_dict({"early_stop": {"recall_prior": bad}})
