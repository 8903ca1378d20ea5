"""Model cards: the JSON record beside a model's weights (the weights themselves: ``weights_file``).

The card says what the weights are for (architecture and hyper-parameters, input mpp and size, label
set, normalisation) and where they came from (training data, the exact command, metrics, time). Reading one
and checking it against what the caller expects (``check_card``, ``ModelCardError`` on a mismatch) needs no
torch: grading on ONNX Runtime never imports it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import ModelCardError
from .hashes import card_text

CARD_FORMAT = 1


def declared_mpp_range(input_mpp: float) -> tuple[float, float]:
    """The ``mpp_range`` the training code writes into a card: one octave either side of the resolution the
    model was trained at (the shipped cards: 4-16 um/px for stage 1 at 8, 0.25-1 for stage 2 at 0.5).
    Declared, not measured; the QC gate withholds a slide coarser than its upper end (``qc/resolution.py``)."""
    return (input_mpp / 2, input_mpp * 2)


#: ``architecture`` of a stage-2 model that is only an ONNX file (any classifier; docs/your-own-model.md)
ONNX_ONLY = "onnx"
#: the architectures zoomgrade builds in torch (``weights_file.ARCHITECTURES`` maps them to their classes;
#: named here so a card is checked without importing torch)
ARCHITECTURE_NAMES = ("Stage1Net", "Stage2Net")


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
        if card.architecture not in ARCHITECTURE_NAMES and card.architecture != ONNX_ONLY:
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


def paths_for(path: str | Path) -> tuple[Path, Path]:
    """(weights .safetensors, card .json) for ``path`` given with either suffix or none."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


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
