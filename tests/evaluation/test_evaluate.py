"""``zoomgrade evaluate``: both files written, every embedded picture decodable, figures consistent with
the per-slide records; the metrics on hand-made records."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.evaluation.metrics import (
    bootstrap,
    calibration,
    region_metrics,
    slide_metrics,
)
from zoomgrade.evaluation.run import ModeRecord, SlideRecord
from zoomgrade.labels import TBSRTC


@pytest.fixture(scope="module")
def one_slide_dir(synth_slide, tmp_path_factory):
    path = synth_slide("II", size_mm=(4, 4))  # shared with the cascade tests (cached per session)
    d = tmp_path_factory.mktemp("eval_in")
    for p in path.parent.glob(path.stem + ".*"):
        (d / p.name).symlink_to(p)
    return d


def test_evaluate_writes_json_and_self_contained_html(one_slide_dir, tmp_path):
    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["evaluate", str(one_slide_dir), "--out", str(out), "--mode", "both", "--threads", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "eval.json").read_text())
    assert doc["modes"] == ["cascade", "exhaustive"] and doc["n_slides"] == 1
    slide = doc["slides"][0]
    assert slide["truth"] == "II" and slide["error"] is None
    for mode in ("cascade", "exhaustive"):
        m = slide["modes"][mode]
        assert (out / m["report"]).exists()
        reg = doc["per_mode"][mode]["region"]
        assert reg["found"] == len(m["pairs"]) and reg["groups"] == len(m["pairs"]) + len(m["missed"])
        assert doc["per_mode"][mode]["slide"]["accuracy"] == float(m["category"] == "II")
    assert doc["agreement"]["n"] == 1
    assert any("only 1 slides" in w for w in doc["warnings"])  # doubt is said
    ivs = doc["per_mode"]["cascade"]["intervals"]
    assert ivs["slide_accuracy"]["method"].startswith("exact") and ivs["ece"]["method"].startswith("percentile")
    assert doc["interval_methods"]["proportions"]["figures"] == [
        "slide_accuracy",
        "malignant_sensitivity",
        "nondiagnostic_rate",
    ]
    page = (out / "eval.html").read_text()
    pics = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(pics) >= 6  # per mode: region confusion, reliability, slide confusion
    for b in pics:
        im = Image.open(io.BytesIO(base64.b64decode(b)))
        im.load()
        assert im.size[0] > 100 and im.size[1] > 100
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert "exact binomial (Clopper-Pearson), " in page  # each interval names its method
    assert "href='slides/" in page


def test_evaluate_threads_reach_the_models_and_leave_the_callers_torch_setting(one_slide_dir, tmp_path):
    """``--threads`` is the models' (ONNX Runtime's at load, torch's only for the run and only where a model
    runs in torch), as for ``zoomgrade grade``: the caller's torch setting is what it was."""
    import torch

    from zoomgrade.evaluation.run import load_models

    for n in (1, 2):
        for r in load_models(None, threads=n):
            assert r.engine == "onnxruntime"
            assert r._ort.session.get_session_options().intra_op_num_threads == n
    before = torch.get_num_threads()
    mine = 3 if before != 3 else 2
    torch.set_num_threads(mine)
    try:
        r = CliRunner().invoke(app, ["evaluate", str(one_slide_dir), "--out", str(tmp_path / "ev"), "--threads", "1"])
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == mine
    finally:
        torch.set_num_threads(before)
    bad = CliRunner().invoke(app, ["evaluate", str(one_slide_dir), "--out", str(tmp_path / "ev2"), "--threads", "0"])
    assert bad.exit_code == 2 and not (tmp_path / "ev2").exists()


def _rec(name, truth, category, pairs, missed=(), alarms=()):
    m = ModeRecord("cascade", category, 1.0, list(pairs), list(missed), list(alarms), len(pairs) + len(alarms), "r")
    return SlideRecord(name, truth, None, {"cascade": m})


def test_metrics_on_hand_made_records():
    recs = [
        _rec("a", "II", "II", [("II", "II", 0.9), ("II", "III", 0.6)], missed=["II"], alarms=["V"]),
        _rec("b", "VI", "V", [("VI", "V", 0.8), ("V", "V", 0.95)]),
        _rec("c", "V", "II", [("V", "II", 0.7)]),
    ]
    reg = region_metrics(recs, "cascade", TBSRTC)
    cm = reg["confusion"]
    cls = reg["classes"]
    assert cm[cls.index("II")][cls.index("none")] == 1  # the missed group
    assert cm[cls.index("none")][cls.index("V")] == 1  # the false alarm, graded V
    assert reg["per_grade"]["II"]["recall"] == pytest.approx(1 / 3)
    assert reg["per_grade"]["V"]["precision"] == pytest.approx(1 / 3)  # 1 right of V, VI->V, alarm
    assert reg["found"] == 5 and reg["groups"] == 6 and reg["false_alarm_regions"] == 1
    assert reg["qwk"] is not None and reg["qwk"] < 1
    sl = slide_metrics(recs, "cascade", TBSRTC)
    assert sl["accuracy"] == pytest.approx(1 / 3)
    assert sl["malignant_sensitivity"] == 0.5  # VI called V counts; V called II is missed
    assert sl["sensitivity"]["VI"]["exact"] == 0.0 and sl["sensitivity"]["V"]["at_or_above"] == 0.0
    ci = bootstrap(recs, "cascade", TBSRTC, n=200)
    assert ci["slide_accuracy"]["lo"] <= sl["accuracy"] <= ci["slide_accuracy"]["hi"]


def test_calibration_error_of_known_bins():
    cal = calibration([0.95, 0.95, 0.55, 0.55], [True, False, True, True])
    # bin 0.9-1.0: confidence 0.95, accuracy 0.5; bin 0.5-0.6: confidence 0.55, accuracy 1
    assert cal["ece"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)
    assert sum(b["count"] for b in cal["bins"]) == 4
