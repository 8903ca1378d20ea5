"""The early stop's measured tables come with the models: the stage-1 card's record, when it was measured
with this stage 2; a table in the config replaces it."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import SimpleNamespace

import pytest

from zoomgrade.cascade import grade
from zoomgrade.cascade.config import config_from_dict
from zoomgrade.cascade.measured import KEYS, from_models
from zoomgrade.errors import ConfigError
from zoomgrade.labels import TBSRTC, load_label_set
from zoomgrade.models.card import early_stop_record as card_record


def _plain(x):
    return json.loads(json.dumps(x))  # tuples and lists alike


def test_the_shipped_models_carry_their_measurements(shipped_models):
    rec = card_record(*shipped_models)
    assert set(KEYS) <= set(rec) and "validation slides" in rec["measured_on"]
    es = from_models(config_from_dict({}), *shipped_models, TBSRTC).early_stop
    assert _plain({k: getattr(es, k) for k in KEYS}) == _plain({k: rec[k] for k in KEYS})


def test_a_config_table_wins_and_other_models_get_none(shipped_models):
    s1, s2 = shipped_models
    es = from_models(config_from_dict({"early_stop": {"recall_prior": {}}}), s1, s2, TBSRTC).early_stop
    assert es.recall_prior == {} and es.undergrade_prior  # only the key the config sets is replaced
    other_s2 = SimpleNamespace(card=dataclasses.replace(s2.card, files={"stage2.safetensors": "0" * 64}))
    bare_s1 = SimpleNamespace(card=dataclasses.replace(s1.card, early_stop={}))
    for a, b in ((s1, other_s2), (bare_s1, s2)):  # measured with another stage 2; nothing measured
        assert card_record(a, b) == {}
        es = from_models(config_from_dict({}), a, b, TBSRTC).early_stop
        assert all(getattr(es, k) == {} for k in KEYS)


def test_a_record_is_checked_against_the_label_set(shipped_models):
    s1, s2 = shipped_models
    rec = copy.deepcopy(s1.card.early_stop)
    rec["recall_prior"] = {"Benign": [1.0, 2.0]}
    bad = SimpleNamespace(card=dataclasses.replace(s1.card, early_stop=rec))
    with pytest.raises(ConfigError, match=r"stage-1 model card early_stop: early_stop\.recall_prior\.Benign"):
        from_models(config_from_dict({}), bad, s2, TBSRTC)
    # another label set's coarse grades are its own (breast: benign, atypical, malignant)
    breast = load_label_set("breast-yokohama")
    rec["recall_prior"], rec["undergrade"] = {"atypical": [0.5, 2.0]}, {"benign": 0.4, "atypical": 0.9}
    rec["undergrade_prior"] = {"benign": {"atypical": [0.5, 3.0]}}
    ok = SimpleNamespace(card=dataclasses.replace(s1.card, early_stop=rec))
    es = from_models(config_from_dict({}), ok, s2, breast).early_stop
    assert es.recall_prior == {"atypical": (0.5, 2.0)} and es.undergrade_prior == {"benign": {"atypical": (0.5, 3.0)}}


def test_the_result_records_the_values_used(synth_slide, shipped_models):
    es = grade(synth_slide("II"), models=shipped_models).config["early_stop"]
    rec = card_record(*shipped_models)
    assert _plain({k: es[k] for k in KEYS}) == _plain({k: rec[k] for k in KEYS})
