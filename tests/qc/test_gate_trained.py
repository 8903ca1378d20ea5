"""The gate works on a model you train: a stage-1 model trained on Papanicolaou slides only records that
domain in its card; Diff-Quik slides are then flagged while held-out Papanicolaou slides pass. Stage 1 is
trained to ignore stain colour, so the part of the gate that sees the other stain is the learned colour
record (qc/colour.py); the feature and stain parts must not withhold the trained stain's slides."""

from __future__ import annotations

import numpy as np
import pytest

from zoomgrade.models.domain import DomainModel
from zoomgrade.models.runners import Stage1Runner
from zoomgrade.models.stage1 import Stage1Config
from zoomgrade.models.train_stage1 import Stage1TrainConfig, train_stage1
from zoomgrade.models.weights_file import load_model
from zoomgrade.qc.colour import check_colour
from zoomgrade.qc.gate import score_domain
from zoomgrade.qc.stain import angle_to, stain_vectors
from zoomgrade.slide import open_slide
from zoomgrade.synth import write_slide

TINY1 = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)
SIZE = (1.5, 1.5)


def _set(root, seeds, stain):
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for k, seed in enumerate(seeds):
        p = root / f"s-{seed}-{stain}.svs"
        write_slide(p, ("II", "IV", "VI", "III", "V")[k % 5], stain, SIZE, seed)
        out.append(p)
    return out


def _gate(runner, domain, path):
    with open_slide(path) as s:
        thumb = np.asarray(s.thumbnail(8.0))
    maps = runner.predict(thumb)
    share, _ = score_domain(domain, maps.features, thumb, [], 1.0)
    return share


@pytest.fixture(scope="module")
def pap_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("onestain")
    _set(root / "train", range(50, 55), "pap")  # training seeds < 100000
    cfg = Stage1TrainConfig(
        epochs=2, steps_per_epoch=6, batch_size=4, crop=64, lr=1e-2, threads=1, export_onnx=False, net=TINY1
    )
    res = train_stage1(root / "train", root / "model", config=cfg, progress=False, command="pytest")
    model, card = load_model(res.weights)
    return root, Stage1Runner(model, card, device="cpu"), card


def test_card_records_the_domain_it_was_trained_on(pap_model):
    _, _, card = pap_model
    dom = DomainModel.from_dict(card.domain["features"])
    assert dom is not None and dom.mean.shape == (TINY1.attn_dim,)
    assert dom.n_train_cells > 50 and np.isfinite(dom.cell_threshold) and 0 < dom.slide_threshold < dom.cell_threshold
    assert len(card.domain["stain"]["directions"]) >= 3
    colour = card.domain["colour"]
    assert colour["n_slides"] == 5 and len(colour["mixture"]["weights"]) >= 2 and np.isfinite(colour["threshold"])


def test_other_stain_is_flagged_and_held_out_trained_stain_passes(pap_model):
    root, runner, card = pap_model
    dom = DomainModel.from_dict(card.domain["features"])
    refs = np.asarray(card.domain["stain"]["directions"])
    thr = card.domain["stain"]["threshold_deg"]
    held = _set(root / "held", (1_000_300, 1_000_301), "pap")
    other = _set(root / "other", (1_000_302, 1_000_303), "diffquik")
    for p in held:
        assert _gate(runner, dom, p) <= dom.slide_threshold, p.name
        with open_slide(p) as s:
            assert check_colour(np.asarray(s.thumbnail(8.0)), card.domain["colour"]).verdict == "pass", p.name
    for p in other:
        share = _gate(runner, dom, p)
        with open_slide(p) as s:
            thumb = np.asarray(s.thumbnail(8.0))
        ang = angle_to(stain_vectors(thumb)[0], refs)
        col = check_colour(thumb, card.domain["colour"])
        # flagged: by the feature gate, the learned stain reference or the learned colours (all the gate's parts)
        assert share > dom.slide_threshold or ang > thr or col.verdict == "fail", (p.name, share, ang, col)
