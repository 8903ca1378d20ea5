"""Model cards and weights I/O: safetensors (no pickle, nothing executes on load) + a JSON card beside.

The card says what the weights are for (architecture and hyper-parameters, input mpp and size, label
set, normalisation) and where they came from (training data, the exact command, metrics, time). Loading
checks the card against what the caller expects and refuses a mismatch with ``ModelCardError``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_path, atomic_write_text
from ..errors import ModelCardError
from .hashes import card_text, sha256, verify_file
from .stage1 import Stage1Config, Stage1Net
from .stage2 import Stage2Config, Stage2Net

CARD_FORMAT = 1


def declared_mpp_range(input_mpp: float) -> tuple[float, float]:
    """The ``mpp_range`` the training code writes into a card: one octave either side of the resolution the
    model was trained at (the shipped cards: 4-16 um/px for stage 1 at 8, 0.25-1 for stage 2 at 0.5).
    Declared, not measured; the QC gate withholds a slide coarser than its upper end (``qc/resolution.py``)."""
    return (input_mpp / 2, input_mpp * 2)


#: ``architecture`` of a stage-2 model that is only an ONNX file (any classifier; docs/your-own-model.md)
ONNX_ONLY = "onnx"
ARCHITECTURES: dict[str, tuple[type[nn.Module], Any]] = {
    "Stage1Net": (Stage1Net, Stage1Config),
    "Stage2Net": (Stage2Net, Stage2Config),
}


@dataclass
class ModelCard:
    name: str  # "stage1" | "stage2"
    version: str
    architecture: str  # key of ARCHITECTURES
    hyperparameters: dict[str, Any]  # the architecture's config
    input_mpp: float
    input_size: int | None  # stage 2: patch side in px; stage 1: None (whole slide, windowed)
    label_set: str
    labels: list[str]  # output classes in order (stage 2: fine grades + "none")
    normalisation: dict[str, list[float]] = field(
        default_factory=lambda: {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    )
    mpp_range: tuple[float, float] | None = None  # mpp the model may be run at (configurable input)
    training: dict[str, Any] = field(default_factory=dict)  # data, command, seeds, epochs, seconds
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: optional faster CPU engine: {"onnx": file name beside the weights, "weights_sha256": of the
    #: .safetensors it was exported from}
    engine: dict[str, Any] = field(default_factory=dict)
    #: optional: what the training data looked like in this model's feature space and the thresholds of
    #: the domain gate (``models/domain.py``, ``DomainModel.to_dict``); empty on cards made before it
    domain: dict[str, Any] = field(default_factory=dict)
    card_format: int = CARD_FORMAT
    #: {file name beside the card: SHA-256} of every file that runs (weights, ONNX export); checked at load
    #: (models/hashes.py). Optional for old cards (then ``engine.weights_sha256`` pins the weights).
    files: dict[str, str] = field(default_factory=dict)
    #: the whole label set in its file form (zoomgrade.labels.label_set_to_dict); cards written before
    #: it existed carry only ``label_set`` (a name), resolved to the shipped file of that name
    label_definition: dict[str, Any] | None = None
    #: how the model wants its pixels (read by the ONNX-only runner, models/onnx_classifier.py): channel
    #: order, pixel values scaled to [0, pixel_max] before ``normalisation``, tensor layout, and whether
    #: the output is logits or probabilities
    channel_order: str = "RGB"
    pixel_max: float = 1.0
    layout: str = "NCHW"
    output: str = "logits"
    #: architecture "onnx": the model file beside the card ("" = <name>.onnx)
    onnx_file: str = ""
    #: stage 1: what the early stop measured with this model and the stage 2 whose ``files`` it names
    #: (``stage2_files``): ``undergrade``, ``undergrade_prior``, ``recall_prior`` and where from
    #: (cascade/measured.py); empty: nothing measured
    early_stop: dict[str, Any] = field(default_factory=dict)

    @property
    def mpp(self) -> float:
        return self.input_mpp

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mpp_range"] = list(self.mpp_range) if self.mpp_range else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "card") -> ModelCard:
        known = set(cls.__dataclass_fields__)
        try:
            kw = {k: v for k, v in d.items() if k in known}
            if kw.get("architecture") == ONNX_ONLY:
                kw.setdefault("hyperparameters", {})  # the graph is in the ONNX file
            if kw.get("mpp_range") is not None:
                kw["mpp_range"] = tuple(kw["mpp_range"])
            card = cls(**kw)
        except TypeError as err:
            raise ModelCardError(f"{where}: not a zoomgrade model card ({err})") from None
        if card.card_format != CARD_FORMAT:
            raise ModelCardError(f"{where}: card format {card.card_format}, this zoomgrade reads {CARD_FORMAT}")
        if card.architecture not in ARCHITECTURES and card.architecture != ONNX_ONLY:
            raise ModelCardError(f"{where}: unknown architecture {card.architecture!r}")
        return card


def early_stop_record(stage1: Any, stage2: Any) -> dict[str, Any]:
    """The stage-1 runner's card's ``early_stop`` record when it was measured with this stage-2 runner's
    files (a retrained stage 2 invalidates it), else {} (cascade/measured.py)."""
    rec = getattr(getattr(stage1, "card", None), "early_stop", None) or {}
    files = getattr(getattr(stage2, "card", None), "files", None) or {}
    if not rec or not files or rec.get("stage2_files") != files:
        return {}
    return dict(rec)


def build_model(card: ModelCard) -> nn.Module:
    cls, cfg_cls = ARCHITECTURES[card.architecture]
    try:
        cfg = cfg_cls.from_dict(card.hyperparameters)
    except TypeError as err:
        raise ModelCardError(f"card {card.name}: bad hyper-parameters ({err})") from None
    return cls(cfg)


def paths_for(path: str | Path) -> tuple[Path, Path]:
    """(weights .safetensors, card .json) for ``path`` given with either suffix or none."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def save_model(
    model: nn.Module, card: ModelCard, path: str | Path, *, export_example: torch.Tensor | None = None
) -> Path:
    """Write weights, then the ONNX export, then the card, each atomically; returns the .safetensors path.
    The card, written last, holds every file's SHA-256: a run killed in between leaves files that
    ``zoomgrade models check`` reports as not matching their card, never a half-written file.

    With ``export_example`` (an input batch), also export ``<name>.onnx`` for the ONNX Runtime engine and
    record it in ``card.engine``."""
    wpath, cpath = paths_for(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {"name": card.name, "version": card.version, "architecture": card.architecture}
    with atomic_path(wpath) as tmp_w:  # shipped weights must be readable by every user: 0644, not 0600
        save_file(state, str(tmp_w), metadata=meta)
    card.engine = {}
    if export_example is not None:
        from .onnx_engine import engine_record, export_onnx

        was_training = model.training
        onnx = export_onnx(model, wpath.with_suffix(".onnx"), export_example, card.normalisation)
        if onnx is not None:
            card.engine = engine_record(onnx, wpath)
        model.train(was_training)
    card.files = {wpath.name: sha256(wpath)}
    if card.engine.get("onnx"):
        card.files[card.engine["onnx"]] = sha256(wpath.with_name(card.engine["onnx"]))
    write_card(card, cpath)
    return wpath


def add_onnx_export(path: str | Path, example: torch.Tensor) -> Path | None:
    """Export saved weights to ``<name>.onnx`` beside them and record it in their card (the weights are
    not rewritten); for weights saved before their architecture had an ONNX export. None if it failed."""
    from .onnx_engine import engine_record, export_onnx

    model, card = load_model(path)
    wpath, cpath = paths_for(path)
    onnx = export_onnx(model, wpath.with_suffix(".onnx"), example, card.normalisation)
    if onnx is None:
        return None
    card.engine = engine_record(onnx, wpath)
    card.files = {**card.files, wpath.name: sha256(wpath), onnx.name: sha256(onnx)}
    write_card(card, cpath)
    return onnx


def write_card(card: ModelCard, path: str | Path) -> None:
    """Rewrite a card beside its weights, atomically; the weights are not touched."""
    atomic_write_text(paths_for(path)[1], card_text(card.to_dict()))


def read_card(path: str | Path) -> ModelCard:
    _, cpath = paths_for(path)
    try:
        data = json.loads(cpath.read_text())
    except FileNotFoundError:
        raise ModelCardError(f"{cpath}: model card not found (weights need their .json card beside)") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ModelCardError(f"{cpath}: unreadable model card ({err.__class__.__name__})") from None
    return ModelCard.from_dict(data, where=str(cpath))


def check_card(card: ModelCard, expect: dict[str, Any] | None, where: str) -> None:
    """Refuse a card that differs from ``expect`` (e.g. name, labels, input_mpp) or whose mpp is outside
    the range the caller wants to run it at (``expect["run_mpp"]``)."""
    for key, want in (expect or {}).items():
        if key == "run_mpp":
            lo, hi = card.mpp_range or (card.input_mpp, card.input_mpp)
            if not lo - 1e-9 <= want <= hi + 1e-9:
                raise ModelCardError(f"{where}: model is for {lo:g}-{hi:g} um/px, asked to run at {want:g}")
            continue
        have = getattr(card, key, None)
        have = list(have) if isinstance(have, tuple) else have  # JSON gives lists where code gives tuples
        wanted = list(want) if isinstance(want, tuple) else want
        if have != wanted:
            raise ModelCardError(f"{where}: model card has {key}={have!r}, expected {wanted!r}")


def load_model(
    path: str | Path, expect: dict[str, Any] | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelCard]:
    """Load weights + card, check the card against ``expect`` and the tensors against the architecture."""
    wpath, cpath = paths_for(path)
    card = read_card(path)
    check_card(card, expect, str(cpath))
    model = build_model(card)
    if not wpath.exists():
        raise ModelCardError(f"{wpath}: weights file not found")
    verify_file(wpath, card)  # the bytes that will run are the ones the card describes
    try:
        state = load_file(str(wpath), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelCardError(f"{wpath}: unreadable safetensors file ({err})") from None
    ours = model.state_dict()
    missing = sorted(set(ours) - set(state))
    extra = sorted(set(state) - set(ours))
    bad = [k for k in ours if k in state and tuple(state[k].shape) != tuple(ours[k].shape)]
    if missing or extra or bad:
        detail = "; ".join(
            s
            for s in (
                f"missing {missing[:3]}" if missing else "",
                f"unexpected {extra[:3]}" if extra else "",
                f"shape mismatch {bad[:3]}" if bad else "",
            )
            if s
        )
        raise ModelCardError(f"{wpath}: weights do not match the card's {card.architecture} ({detail})")
    model.load_state_dict(state)
    return model.to(device).eval(), card
