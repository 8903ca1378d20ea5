from pathlib import Path

import pytest

from zoomgrade.cascade.config import GradeConfig, config_from_dict, default_config, load_config
from zoomgrade.cascade.labelled import config_for_labels
from zoomgrade.errors import ConfigError
from zoomgrade.labels import TBSRTC


def test_shipped_defaults_equal_dataclass_defaults():
    assert default_config() == GradeConfig()


def test_every_default_key_is_commented():
    # Every key of default.toml is documented by a comment line right above it or in its section's block.
    import zoomgrade

    text = (Path(zoomgrade.__file__).parent / "config" / "default.toml").read_text().splitlines()
    for i, line in enumerate(text):
        if "=" in line and not line.lstrip().startswith("#"):
            above = [t for t in text[max(0, i - 8) : i] if t.strip()]
            assert any(t.lstrip().startswith("#") for t in above), f"undocumented key: {line}"


def test_load_overrides_only_given_keys(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[fusion]\nprior_weight = 1\n[slide_rule]\nmin_count = { VI = 1 }\n[fallback]\nenabled = false\n")
    cfg = load_config(p)
    assert cfg.fusion.prior_weight == 1.0 and isinstance(cfg.fusion.prior_weight, float)
    assert cfg.fallback.enabled is False
    assert cfg.slide_rule.min_count["VI"] == 1
    assert "III" not in cfg.slide_rule.min_count  # the label set gives the rest, when grading
    used = config_for_labels(cfg, TBSRTC)
    assert used.slide_rule.min_count["VI"] == 1
    assert used.slide_rule.min_count["III"] == TBSRTC.slide_rule["min_count"]["III"]  # merged, not replaced
    assert used.fallback.severity_from == TBSRTC.severity_from
    assert cfg.stage1 == GradeConfig().stage1


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[fusion]\nprior_wieght = 1\n", "prior_wieght"),
        ("[stage3]\nmpp = 1\n", "stage3"),
        ("[stage2]\nbatch_size = 'big'\n", "batch_size"),
        ("[fallback]\nenabled = 1\n", "enabled"),
        ("[stage1]\nmpp = -2\n", "stage1.mpp"),
        ("[fallback]\nseverity_from = 5\n", "severity_from"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, key):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and key in str(err.value)


def test_not_toml_and_missing_file(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[fusion\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")


def test_from_dict_and_roundtrip():
    cfg = config_from_dict({"budget": {"high_power_megapixels": 5}})
    assert cfg.budget.high_power_megapixels == 5.0
    assert config_from_dict(cfg.to_dict()) == cfg


def test_config_built_in_code_is_checked_before_the_slide_is_opened(tmp_path):
    import dataclasses

    from zoomgrade.cascade import grade

    cfg = GradeConfig()
    cfg = dataclasses.replace(cfg, fallback=dataclasses.replace(cfg.fallback, severity_from="VII"))
    with pytest.raises(ConfigError, match="severity_from"):
        grade(tmp_path / "missing.svs", cfg)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[fallback]\nseverity_from = 'VII'\n", "fallback.severity_from"),
        ("[slide_rule]\nmin_count = { VII = 2 }\n", "slide_rule.min_count.VII"),
        (f"[slide_rule]\nmin_share = {{ {TBSRTC.fine[0]} = 0.1 }}\n", f"slide_rule.min_share.{TBSRTC.fine[0]}"),
    ],
)
def test_a_config_naming_a_grade_the_label_set_lacks_is_refused_naming_file_and_key(tmp_path, text, key):
    from zoomgrade.cascade import grade

    p = tmp_path / "grades.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        grade(tmp_path / "missing.svs", p)  # refused before the slide is opened
    assert str(p) in str(err.value) and key in str(err.value) and TBSRTC.name in str(err.value)
