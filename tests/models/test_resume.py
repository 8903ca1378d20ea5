"""A training run killed with SIGKILL after its first checkpoint and resumed ends with exactly the weights
of an uninterrupted run of the same seed (CPU, one thread, torch's deterministic mode); a checkpoint
written with other options is refused; fine-tuning starts from the given folder's weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import zoomgrade
from zoomgrade.errors import ZoomgradeError
from zoomgrade.labels import TBSRTC
from zoomgrade.models.checkpoint import checkpoint_path

SCRIPT = """
import sys, torch
torch.use_deterministic_algorithms(True)
from zoomgrade.models.stage1 import Stage1Config
from zoomgrade.models.stage2 import Stage2Config
from zoomgrade.models.train_stage1 import Stage1TrainConfig, train_stage1
from zoomgrade.models.train_stage2 import Stage2TrainConfig, train_stage2
stage, slides, out, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
if stage == "stage1":
    cfg = Stage1TrainConfig(epochs=3, steps_per_epoch=6, batch_size=4, crop=64, lr=1e-2, threads=1, export_onnx=False,
                            net=Stage1Config(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), attn_dim=16, attn_heads=2,
                                             fuse_dim=8))
    train_stage1(slides, out, config=cfg, progress=False, command="test", resume=resume)
else:
    cfg = Stage2TrainConfig(epochs=3, size=64, mpp=1.0, batch_size=16, per_group=3, none_per_slide=8, lr=1e-2,
                            threads=1, export_onnx=False, swa_epochs=2,
                            net=Stage2Config(stem=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1), fpn_dim=16))
    train_stage2(slides, out, config=cfg, progress=False, command="test", resume=resume)
"""


def _env() -> dict[str, str]:
    src = str(Path(zoomgrade.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def _run(stage: str, slides: Path, out: Path, resume: bool) -> None:
    subprocess.run(
        [sys.executable, "-c", SCRIPT, stage, str(slides), str(out), "1" if resume else "0"],
        env=_env(),
        check=True,
        timeout=600,
    )


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_killed_run_resumes_to_the_same_weights(tiny_slides, tmp_path, stage):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _run(stage, tiny_slides, whole, resume=False)
    ckpt = checkpoint_path(killed, stage)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, stage, str(tiny_slides), str(killed), "0"], env=_env())
    deadline = time.monotonic() + 600
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    done = torch.load(ckpt, weights_only=False)["epoch"]
    assert 1 <= done < 3
    _run(stage, tiny_slides, killed, resume=True)
    a, b = load_file(str(whole / f"{stage}.safetensors")), load_file(str(killed / f"{stage}.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run's"
    assert not ckpt.exists()  # a finished run leaves the model folder, not its checkpoint
    assert (killed / f"{stage}.report.html").exists() and (killed / f"{stage}.curves.png").exists()


def test_resume_refuses_other_options_and_a_missing_checkpoint(tiny_slides, tmp_path):
    from zoomgrade.models.stage2 import Stage2Config
    from zoomgrade.models.train_stage2 import Stage2TrainConfig, train_stage2

    cfg = Stage2TrainConfig(
        epochs=1,
        size=64,
        mpp=1.0,
        batch_size=16,
        per_group=1,
        none_per_slide=2,
        threads=1,
        export_onnx=False,
        net=Stage2Config(stem=8, widths=(8, 8, 8, 8), blocks=(1, 1, 1, 1), fpn_dim=8),
    )
    with pytest.raises(ZoomgradeError, match="no checkpoint"):
        train_stage2(tiny_slides, tmp_path, config=cfg, progress=False, resume=True)
    from zoomgrade.models.checkpoint import TrainState, save_checkpoint
    from zoomgrade.models.train_common import resume_key

    save_checkpoint(
        checkpoint_path(tmp_path, "stage2"),
        TrainState(0, [], (-1.0, -1, None), {}, {}, resume_key(replace(cfg, lr=0.5), None)),
    )
    with pytest.raises(ZoomgradeError, match=r"other training options.*lr"):
        train_stage2(tiny_slides, tmp_path, config=cfg, progress=False, resume=True)


def test_fine_tuning_starts_from_the_shipped_weights(tiny_slides, tmp_path):
    """Epoch 0's validation score is the shipped stage-1 model's on the same validation slides."""
    from zoomgrade.models.datasets import find_slides, split_items, stage1_slide
    from zoomgrade.models.evaluate import stage1_scores
    from zoomgrade.models.finetune import resolve_init, shipped_dir
    from zoomgrade.models.runners import Stage1Runner
    from zoomgrade.models.train_stage1 import Stage1TrainConfig, train_stage1
    from zoomgrade.models.weights_file import load_model

    folder, why = resolve_init(None, "stage1", TBSRTC)
    assert folder == shipped_dir() and "fine-tuning" in why
    cfg = Stage1TrainConfig(epochs=1, steps_per_epoch=1, batch_size=2, crop=64, threads=1, export_onnx=False)
    res = train_stage1(tiny_slides, tmp_path, config=cfg, progress=False, init=folder, init_why=why)
    _model, card = load_model(res.weights)
    init = card.training["init"]
    assert init["from"] == str(shipped_dir())
    shipped, shipped_card = load_model(shipped_dir() / "stage1.safetensors")
    _, val = split_items(find_slides(tiny_slides))
    slides = [
        stage1_slide(
            it, shipped_card.input_mpp, shipped_card.hyperparameters["out_stride"], TBSRTC, gain=cfg.target_gain
        )
        for it in val
    ]
    expected = stage1_scores(Stage1Runner(shipped, shipped_card, device="cpu"), slides, TBSRTC)
    assert init["validation_before_training"]["score"] == expected["score"]
    assert init["validation_before_training"]["found"] == expected["found"]
    assert card.hyperparameters == shipped_card.hyperparameters


def test_init_refuses_a_folder_for_other_labels(tmp_path):
    import json
    import shutil

    from zoomgrade.errors import ModelCardError
    from zoomgrade.models.finetune import resolve_init, shipped_dir

    shutil.copy(shipped_dir() / "stage2.json", tmp_path / "stage2.json")
    card = json.loads((tmp_path / "stage2.json").read_text())
    card["label_set"] = "other"
    (tmp_path / "stage2.json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match=r"label set other"):
        resolve_init(tmp_path, "stage2", TBSRTC)
    with pytest.raises(ModelCardError, match=r"no stage1\.json"):
        resolve_init(tmp_path, "stage1", TBSRTC)
    assert resolve_init("none", "stage2", TBSRTC)[0] is None
