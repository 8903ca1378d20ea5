"""Class 3 of issue 24: every config key typed and ranged; nonsense is refused with its key path, never graded."""

from __future__ import annotations

import dataclasses

import pytest

from zoomgrade.cascade.config import GradeConfig, config_from_dict, load_config, resolve_config, validate
from zoomgrade.cascade.labelled import config_for_labels
from zoomgrade.errors import ConfigError
from zoomgrade.labels import TBSRTC


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[fusion]\nprior_weight = inf\n", "fusion.prior_weight"),
        ("[fusion]\nprior_weight = nan\n", "fusion.prior_weight"),
        ("[fusion]\nprior_weight = 1e308\n", "fusion.prior_weight"),
        ("[stage1]\ngroup_threshold = 1.5\n", "stage1.group_threshold"),
        ("[fallback]\nconfidence_threshold = -0.1\n", "fallback.confidence_threshold"),
        ("[exhaustive]\nmin_tissue_fraction = 2\n", "exhaustive.min_tissue_fraction"),
        ("[stage2]\nwindow_px = -5\n", "stage2.window_px"),
        ("[stage2]\nwindow_px = 3\n", "stage2.window_px"),
        ("[exhaustive]\ntile_px = 100000\n", "exhaustive.tile_px"),
        ("[stage2]\nbatch_size = 0\n", "stage2.batch_size"),
        ("[stage2]\nreaders = 100000\n", "stage2.readers"),
        ("[stage2]\nmpp = 1e-6\n", "stage2.mpp"),
        ("[stage1]\nmpp = 0.01\n", "stage1.mpp"),  # 0 is the card's; anything else a resolution
        ("[stage1]\nmpp = inf\n", "stage1.mpp"),
        ("[exhaustive]\nmask_mpp = 0\n", "exhaustive.mask_mpp"),
        ("[stage2]\nbatch_size = 3.0\n", "stage2.batch_size"),
        ('[stage2]\nbatch_size = "32"\n', "stage2.batch_size"),
        ('[stage2]\nlattice = "yes"\n', "stage2.lattice"),
        ("[budget]\nseconds = -1\n", "budget.seconds"),
        ("[slide_rule]\nmin_share = { VI = 1.5 }\n", "slide_rule.min_share.VI"),
        ("[slide_rule]\nmin_count = 3\n", "slide_rule.min_count"),
        ("[limits]\nmemory_mb = 1\n", "limits.memory_mb"),
        ("[limits]\nspeed = 1\n", "limits.speed"),
        ("stage1 = 5\n", "stage1"),
        (
            "[early_stop]\nundergrade_prior = { benign = { malignant = [0, 1] } }\n",
            "early_stop.undergrade_prior.benign.malignant[0]",
        ),
        ("[early_stop]\nundergrade_prior = { benign = [0.2, 1] }\n", "early_stop.undergrade_prior.benign"),
    ],
)
def test_nonsense_is_refused_with_its_key_path(tmp_path, text, path):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and f"{path}:" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[slide_rule]\nmin_count = { VII = 1 }\n", "slide_rule.min_count.VII"),
        ("[slide_rule]\nmin_confidence = { vi = 0.5 }\n", "slide_rule.min_confidence.vi"),
        ("[slide_rule]\nmin_share = { II = 0.5 }\n", "slide_rule.min_share.II"),
        ('[fallback]\nseverity_from = "v"\n', "fallback.severity_from"),
        (
            "[early_stop]\nundergrade_prior = { benign = { Malignant = [1, 1] } }\n",
            "early_stop.undergrade_prior.benign.Malignant",
        ),
        (
            "[early_stop]\nundergrade_prior = { malignant = { benign = [1, 1] } }\n",
            "early_stop.undergrade_prior",
        ),
        ("[early_stop]\nundergrade = { Benign = 0.1 }\n", "early_stop.undergrade.Benign"),
        ("[early_stop]\nrecall_prior = { atypical = [1, 1] }\n", "early_stop.recall_prior.atypical"),
    ],
)
def test_grade_names_the_label_set_lacks_are_refused_with_their_key_path(tmp_path, text, path):
    # Grade names are checked against the models' label set, known when grading (cascade/labelled.py)
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        config_for_labels(load_config(p), TBSRTC, str(p))
    msg = str(err.value)
    assert msg.startswith(str(p)) and f"{path}:" in msg and "\n" not in msg and TBSRTC.name in msg


def test_every_problem_in_one_error(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[stage1]\nmpp = -1\n[fusion]\nprior_floor = 0\n[stage2]\nfoo = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert all(k in msg for k in ("stage1.mpp", "fusion.prior_floor", "stage2.foo: unknown key"))


@pytest.mark.parametrize("blob", [b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", b"\xff\xfe[\x00s\x00", bytes(range(256))])
def test_binary_file_is_one_line(tmp_path, blob):
    p = tmp_path / "c.toml"
    p.write_bytes(blob)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and "\n" not in msg


def test_a_folder_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


def test_the_same_door_for_files_dicts_and_objects(tmp_path):
    bad = GradeConfig()
    bad = dataclasses.replace(bad, fusion=dataclasses.replace(bad.fusion, prior_weight=float("inf")))
    for cfg in (bad, {"fusion": {"prior_weight": float("inf")}}):
        with pytest.raises(ConfigError, match=r"fusion\.prior_weight"):
            resolve_config(cfg)
    good = resolve_config({"fusion": {"prior_weight": 2}})
    assert good.fusion.prior_weight == 2.0 and isinstance(good.fusion.prior_weight, float)
    assert validate(good, "x") == good and config_from_dict(good.to_dict()) == good


def test_grade_keys_follow_the_label_set():
    with pytest.raises(ConfigError, match="Bethesda-3"):
        config_for_labels(config_from_dict({"slide_rule": {"min_count": {"Bethesda-3": 1}}}), TBSRTC)
    d = GradeConfig().to_dict()
    d["slide_rule"].update(
        min_count={"B3": 1},
        min_area_um2={"B3": 0.0},
        min_confidence={"B3": 0.5},
        min_share={"B3": 0.0},
        min_pool_share={},
    )
    d["fallback"]["severity_from"] = "B3"
    ok = validate(d, "x", fine=("B2", "B3"))  # another label set's grades (given by its model card)
    assert ok.slide_rule.min_count == {"B3": 1}
    with pytest.raises(ConfigError, match=r"slide_rule\.min_count\.B3"):
        validate(d, "x", fine=TBSRTC.fine)


def test_early_stop_keys_are_checked():
    with pytest.raises(ConfigError, match=r"early_stop\.undergrade\.Benign"):  # coarse grades, case matters
        config_for_labels(config_from_dict({"early_stop": {"undergrade": {"Benign": 0.1}}}), TBSRTC)
    with pytest.raises(ConfigError, match=r"early_stop\.confidence"):
        config_from_dict({"early_stop": {"confidence": 1.0}})
    with pytest.raises(ConfigError, match=r"slide_rule\.min_pool_share\.VI"):
        config_from_dict({"slide_rule": {"min_pool_share": {"VI": 1.5}}})
    cfg = config_from_dict({"early_stop": {"undergrade": {"benign": 0.1}}})  # replaces the models' card's
    assert cfg.early_stop.undergrade == {"benign": 0.1}
