"""The headline intervals: exact binomial for the proportions over slides (never [1, 1] from a handful of
slides all right), the percentile bootstrap for the other figures, the method named in each."""

from __future__ import annotations

import pytest

from zoomgrade.evaluation.intervals import BOOTSTRAP, EXACT, intervals, proportion_interval
from zoomgrade.evaluation.metrics import bootstrap, slide_metrics
from zoomgrade.evaluation.run import ModeRecord, SlideRecord
from zoomgrade.labels import TBSRTC


def _rec(name, truth, category, pairs=(("II", "II", 0.9),)):
    m = ModeRecord("cascade", category, 1.0, list(pairs), [], [], len(pairs), "r")
    return SlideRecord(name, truth, None, {"cascade": m})


def test_all_correct_slides_get_a_lower_bound_below_one():
    recs = [_rec("a", "V", "V"), _rec("b", "VI", "VI"), _rec("c", "V", "V"), _rec("d", "VI", "VI")]
    ci = intervals(recs, "cascade", TBSRTC, n_boot=200)
    for k in ("slide_accuracy", "malignant_sensitivity"):
        assert ci[k]["method"] == EXACT and (ci[k]["k"], ci[k]["n"]) == (4, 4)
        # Clopper-Pearson of 4/4: the lower bound solves p**4 = 0.025
        assert ci[k]["lo"] == pytest.approx(0.025**0.25) and ci[k]["lo"] < 1 and ci[k]["hi"] == 1
    # what the percentile bootstrap says of the same slides: the collapse the exact interval avoids
    assert bootstrap(recs, "cascade", TBSRTC, n=200)["slide_accuracy"]["lo"] == 1.0
    nd = ci["nondiagnostic_rate"]
    assert (nd["k"], nd["n"], nd["lo"]) == (0, 4, 0) and nd["hi"] == pytest.approx(1 - 0.025**0.25)


def test_other_figures_keep_the_bootstrap():
    recs = [
        _rec("a", "II", "II", [("II", "II", 0.9), ("III", "II", 0.6)]),
        _rec("b", "IV", "IV", [("IV", "IV", 0.8)]),
        _rec("c", "V", "VI", [("V", "VI", 0.7), ("V", "V", 0.9)]),
    ]
    ci = intervals(recs, "cascade", TBSRTC, n_boot=200)
    for k in ("region_macro_f1", "region_qwk", "ece"):
        assert ci[k]["method"] == BOOTSTRAP and ci[k]["draws"] > 0 and ci[k]["lo"] <= ci[k]["hi"]
    acc = ci["slide_accuracy"]
    assert (acc["k"], acc["n"]) == (2, 3) and acc["lo"] < 2 / 3 < acc["hi"]


def test_proportion_without_slides_has_no_interval():
    assert proportion_interval(0, 0)["lo"] is None
    ci = intervals([_rec("a", "II", "II")], "cascade", TBSRTC, n_boot=50)
    assert ci["malignant_sensitivity"]["lo"] is None  # no malignant-side slide: nothing to bound
    assert ci["region_qwk"]["lo"] is None  # one slide: no resampling


def test_a_withheld_slide_is_counted_apart_not_as_an_answer():
    recs = [_rec("a", "II", "II"), _rec("b", "V", None), _rec("c", "V", "V")]
    sl = slide_metrics(recs, "cascade", TBSRTC)
    assert sl["withheld"] == 1 and sl["n"] == 2 and sl["accuracy"] == 1.0 and sl["n_graded"] == 2
    assert sl["counts"]["malignant_n"] == 1
