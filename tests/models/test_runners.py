from typing import ClassVar

import numpy as np
import pytest
import torch

from zoomgrade.labels import TBSRTC
from zoomgrade.models.card import ModelCard
from zoomgrade.models.runners import Stage1Runner, Stage2Runner, combine_windows
from zoomgrade.models.stage1 import Stage1Config, Stage1Net
from zoomgrade.models.stage1_runner import _keep, _spans
from zoomgrade.models.stage2 import Stage2Config, Stage2Net

S1 = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)
S2 = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


def _card(name, arch, hp, labels, size=None):
    return ModelCard(
        name=name,
        version="0",
        architecture=arch,
        hyperparameters=hp,
        input_mpp=8.0 if name == "stage1" else 0.5,
        input_size=size,
        label_set=TBSRTC.name,
        labels=labels,
    )


def _local_stage1():
    """A stage-1 net whose attention block adds nothing, so its output depends on a bounded
    neighbourhood only: windowed and one-pass maps must then agree away from the edges."""
    torch.manual_seed(0)
    net = Stage1Net(S1)
    with torch.no_grad():
        net.attn.proj.weight.zero_()
        net.attn.proj.bias.zero_()
        net.attn.ffn[-1].weight.zero_()
        net.attn.ffn[-1].bias.zero_()
    return net.eval()


def test_stage1_windows_stitch_like_one_pass():
    net = _local_stage1()
    card = _card("stage1", "Stage1Net", S1.to_dict(), list(TBSRTC.coarse))
    img = np.random.default_rng(0).integers(0, 256, (600, 520, 3), dtype=np.uint8)
    one = Stage1Runner(net, card, device="cpu", window=4096).predict(img)
    win = Stage1Runner(net, card, device="cpu", window=256, overlap=64).predict(img)
    assert one.group.shape == win.group.shape == (300, 260)
    assert win.grade.shape == (300, 260, 3)
    assert np.allclose(win.grade.sum(-1), 1, atol=1e-5)
    assert np.abs(one.group - win.group).max() < 1e-3
    assert np.abs(one.grade - win.grade).max() < 1e-3


def test_window_origins_cover_everything():
    for total, window, step in [(1000, 256, 64), (257, 256, 64), (5000, 4096, 3072)]:
        spans = _spans(total, window, step, 16)
        assert spans[0][0] == 0 and spans[-1][1] == total and all(a % 16 == 0 for a, _ in spans)
        assert all(b - a <= window + 15 for a, b in spans)
        spans = [_keep(a, b, total, (window - step) // 2, 2) for a, b in spans]
        covered = np.zeros(-(-total // 2), bool)
        for a, b in spans:
            covered[a:b] = True
        assert covered.all()


def test_stage2_runner_batches_and_probabilities():
    torch.manual_seed(0)
    card = _card("stage2", "Stage2Net", S2.to_dict(), [*TBSRTC.fine, "none"], 64)
    imgs = np.random.default_rng(0).integers(0, 256, (10, 64, 64, 3), dtype=np.uint8)
    a = Stage2Runner(Stage2Net(S2), card, device="cpu", batch_size=3).predict(imgs)
    assert a.shape == (10, 6) and np.allclose(a.sum(1), 1, atol=1e-5)
    r = Stage2Runner(Stage2Net(S2), card, device="cpu", batch_size=4)
    full = r.predict(imgs)
    assert np.allclose(full[:4], r.predict(imgs[:4]), atol=1e-5)  # batching does not change results
    assert r.labels[-1] == "none"
    with pytest.raises(ValueError):
        r.predict(imgs.astype(np.float32))


def test_combine_windows_ignores_empty_windows():
    probs = np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.05, 0.95],  # mostly empty window saying VI
            [0.9, 0.05, 0.0, 0.0, 0.05, 0.0],
        ]
    )  # a sure cell window saying II
    fine = combine_windows(probs)
    assert fine.shape == (5,) and fine.sum() == pytest.approx(1.0)
    assert np.argmax(fine) == 0
    assert combine_windows(np.array([[0, 0, 0, 0, 0, 1.0]])) == pytest.approx(np.full(5, 0.2))


def test_array_normalisation_equals_the_tensor_arithmetic():
    # to_array must give exactly what (v / 255 - mean) / std gives on a float32 tensor
    import torch

    from zoomgrade.models.runners import to_array

    class Card:
        normalisation: ClassVar = {"mean": [0.71, 0.62, 0.77], "std": [0.16, 0.19, 0.13]}

    imgs = np.random.default_rng(3).integers(0, 256, (5, 17, 23, 3), dtype=np.uint8)
    imgs[0, 0, :3] = [[0, 0, 0], [255, 255, 255], [1, 128, 254]]
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(Card.normalisation["mean"]).view(1, 3, 1, 1)
    s = torch.tensor(Card.normalisation["std"]).view(1, 3, 1, 1)
    ref = ((x - m) / s).numpy()
    got = to_array(imgs, Card())
    assert got.shape == (5, 3, 17, 23) and got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, ref)
    assert np.array_equal(to_array(imgs[1], Card()), ref[1:2])
