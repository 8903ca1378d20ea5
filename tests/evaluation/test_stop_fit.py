"""The early stop's fit: the beta-binomial estimator, the priors it makes of slides' counts, the card
record, and fitting a model folder on a folder of slides."""

from __future__ import annotations

import numpy as np
import pytest

from zoomgrade.evaluation.stop_fit import (
    MIN_SLIDES,
    card_record,
    describe,
    fit_beta_binomial,
    fit_undergrade,
    fitted_anything,
    measured_on,
    too_few_slides,
    worst_shares,
)


@pytest.mark.parametrize(("a", "b"), [(0.3, 3.0), (2.0, 6.0)])
def test_the_fit_recovers_the_spread_of_simulated_slides(a, b):
    rng = np.random.default_rng(7)
    n = rng.integers(10, 200, size=400)
    k = rng.binomial(n, rng.beta(a, b, size=len(n)))
    fa, fb = fit_beta_binomial(n, k)
    assert fa / (fa + fb) == pytest.approx(a / (a + b), rel=0.15)  # the mean share
    assert fa + fb == pytest.approx(a + b, rel=0.35)  # how far slides spread around it


def test_slides_that_all_share_one_rate_fit_a_narrow_prior():
    rng = np.random.default_rng(3)
    n = rng.integers(50, 300, size=200)
    fa, fb = fit_beta_binomial(n, rng.binomial(n, 0.1))
    assert fa + fb > 50  # a binomial world: slide-to-slide spread is none, so a + b grows large
    assert fa / (fa + fb) == pytest.approx(0.1, rel=0.1)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        fit_beta_binomial([], [])
    with pytest.raises(ValueError):
        fit_beta_binomial([5, 3], [2, 4])  # more severe than regions


def test_the_under_grade_fit_leaves_out_pairs_it_cannot_fit():
    rows = [
        {"undergrade": {"benign": {"suspicious_follicular": (50, 0), "malignant": (50, 0)}}},
        {"undergrade": {"benign": {"suspicious_follicular": (40, 12), "malignant": (40, 0)}}},
        {"undergrade": {"suspicious_follicular": {"malignant": (10, 10)}}},  # all on one slide ...
        {"undergrade": {"suspicious_follicular": {"malignant": (12, 0)}}},  # ... none on another
        {"counts": {"benign": (5, 0)}},  # an older file's row, without under-grade counts
    ]
    fitted = fit_undergrade(rows, min_slides=1)
    assert set(fitted) == {"benign"} and set(fitted["benign"]) == {"suspicious_follicular"}  # never seen: none
    assert all(x > 0 for x in fitted["benign"]["suspicious_follicular"])


def test_the_card_record_of_the_fits():
    rows = [
        {
            "seed": 60000,
            "size_mm": [4, 4],
            "counts": {"benign": (50, 0)},
            "undergrade": {"benign": {"malignant": (50, 0)}},
        },
        {
            "seed": 60001,
            "size_mm": [4, 4],
            "counts": {"benign": (40, 12)},
            "undergrade": {"benign": {"malignant": (40, 12)}},
        },
        {
            "seed": 60100,
            "size_mm": [20, 20],
            "counts": {"benign": (90, 1)},
            "undergrade": {"benign": {"malignant": (90, 1)}},
        },
        {"slide": "/x/a.svs", "counts": {"benign": (9, 0)}, "undergrade": {"benign": {"malignant": (9, 0)}}},
    ]
    assert worst_shares(rows, min_slides=1) == {"benign": 0.3}
    words = measured_on(rows)
    assert words.startswith("4 validation slides") and "seeds 60000-60001 at 4 x 4 mm" in words
    assert "seed 60100 at 20 x 20 mm" in words and "1 slides of a folder" in words
    rec = card_record(rows, {"stage2.safetensors": "ab" * 32}, min_slides=1)
    assert set(rec) == {"undergrade", "undergrade_prior", "recall_prior", "stage2_files", "measured_on"}
    under = fit_undergrade(rows, min_slides=1)["benign"]["malignant"]
    assert rec["undergrade_prior"]["benign"]["malignant"] == list(under)
    assert fitted_anything(rec)
    # by default four slides are too few to say how slides differ: nothing measured, and it says why
    thin = card_record(rows, {"stage2.safetensors": "ab" * 32})
    assert not fitted_anything(thin) and too_few_slides(rows) == {"benign": 4}
    assert any(
        "benign: regions on 4 slides, fewer than the 20" in line for line in describe(thin, too_few_slides(rows))
    )


def test_a_grade_is_fitted_from_enough_slides_only():
    """The worst share and both priors of a coarse grade come from at least MIN_SLIDES slides with its
    regions; a grade on fewer is left to each slide's own regions, whatever the others have."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(MIN_SLIDES):
        n = int(rng.integers(30, 120))
        k = int(rng.binomial(n, rng.beta(0.5, 6)))
        row = {"counts": {"benign": (n, k)}, "undergrade": {"benign": {"malignant": (n, k)}}}
        if i < MIN_SLIDES - 1:  # suspicious regions on one slide fewer than it takes
            row["counts"]["suspicious_follicular"] = (10, i % 3)
            row["undergrade"]["suspicious_follicular"] = {"malignant": (10, i % 3)}
        rows.append(row)
    rec = card_record(rows, {})
    assert set(rec["recall_prior"]) == {"benign"} and set(rec["undergrade_prior"]) == {"benign"}
    assert set(rec["undergrade"]) == {"benign"}
    assert too_few_slides(rows) == {"suspicious_follicular": MIN_SLIDES - 1}
    assert set(card_record(rows[:-1], {})["recall_prior"]) == set()  # one slide fewer: benign too


def test_a_generated_slides_origin_comes_from_its_truth_file_and_anything_else_is_a_folders_slide(tmp_path):
    """A malformed or missing truth file leaves the slide in the fit as one of a folder: never an error."""
    from zoomgrade.evaluation.stop_counts import generated_origin

    texts = {
        "good": '{"seed": 60100, "size_mm": [20, 20]}',
        "seed-text": '{"seed": "abc", "size_mm": [4, 4]}',
        "size-number": '{"seed": 5, "size_mm": 4}',
        "size-empty": '{"seed": 5, "size_mm": []}',
        "list": "[1, 2]",
        "not-json": "not json",
    }
    for name, text in texts.items():
        (tmp_path / f"{name}.truth.json").write_text(text)
    assert generated_origin(tmp_path / "good.svs") == {"seed": 60100, "size_mm": [20.0, 20.0]}
    for name in [*list(texts)[1:], "missing"]:
        assert generated_origin(tmp_path / f"{name}.svs") == {}, name
