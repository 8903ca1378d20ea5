import numpy as np
import pytest

from zoomgrade.cascade.patch_rule import patch_rule
from zoomgrade.errors import ConfigError

RULE = {"none_threshold": 0.5, "min_count": 2, "min_fraction": 0.3, "min_confidence": 0.6}


def patch(grade_idx: int, conf: float = 0.9, p_none: float = 0.0) -> list[float]:
    p = np.full(5, (1 - conf) / 4)
    p[grade_idx] = conf
    return list(p * (1 - p_none)) + [p_none]


def test_few_confident_malignant_patches_outweigh_many_benign(labels):
    probs = np.array([patch(0)] * 10 + [patch(4, 0.9)] * 2)
    v = patch_rule(probs, labels, **RULE)
    assert v.grade == "VI" and v.rule == "severity"
    assert v.patch_grades.count("VI") == 2 and v.patch_grades.count("II") == 10
    assert v.probs.argmax() == 4  # probabilities of the deciding patches


def test_single_doubtful_severe_patch_does_not_decide(labels):
    # one VI patch among 10 benign: count 1 < 2 and fraction < 0.3 -> not enough
    v = patch_rule(np.array([patch(0)] * 10 + [patch(4, 0.95)]), labels, **RULE)
    assert v.grade == "II"
    # two VI patches but not confident enough -> not enough either
    v = patch_rule(np.array([patch(0)] * 10 + [patch(4, 0.45)] * 2), labels, **RULE)
    assert v.grade == "II"


def test_fraction_lets_a_small_region_decide(labels):
    v = patch_rule(np.array([patch(3, 0.8)]), labels, **RULE)
    assert v.grade == "V" and v.n_voting == 1


def test_empty_patches_do_not_vote(labels):
    probs = np.array([patch(4, 0.9, p_none=0.9)] * 5 + [patch(1, 0.8)] * 2)
    v = patch_rule(probs, labels, **RULE)
    assert v.grade == "III" and v.n_voting == 2 and v.n_patches == 7


def test_no_cells_at_all(labels):
    v = patch_rule(np.array([patch(2, 0.9, p_none=0.8)] * 3), labels, **RULE)
    assert v.grade is None and v.rule == "empty" and v.patch_grades == []


def test_majority_when_nothing_qualifies(labels):
    # all patches unconfident: no grade reaches min_confidence -> largest mean probability
    probs = np.array([patch(1, 0.4)] * 3 + [patch(2, 0.35)] * 2)
    v = patch_rule(probs, labels, **RULE)
    assert v.rule == "majority" and v.grade == "III"


def test_severity_override_stops_at_severity_from(labels):
    # two confident IV patches among eight benign ones: IV is a pattern that must predominate
    probs = np.array([patch(0)] * 8 + [patch(2, 0.9)] * 2)
    assert patch_rule(probs, labels, **RULE).grade == "IV"  # every grade overrides
    v = patch_rule(probs, labels, **RULE, severity_from="V")
    assert v.grade == "II" and v.rule == "majority"
    # ... while two confident malignant patches still outweigh them
    probs = np.array([patch(0)] * 8 + [patch(4, 0.9)] * 2)
    v = patch_rule(probs, labels, **RULE, severity_from="V")
    assert v.grade == "VI" and v.rule == "severity"
    # and a region that is mostly IV stays IV
    v = patch_rule(np.array([patch(0)] * 3 + [patch(2, 0.9)] * 5), labels, **RULE, severity_from="V")
    assert v.grade == "IV"


def test_severity_from_must_be_a_fine_grade(labels):
    with pytest.raises(ConfigError, match=r"severity_from.*'VII'"):
        patch_rule(np.array([patch(0)]), labels, **RULE, severity_from="VII")
