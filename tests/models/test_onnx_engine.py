"""The ONNX Runtime engine gives the same grades as torch (the reference) and leaves no trace in HOME."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from zoomgrade.errors import ModelCardError
from zoomgrade.labels import TBSRTC
from zoomgrade.models import onnx_export
from zoomgrade.models.card import ModelCard
from zoomgrade.models.hashes import sha256
from zoomgrade.models.inference import SavedModel
from zoomgrade.models.runners import Stage1Runner, Stage2Runner
from zoomgrade.models.stage1 import Stage1Config, Stage1Net
from zoomgrade.models.stage1_runner import _sigmoid, _softmax0
from zoomgrade.models.stage2 import Stage2Config, Stage2Net
from zoomgrade.models.weights_file import add_onnx_export, load_model, save_model

pytestmark = pytest.mark.slow  # every test exports a model or starts an interpreter

pytest.importorskip("onnxscript", reason="the ONNX exporter needs onnx + onnxscript (training extras)")
pytest.importorskip("onnxruntime", reason="onnxruntime is the CPU engine; not installed here")

CFG = Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16)


def with_bn_statistics(net, shape):
    """``net`` in eval mode with non-trivial batch-norm statistics, as after training."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(*shape) * 2 - 1)
    return net.eval()


#: the plain backbone (max pooling, mean-only head), as small as CFG
PLAIN_CFG = Stage2Config(
    stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16, pyramid_levels=3, backbone="plain", pooling="mean"
)


def export_stage2(cfg, d):
    torch.manual_seed(3)
    net = with_bn_statistics(Stage2Net(cfg), (8, 3, 64, 64))
    card = ModelCard(
        name="stage2",
        version="0",
        architecture="Stage2Net",
        hyperparameters=cfg.to_dict(),
        input_mpp=0.5,
        input_size=64,
        label_set=TBSRTC.name,
        labels=[*TBSRTC.fine, "none"],
    )
    return save_model(net, card, d / "stage2", export_example=torch.zeros(2, 3, 64, 64))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_stage2(CFG, tmp_path_factory.mktemp("onnx"))


def test_onnxruntime_gives_the_torch_grades(exported):
    model, card = load_model(exported)
    assert card.engine["onnx"] == "stage2.onnx"
    ort = Stage2Runner(model, card, device="cpu", weights_path=exported)
    ref = Stage2Runner(model, card, device="cpu", engine="torch")
    assert ort.engine == "onnxruntime" and ref.engine == "torch"
    assert ort._ort.takes_pixels  # normalised inside the graph (PixelInput)
    imgs = np.random.default_rng(0).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
    a, b = ort.predict(imgs), ref.predict(imgs)
    assert np.abs(a - b).max() < 1e-4
    assert (a.argmax(1) == b.argmax(1)).all()
    # dynamic shapes: another patch size and batch size go through the same export
    big = np.random.default_rng(1).integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    assert np.abs(ort.predict(big) - ref.predict(big)).max() < 1e-4


def test_the_plain_backbone_exports_with_the_torch_grades(tmp_path):
    model, card = load_model(export_stage2(PLAIN_CFG, tmp_path))
    ort = Stage2Runner(model, card, device="cpu", weights_path=tmp_path / "stage2.safetensors")
    ref = Stage2Runner(model, card, device="cpu", engine="torch")
    assert ort.engine == "onnxruntime"
    for size in (64, 96):  # dynamic shapes, max pooling included
        imgs = np.random.default_rng(size).integers(0, 256, (6, size, size, 3), dtype=np.uint8)
        assert np.abs(ort.predict(imgs) - ref.predict(imgs)).max() < 1e-4


def test_a_float_input_export_still_runs(exported, tmp_path):
    """Exports made before the pixel front end take the normalised image: the runner normalises for them."""
    model, card = load_model(exported)
    weights = tmp_path / "stage2.safetensors"
    weights.write_bytes(exported.read_bytes())
    assert onnx_export.export_onnx(model, tmp_path / "stage2.onnx", torch.zeros(2, 3, 64, 64)) is not None
    card.files["stage2.onnx"] = sha256(tmp_path / "stage2.onnx")  # a new export: its card pins it
    old = Stage2Runner(model, card, device="cpu", weights_path=weights)
    assert old.engine == "onnxruntime" and not old._ort.takes_pixels
    imgs = np.random.default_rng(2).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    ref = Stage2Runner(model, card, device="cpu", engine="torch").predict(imgs)
    assert np.abs(old.predict(imgs) - ref).max() < 1e-4


def test_stale_export_is_refused(exported, tmp_path):
    model, card = load_model(exported)
    other = tmp_path / "stage2.safetensors"
    other.write_bytes(exported.read_bytes()[:-4] + b"\0\0\0\0")
    (tmp_path / "stage2.onnx").write_bytes(exported.with_suffix(".onnx").read_bytes())
    with pytest.raises(ModelCardError, match="other weights"):
        Stage2Runner(model, card, device="cpu", weights_path=other)


def test_unreadable_export_is_a_card_error_naming_the_file(exported, tmp_path):
    model, card = load_model(exported)
    weights = tmp_path / "stage2.safetensors"
    weights.write_bytes(exported.read_bytes())
    (tmp_path / "stage2.onnx").write_bytes(exported.with_suffix(".onnx").read_bytes()[:1000])
    with pytest.raises(ModelCardError, match=r"stage2\.onnx: SHA-256"):  # not the file its card pins
        Stage2Runner(model, card, device="cpu", weights_path=weights)
    card.files["stage2.onnx"] = sha256(tmp_path / "stage2.onnx")  # pinned anyway: the parser refuses it
    with pytest.raises(ModelCardError, match=r"stage2\.onnx: unreadable ONNX export"):
        Stage2Runner(model, card, device="cpu", weights_path=weights)


def test_no_device_id_file_in_home(exported, tmp_path):
    code = (
        "from zoomgrade.models.weights_file import load_model; from zoomgrade.models.runners import Stage2Runner;"
        f"m, c = load_model({str(exported)!r}); r = Stage2Runner(m, c, 'cpu', weights_path={str(exported)!r});"
        "import numpy as np; r.predict(np.zeros((1, 64, 64, 3), np.uint8)); print(r.engine)"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "onnxruntime"
    assert list(tmp_path.rglob("*")) == []


S1CFG = Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2, fuse_dim=8)


@pytest.fixture(scope="module")
def stage1_exported(tmp_path_factory):
    torch.manual_seed(4)
    net = with_bn_statistics(Stage1Net(S1CFG), (2, 3, 128, 128))
    card = ModelCard(
        name="stage1",
        version="0",
        architecture="Stage1Net",
        hyperparameters=S1CFG.to_dict(),
        input_mpp=8.0,
        input_size=0,
        label_set=TBSRTC.name,
        labels=list(TBSRTC.coarse),
    )
    d = tmp_path_factory.mktemp("onnx1")
    # saved without an export, then exported beside (the path for weights trained before stage 1 had one)
    path = save_model(net, card, d / "stage1")
    assert load_model(path)[1].engine == {}
    assert add_onnx_export(path, torch.zeros(1, 3, 512, 768)) == path.with_suffix(".onnx")
    return path


def test_stage1_onnxruntime_gives_the_torch_maps(stage1_exported):
    model, card = load_model(stage1_exported)
    assert card.engine["onnx"] == "stage1.onnx"
    ort = Stage1Runner(model, card, device="cpu", weights_path=stage1_exported)
    ref = Stage1Runner(model, card, device="cpu", engine="torch")
    assert ort.engine == "onnxruntime" and ref.engine == "torch" and ort._ort.takes_pixels
    rng = np.random.default_rng(0)
    # other sizes than the export's example; the last is windowed (offsets enter the position encoding)
    for shape, window in (((300, 420), 2816), ((1000, 720), 2816), ((1000, 700), 768)):
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        ort.window = ref.window = window
        a, b = ort.predict(img), ref.predict(img)
        assert a.group.shape == b.group.shape
        assert np.abs(a.group - b.group).max() < 1e-4 and np.abs(a.grade - b.grade).max() < 1e-4
        assert np.abs(a.attention - b.attention).max() < 1e-3
    # smaller than the attention grid: torch runs it (the export lacks the shrunken-grid branch)
    tiny = rng.integers(0, 256, (100, 180, 3), dtype=np.uint8)
    assert np.abs(ort.predict(tiny).group - ref.predict(tiny).group).max() == 0


def test_the_library_leaves_the_process_environment_as_it_found_it(tmp_path):
    # Telemetry is off around onnxruntime's import only; the entry points set it for their own process.
    code = (
        "import os; from zoomgrade.models.onnx_engine import import_ort; assert import_ort() is not None; "
        "import zoomgrade.cascade; print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"
    assert list(tmp_path.rglob("*")) == []  # and still no device id written


def test_a_saved_model_is_built_in_torch_only_when_torch_runs_it(stage1_exported, tmp_path):
    model, card = load_model(stage1_exported)
    ref = Stage1Runner(model, card, device="cpu", engine="torch")
    lazy = Stage1Runner(SavedModel(stage1_exported), card, device="cpu", weights_path=stage1_exported)
    assert lazy.engine == "onnxruntime" and lazy._torch._model is None
    img = np.random.default_rng(1).integers(0, 256, (300, 420, 3), dtype=np.uint8)
    a, b = lazy.predict(img), ref.predict(img)
    assert lazy._torch._model is None  # the export ran it
    assert np.abs(a.group - b.group).max() < 1e-4 and np.abs(a.grade - b.grade).max() < 1e-4
    tiny = img[:100, :180]  # under the export's attention grid: torch, built now from the file
    assert np.abs(lazy.predict(tiny).group - ref.predict(tiny).group).max() == 0
    assert lazy._torch._model is not None
    # torch as the engine: built at once, as before
    assert Stage1Runner(SavedModel(stage1_exported), card, device="cpu", engine="torch")._torch._model is not None


def test_a_saved_model_file_is_checked_at_load_without_torch(stage1_exported, tmp_path):
    card = load_model(stage1_exported)[1]
    for name in ("stage1.safetensors", "stage1.onnx", "stage1.json"):
        (tmp_path / name).write_bytes((stage1_exported.parent / name).read_bytes())
    weights = tmp_path / "stage1.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)  # changed after the card pinned it
    with pytest.raises(ModelCardError, match="stage1"):
        Stage1Runner(SavedModel(weights), card, device="cpu", weights_path=weights)
    weights.unlink()
    with pytest.raises((ModelCardError, FileNotFoundError)):
        Stage1Runner(SavedModel(weights), card, device="cpu", weights_path=weights)


def test_map_activations_in_numpy_match_torch():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 300, 200)) * 6).astype(np.float32)
    assert np.abs(_sigmoid(x[0]) - torch.sigmoid(torch.from_numpy(x[0])).numpy()).max() <= 2.4e-7
    assert np.abs(_softmax0(x) - torch.softmax(torch.from_numpy(x), dim=0).numpy()).max() <= 2.4e-7


@pytest.mark.parametrize("omp", ["3", ""])
def test_default_threads_without_torch_are_what_torch_would_choose(omp):
    # torch not loaded: OMP_NUM_THREADS when set, else the usable physical cores (torch's own default)
    code = (
        "import sys, os, psutil; from zoomgrade.models.onnx_engine import default_threads; "
        "assert 'torch' not in sys.modules; "
        "print(default_threads(), min(len(os.sched_getaffinity(0)), psutil.cpu_count(logical=False)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp:
        env["OMP_NUM_THREADS"] = omp
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    got, physical = map(int, out.stdout.split())
    assert got == (int(omp) if omp else physical)
