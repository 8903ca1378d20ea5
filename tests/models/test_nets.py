import pytest
import torch

from zoomgrade.models.blocks import PooledSelfAttention, count_params, sinusoidal_2d
from zoomgrade.models.stage1 import Stage1Config, Stage1Net
from zoomgrade.models.stage2 import PLAIN, Stage2Config, Stage2Net


@pytest.mark.parametrize("stride", [2, 4])
def test_stage1_shapes(stride):
    net = Stage1Net(Stage1Config(out_stride=stride)).eval()
    with torch.inference_mode():
        g, c, a = net(torch.randn(2, 3, 96, 160))
    assert g.shape == (2, 1, 96 // stride, 160 // stride)
    assert c.shape == (2, 3, 96 // stride, 160 // stride)
    assert a.shape == g.shape
    assert torch.isfinite(g).all() and torch.isfinite(c).all()


def test_stage2_shapes_and_pyramid():
    net = Stage2Net().eval()
    with torch.inference_mode():
        y = net(torch.randn(3, 3, 256, 256))
        feats = net.features(torch.randn(1, 3, 256, 256))
    assert y.shape == (3, 6)
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8]  # four pyramid levels, finest first
    assert all(f.shape[1] == net.cfg.fpn_dim for f in feats)


def test_plain_stage2_pools_three_levels_by_their_mean():
    net = Stage2Net(PLAIN).eval()
    with torch.inference_mode():
        y = net(torch.randn(2, 3, 128, 128))
        feats = net.features(torch.randn(1, 3, 128, 128))
    assert y.shape == (2, 6)
    assert [f.shape[-1] for f in feats] == [16, 8, 4]  # strides 8, 16, 32
    assert net.head[1].in_features == PLAIN.fpn_dim * 3  # one mean per level, no max
    # the first convolution runs at full resolution; the residual stem subsamples at once
    assert net.stem[0][0].stride == (1, 1) and Stage2Net().stem[0].stride == (2, 2)


def test_plain_stage2_sees_detail_the_size_of_one_pixel():
    """A checkerboard at the finest period (one pixel) and a uniform grey of the same mean reach the head
    as different features: the first layer reads them before any subsampling."""
    torch.manual_seed(0)
    net = Stage2Net(PLAIN).eval()
    board = (torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2
    checker = (board.float() * 2 - 1).expand(1, 3, 64, 64)
    with torch.inference_mode():
        a, b = net.features(checker)[0], net.features(torch.zeros(1, 3, 64, 64))[0]
    assert (a - b).abs().mean() > 1e-3


def test_unknown_backbone_or_pooling_is_refused():
    with pytest.raises(ValueError, match="backbone"):
        Stage2Net(Stage2Config(backbone="dense"))
    with pytest.raises(ValueError, match="pooling"):
        Stage2Net(Stage2Config(pooling="max"))


def test_cards_without_backbone_are_residual_networks():
    """Cards written before the plain backbone carry no backbone or pooling: they load as they were made."""
    old = {k: v for k, v in Stage2Config().to_dict().items() if k not in ("backbone", "pooling")}
    cfg = Stage2Config.from_dict(old)
    assert cfg.backbone == "residual" and cfg.pooling == "mean_max"
    assert Stage2Config.from_dict(PLAIN.to_dict()) == PLAIN


def test_models_are_small():
    assert 50_000 < count_params(Stage1Net()) < 1_000_000
    assert 100_000 < count_params(Stage2Net()) < 1_000_000
    assert 100_000 < count_params(Stage2Net(PLAIN)) < 1_000_000


def test_attention_keys_are_pooled_to_a_fixed_grid():
    att = PooledSelfAttention(16, heads=2, grid=4, chunk=7).eval()
    x = torch.randn(1, 16, 20, 30)
    pos = sinusoidal_2d(20, 30, 16)[None]
    with torch.inference_mode():
        y, received = att(x, pos)
    assert y.shape == x.shape
    # attention received averages to 1 (uniform) over the map: each query's weights sum to one
    assert received.mean().item() == pytest.approx(1.0, rel=0.05)


def test_attention_chunking_does_not_change_the_result():
    torch.manual_seed(0)
    a = PooledSelfAttention(16, heads=4, grid=5, chunk=10_000).eval()
    b = PooledSelfAttention(16, heads=4, grid=5, chunk=13).eval()
    b.load_state_dict(a.state_dict())
    x, pos = torch.randn(2, 16, 12, 17), sinusoidal_2d(12, 17, 16)[None]
    with torch.inference_mode():
        assert torch.allclose(a(x, pos)[0], b(x, pos)[0], atol=1e-5)


def test_position_encoding_offset_is_absolute():
    full = sinusoidal_2d(10, 12, 8)
    part = sinusoidal_2d(4, 5, 8, offset=(3, 6))
    assert torch.allclose(full[:, 3:7, 6:11], part, atol=1e-5)
    with pytest.raises(ValueError):
        sinusoidal_2d(4, 4, 6)


def test_config_roundtrip():
    cfg = Stage2Config(widths=(8, 16, 24, 32), fpn_dim=16)
    assert Stage2Config.from_dict(cfg.to_dict()) == cfg
    cfg1 = Stage1Config(out_stride=4)
    assert Stage1Config.from_dict(cfg1.to_dict()) == cfg1


def _randomise_batchnorm(net):
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
    return net


def test_folding_batchnorm_keeps_outputs_and_removes_every_batchnorm():
    import copy

    from zoomgrade.models.blocks import fold_batchnorm

    nets = (
        (Stage1Net(), torch.randn(1, 3, 96, 128)),
        (Stage2Net(), torch.randn(2, 3, 128, 128)),
        (Stage2Net(PLAIN), torch.randn(2, 3, 128, 128)),
    )
    for untrained, x in nets:
        net = _randomise_batchnorm(untrained).eval()
        folded = fold_batchnorm(copy.deepcopy(net))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        with torch.inference_mode():
            a, b = net(x), folded(x)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert torch.allclose(u, v, atol=1e-4, rtol=1e-4)


def test_folding_refuses_a_training_model():
    from zoomgrade.models.blocks import fold_batchnorm

    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(Stage2Net().train())
