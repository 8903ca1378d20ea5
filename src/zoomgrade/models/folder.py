"""Model folders: stage-1 and stage-2 weights with their cards, and the label set they were trained for.

A folder is laid out like the shipped ``zoomgrade/weights/``: ``stage1.safetensors`` + ``stage1.json``
(+ ``stage1.onnx``), ``stage2.safetensors`` + ``stage2.json`` (+ ``stage2.onnx``), or for stage 2 any ONNX
classifier with a card of ``architecture = "onnx"`` (models/onnx_classifier.py). Each card carries its
label set (``label_definition``; older cards only its name, resolved to the shipped file). The two
stages and the grading config must agree on it; a mismatch is refused with one line naming both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import LabelSetError, ModelCardError
from ..labels import LabelSet, label_set_from_dict, load_label_set, shipped_label_sets

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def card_label_set(card: Any, where: str) -> LabelSet:
    """The label set a model card was trained for: its own copy, or the shipped file of its name."""
    if getattr(card, "label_definition", None):
        try:
            ls = label_set_from_dict(card.label_definition, f"{where} label_definition")
        except LabelSetError as err:
            raise ModelCardError(str(err)) from None
        if ls.name != card.label_set:
            raise ModelCardError(f"{where}: label_set {card.label_set!r} but its label_definition is {ls.name!r}")
        return ls
    shipped = shipped_label_sets()
    if card.label_set not in shipped:
        raise ModelCardError(
            f"{where}: label set {card.label_set!r} is not shipped with zoomgrade and the card "
            f"carries no label_definition (shipped: {', '.join(sorted(shipped))})"
        )
    return shipped[card.label_set]


def check_classes(card: Any, labels: LabelSet, stage: str, where: str) -> None:
    """A zoomgrade network's output classes must be the label set's, in its order."""
    want = list(labels.coarse) if stage == "stage1" else [*labels.fine, "none"]
    if list(card.labels) != want:
        raise ModelCardError(
            f"{where}: classes {list(card.labels)} do not match label set {labels.name} "
            f"({'coarse grades' if stage == 'stage1' else 'fine grades + none'} {want})"
        )


def runner_label_set(runner: Any) -> LabelSet | None:
    """The label set a runner grades in (set by the folder loader, else from its card), or None."""
    ls = getattr(runner, "label_set", None)
    if ls is not None:
        return ls
    card = getattr(runner, "card", None)
    return None if card is None else card_label_set(card, f"{getattr(card, 'name', 'model')} card")


def agreed_label_set(
    s1: Any, s2: Any, expected: str | Path | LabelSet | None = None, expected_from: str = "config models.label_set"
) -> LabelSet:
    """The one label set of both stages (and of ``expected``, when given); a mismatch names both sides."""
    l2 = runner_label_set(s2)
    l1 = runner_label_set(s1) if s1 is not None else None
    if l2 is None:
        raise ModelCardError("models: the stage-2 model has no card to take the label set from")
    if l1 is not None and not l1.same_as(l2):
        raise ModelCardError(
            f"label sets differ: stage-1 model {_where(s1)} has {l1.describe()}, "
            f"stage-2 model {_where(s2)} has {l2.describe()}"
        )
    if expected is not None and expected != "":
        try:
            want = load_label_set(expected)
        except LabelSetError as err:
            raise ModelCardError(f"{expected_from}: {err}") from None
        if not want.same_as(l2):
            raise ModelCardError(
                f"label sets differ: {expected_from} asks for {want.describe()}, "
                f"the models {_where(s2)} have {l2.describe()}"
            )
    return l2


def _where(runner: Any) -> str:
    return str(getattr(runner, "source", None) or getattr(getattr(runner, "card", None), "name", "?"))


def folder_label_set(folder: str | Path | None = None, label_set: str | Path | LabelSet | None = None) -> LabelSet:
    """The label set of a model folder (None: the shipped weights) from its cards alone (no torch, no
    weights read), both stages (and ``label_set``) agreeing: what a batch's driver checks a config against."""
    from types import SimpleNamespace

    from .card import read_card

    d = WEIGHTS_DIR if folder in (None, "") else Path(folder)
    runners: list[SimpleNamespace | None] = []
    for stage in ("stage1", "stage2"):
        cpath = d / f"{stage}.json"
        if cpath.exists():
            card = read_card(cpath)
            runners.append(SimpleNamespace(card=card, source=str(cpath), label_set=card_label_set(card, str(cpath))))
        else:
            runners.append(None)
    if runners[1] is None:
        raise ModelCardError(f"{d}: no stage2.json model card in this model folder")
    return agreed_label_set(runners[0], runners[1], label_set)


def load_stage(
    folder: Path, stage: str, device: Any = None, labels: LabelSet | None = None, threads: int | None = None
) -> Any:
    """One stage's runner from ``folder/<stage>.json`` (+ weights or ONNX file), carrying its label set;
    ``threads``: ONNX Runtime's intra-op threads (None: ``onnx_engine.default_threads``)."""
    from .card import ONNX_ONLY, paths_for, read_card
    from .inference import SavedModel
    from .runners import Stage1Runner, Stage2Runner

    cpath = folder / f"{stage}.json"
    card = read_card(cpath)
    where = str(cpath)
    if card.name != stage:
        raise ModelCardError(f"{where}: card name {card.name!r}, expected {stage!r}")
    ls = card_label_set(card, where)
    if labels is not None and not labels.same_as(ls):
        raise ModelCardError(f"label sets differ: {where} has {ls.describe()}, expected {labels.describe()}")
    if card.architecture == ONNX_ONLY:
        if stage != "stage2":
            raise ModelCardError(f"{where}: only stage 2 may be an ONNX-only model; stage 1 is zoomgrade's Stage1Net")
        from .onnx_classifier import OnnxClassifierRunner

        onnx = folder / (card.onnx_file or f"{stage}.onnx")
        runner: Any = OnnxClassifierRunner(onnx, card, ls, where=where, threads=threads)
    else:
        check_classes(card, ls, stage, where)
        wpath = paths_for(cpath)[0]
        cls = Stage1Runner if stage == "stage1" else Stage2Runner
        # the torch model is built only if torch runs it (on CPU the card's ONNX export usually does)
        runner = cls(SavedModel(wpath, {"name": stage}), card, device, weights_path=wpath, threads=threads)
    runner.label_set = ls
    runner.source = where
    return runner


def load_model_folder(
    folder: str | Path | None = None,
    device: Any = None,
    *,
    need_stage1: bool = True,
    label_set: str | Path | LabelSet | None = None,
    threads: int | None = None,
) -> tuple[Any, Any]:
    """(stage-1 runner or None, stage-2 runner) from a model folder (None: the shipped weights), both
    checked to carry one label set (and ``label_set``, when given)."""
    d = WEIGHTS_DIR if folder in (None, "") else Path(folder)
    if not d.is_dir():
        raise ModelCardError(f"{d}: not a model folder (expected a directory with stage1.json and stage2.json)")
    for stage in ("stage1", "stage2") if need_stage1 else ("stage2",):
        if not (d / f"{stage}.json").exists():
            raise ModelCardError(f"{d}: no {stage}.json model card in this model folder")
    s2 = load_stage(d, "stage2", device, threads=threads)
    s1 = load_stage(d, "stage1", device, threads=threads) if (d / "stage1.json").exists() else None
    agreed_label_set(s1, s2, label_set)
    if need_stage1 and s1 is None:
        raise ModelCardError(f"{d}: the cascade needs a stage-1 model (stage1.json)")
    return s1, s2


def load_default_models(
    device: Any = None, labels: LabelSet | str | Path | None = None, threads: int | None = None
) -> tuple[Any, Any]:
    """The shipped weights (src/zoomgrade/weights/), checked against their cards (and ``labels``)."""
    p1, p2 = WEIGHTS_DIR / "stage1.safetensors", WEIGHTS_DIR / "stage2.safetensors"
    for p in (p1, p2):
        if not p.exists():
            raise ModelCardError(f"{p}: shipped weights missing; train them with `zoomgrade train`")
    return load_model_folder(WEIGHTS_DIR, device, label_set=labels, threads=threads)


def load_models(
    folder: str | Path | None = None,
    device: Any = None,
    labels: LabelSet | str | Path | None = None,
    *,
    need_stage1: bool = True,
    threads: int | None = None,
) -> tuple[Any, Any]:
    """A model folder's runners (None: the shipped weights), see models/folder.py; ``need_stage1=False``
    accepts a folder with stage 2 only (the exhaustive baseline). ``threads``: ONNX Runtime's intra-op
    threads (None: torch's setting where torch is loaded, else torch's default)."""
    if folder in (None, ""):
        return load_default_models(device, labels, threads)
    return load_model_folder(folder, device, label_set=labels, need_stage1=need_stage1, threads=threads)
