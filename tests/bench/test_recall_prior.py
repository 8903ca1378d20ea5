"""The recall prior's fit: the beta-binomial estimator, and the counts it is fitted to."""

from __future__ import annotations

import numpy as np
import pytest

from zoomgrade.bench.recall_prior import (
    fit,
    fit_beta_binomial,
    fit_undergrade,
    measure,
    slide_counts,
    undergrade_counts,
)
from zoomgrade.labels import TBSRTC


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


def test_bad_counts_and_held_out_seeds_are_refused(tmp_path):
    with pytest.raises(ValueError):
        fit_beta_binomial([], [])
    with pytest.raises(ValueError):
        fit_beta_binomial([5, 3], [2, 4])  # more severe than regions
    with pytest.raises(ValueError, match="validation seeds"):
        measure(2, (4, 4), 1_000_000, tmp_path)


def test_counts_of_a_slide_read_in_full(synth_slide):
    from zoomgrade.cascade import grade
    from zoomgrade.models.folder import load_default_models

    models = load_default_models("cpu")
    result = grade(synth_slide("VI"), {"early_stop": {"enabled": False}}, models=models)
    counts = slide_counts(result, TBSRTC)
    assert counts and set(counts) <= {"benign", "suspicious_follicular"}  # never the most severe coarse grade
    for c, (m, k) in counts.items():
        regions = [g for g in result.regions if g.region.coarse_grade == c]
        assert m == len(regions) and k == sum(g.fine_grade in ("V", "VI") for g in regions)
    priors = fit([{"counts": counts}, {"counts": {"benign": (40, 0)}}, {"counts": {"benign": (30, 3)}}])
    assert set(priors) <= set(counts) and all(x > 1e-6 for ab in priors.values() for x in ab)

    # the under-grade counts are the slide rule's own evidence (decision.evidence), per more severe coarse grade
    from zoomgrade.cascade.config import default_config
    from zoomgrade.cascade.decision import evidence, resolved

    cfg = default_config().slide_rule
    rule = resolved(cfg, TBSRTC)
    under = undergrade_counts(result, TBSRTC, cfg)
    assert set(under) == set(counts)
    for c, table in under.items():
        regs = [g for g in result.regions if g.region.coarse_grade == c]
        assert set(table) == set(TBSRTC.coarse[TBSRTC.coarse_index(c) + 1 :])
        for t, (j, e) in table.items():
            hit = {
                id(g)
                for f in TBSRTC.coarse_to_fine[t]
                for g, _ in evidence(regs, f, TBSRTC, rule.min_confidence[f], rule.min_cells)
            }
            assert j == len(regs) and e == len(hit)


def test_the_under_grade_fit_leaves_out_pairs_it_cannot_fit():
    rows = [
        {"undergrade": {"benign": {"suspicious_follicular": (50, 0), "malignant": (50, 0)}}},
        {"undergrade": {"benign": {"suspicious_follicular": (40, 12), "malignant": (40, 0)}}},
        {"undergrade": {"suspicious_follicular": {"malignant": (10, 10)}}},  # all on one slide ...
        {"undergrade": {"suspicious_follicular": {"malignant": (12, 0)}}},  # ... none on another
        {"counts": {"benign": (5, 0)}},  # an older file's row, without under-grade counts
    ]
    fitted = fit_undergrade(rows)
    assert set(fitted) == {"benign"} and set(fitted["benign"]) == {"suspicious_follicular"}  # never seen: none
    assert all(x > 0 for x in fitted["benign"]["suspicious_follicular"])


def test_a_pool_file_that_is_not_one_is_named_in_one_line(tmp_path):
    from zoomgrade.bench.recall_prior import main

    bad = tmp_path / "counts.json"
    bad.write_text("{not json")
    for f in (bad, tmp_path / "missing.json"):
        with pytest.raises(SystemExit, match=str(f)):
            main(["--pool", str(f), "--n", "1", "--slides-dir", str(tmp_path)])


def test_the_card_record_of_the_fits():
    from zoomgrade.bench.recall_prior import card_record, measured_on, worst_shares

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
    assert worst_shares(rows) == {"benign": 0.3}
    words = measured_on(rows)
    assert words.startswith("4 validation slides") and "seeds 60000-60001 at 4 x 4 mm" in words
    assert "seed 60100 at 20 x 20 mm" in words and "1 slides of a folder" in words
    rec = card_record(rows, {"stage2.safetensors": "ab" * 32})
    assert set(rec) == {"undergrade", "undergrade_prior", "recall_prior", "stage2_files", "measured_on"}
    assert rec["undergrade_prior"]["benign"]["malignant"] == list(fit_undergrade(rows)["benign"]["malignant"])


def test_write_card_puts_the_fit_into_a_model_folder(tmp_path, synth_slide, capsys):
    """The tool on a copy of the shipped models and a folder of the lab's slides: the stage-1 card gets the
    record, grading takes it from there, and the weights are untouched."""
    import shutil

    from zoomgrade.bench.recall_prior import main
    from zoomgrade.cascade import default_config
    from zoomgrade.cascade.measured import from_models
    from zoomgrade.models.card import early_stop_record
    from zoomgrade.models.folder import WEIGHTS_DIR, load_models

    folder, slides = tmp_path / "models", tmp_path / "slides"
    shutil.copytree(WEIGHTS_DIR, folder)
    slides.mkdir()
    for cat in ("II", "VI"):
        src = synth_slide(cat)
        shutil.copy(src, slides / src.name)
    (slides / "broken.svs").write_bytes(b"not a slide")
    before = (folder / "stage1.safetensors").read_bytes()
    main(["--models", str(folder), "--input", str(slides), "--write-card"])
    models = load_models(folder)
    rec = early_stop_record(*models)
    assert rec["measured_on"].startswith("2 validation slides") and "2 slides of a folder" in rec["measured_on"]
    assert rec["stage2_files"] == models[1].card.files and (folder / "stage1.safetensors").read_bytes() == before
    es = from_models(default_config(), *models, TBSRTC).early_stop
    assert es.undergrade == rec["undergrade"] and set(rec["undergrade"]) <= {"benign", "suspicious_follicular"}
    assert "broken.svs: left out" in capsys.readouterr().out


def test_bad_models_or_slide_folders_are_one_line_and_leave_the_card_alone(tmp_path, capsys):
    import shutil

    from zoomgrade.bench.recall_prior import main
    from zoomgrade.models.folder import WEIGHTS_DIR

    folder, empty = tmp_path / "models", tmp_path / "empty"
    shutil.copytree(WEIGHTS_DIR, folder)
    empty.mkdir()
    (empty / "broken.svs").write_bytes(b"not a slide")
    card = (folder / "stage1.json").read_bytes()
    for argv, says in (
        (["--models", str(tmp_path / "none"), "--input", str(empty)], "--models: "),
        (["--models", str(folder), "--input", str(tmp_path / "missing"), "--write-card"], "not a folder of slides"),
        (["--models", str(folder), "--input", str(empty), "--write-card"], "no slide could be graded"),
    ):
        with pytest.raises(SystemExit, match=says) as err:
            main(argv)
        assert "\n" not in str(err.value)
    assert (folder / "stage1.json").read_bytes() == card  # the record measured before is kept
