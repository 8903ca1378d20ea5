"""Class 5 of issue 24: every model file that runs is checked against the SHA-256 in its card at load; a
changed file is refused with one line naming it; the hashes reach result.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoomgrade
from zoomgrade.errors import ModelCardError
from zoomgrade.models.hashes import card_hashes, main, sha256, update_card_hashes
from zoomgrade.models.runners import load_runners

WEIGHTS = Path(zoomgrade.__file__).parent / "weights"
needs_weights = pytest.mark.skipif(not (WEIGHTS / "stage2.onnx").exists(), reason="shipped ONNX exports absent")


@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "models"
    shutil.copytree(WEIGHTS, d)
    return d


def _bump_bias(onnx_path: Path, by: float) -> None:
    """Add ``by`` to the first value of the last bias of the export (the file still parses and runs)."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    m = onnx.load(str(onnx_path))
    init = [i for i in m.graph.initializer if "bias" in i.name][-1]
    arr = numpy_helper.to_array(init).copy()
    arr.flat[0] += by
    init.CopyFrom(numpy_helper.from_array(arr, init.name))
    onnx.save(m, str(onnx_path))


def _load(d: Path):
    return load_runners(d / "stage1.safetensors", d / "stage2.safetensors", device="cpu")


@needs_weights
def test_shipped_cards_pin_every_shipped_file():
    for name in ("stage1", "stage2"):
        card = json.loads((WEIGHTS / f"{name}.json").read_text())
        assert card["files"] == card_hashes(WEIGHTS / name)
        assert set(card["files"]) == {f"{name}.safetensors", f"{name}.onnx"}


@needs_weights
@pytest.mark.parametrize(("which", "by"), [("stage2.onnx", 30.0), ("stage1.onnx", -0.5)])
def test_an_edited_export_is_refused_naming_the_file(folder, which, by):
    _bump_bias(folder / which, by)
    with pytest.raises(ModelCardError) as err:
        _load(folder)
    msg = str(err.value)
    assert msg.startswith(str(folder / which)) and "SHA-256" in msg and "\n" not in msg


@needs_weights
@pytest.mark.parametrize("which", ["stage1.safetensors", "stage2.safetensors"])
def test_edited_weights_are_refused(folder, which):
    data = bytearray((folder / which).read_bytes())
    data[-3] ^= 0x01  # one bit of the last tensor
    (folder / which).write_bytes(bytes(data))
    with pytest.raises(ModelCardError, match=which.replace(".", r"\.") + ": SHA-256"):
        _load(folder)


@needs_weights
def test_a_card_without_a_hash_for_a_file_it_runs_is_refused(folder):
    card = json.loads((folder / "stage2.json").read_text())
    del card["files"]["stage2.onnx"]
    (folder / "stage2.json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match=r"stage2\.onnx: its model card pins no SHA-256"):
        _load(folder)


@needs_weights
def test_recording_an_intended_change_and_what_runs_is_recorded(folder):
    _bump_bias(folder / "stage2.onnx", 1e-3)
    assert main([str(folder)]) == 0  # python -m zoomgrade.models.hashes FOLDER
    s1, s2 = _load(folder)
    assert s2.engine == "onnxruntime"
    assert s2.files == {
        "stage2.safetensors": sha256(folder / "stage2.safetensors"),
        "stage2.onnx": sha256(folder / "stage2.onnx"),
    }
    assert set(s1.files) == {"stage1.safetensors", "stage1.onnx"}
    assert s2.predict(np.zeros((1, 64, 64, 3), np.uint8)).shape[0] == 1
    # the module runs as a command too, and says what it recorded
    out = subprocess.run(
        [sys.executable, "-m", "zoomgrade.models.hashes", str(folder / "stage1.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0 and "stage1.onnx" in out.stdout
    assert update_card_hashes(folder / "stage1") == card_hashes(folder / "stage1")


@needs_weights
def test_a_batch_driver_checks_the_folder_without_loading_models(folder):
    from zoomgrade.models.hashes import verify_folder

    assert set(verify_folder(folder)) == {"stage1.safetensors", "stage1.onnx", "stage2.safetensors", "stage2.onnx"}
    _bump_bias(folder / "stage1.onnx", 2.0)
    with pytest.raises(ModelCardError, match=r"stage1\.onnx: SHA-256"):
        verify_folder(folder)
