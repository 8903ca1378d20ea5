"""Record a stage-1 model's domain in its card: the feature Gaussian and thresholds (``domain.py``), the
training stains (``stain.py``) and colours (``colour.py``), from training slides and validation slides at
the model's input mpp.

``zoomgrade train stage1`` calls ``card_domain`` on its own slides: the Gaussian from its training slides,
the thresholds from its validation slides. For a card trained before the gate existed,
``python -m zoomgrade.models.domain_fit --slides DIR CARD.json`` recomputes them from the slides its card
lists (the same seeds regenerate the same synthetic slides) and rewrites the card; with ``--calibrate DIR2``
the Gaussian takes all of the card's slides and the thresholds come from the slides in DIR2: more validation
slides than a training run's split, slides the models were checked on. (Not slides the models were never
checked on: the thresholds would then admit whatever those slides are.)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ZoomgradeError
from .colour import fit_colour_reference
from .datasets import SLIDE_SUFFIXES
from .domain import CalibrationSlide, box_cells, fit_domain, slide_cells
from .folder import card_label_set
from .regions import maps_to_regions
from .stage1_runner import FEATURE_STRIDE
from .stain import fit_stain_reference

#: The cascade's stage-1 region settings (``cascade.config.Stage1Config`` defaults; a test keeps them equal):
#: calibration regions are the regions the gate will score.
GROUP_THRESHOLD = 0.5
MIN_REGION_AREA_UM2 = 400.0


def scored_slide(runner: Any, img: np.ndarray, regions: bool = True) -> CalibrationSlide:
    """One slide (a whole-slide image at the stage-1 input mpp, uint8 RGB) as the thresholds see it: its
    feature grid, its material cells and (``regions``) the cells under each stage-1 region."""
    maps = runner.predict(img)
    if maps.features is None:
        raise ValueError("the stage-1 runner gives no features (an ONNX export without them?)")
    fh, fw = -(-img.shape[0] // FEATURE_STRIDE), -(-img.shape[1] // FEATURE_STRIDE)
    feats = maps.features[:fh, :fw]
    mask = slide_cells(feats, img)[1]
    if not regions:
        return CalibrationSlide(feats, mask)
    s, mpp = int(maps.stride), float(runner.card.input_mpp)
    h, w = -(-img.shape[0] // s), -(-img.shape[1] // s)
    trimmed = dataclasses.replace(
        maps, group=maps.group[:h, :w], grade=maps.grade[:h, :w], attention=maps.attention[:h, :w]
    )
    found = maps_to_regions(
        trimmed,
        mpp * s,
        mpp,  # the image is level 0 here: region boxes in its pixels
        card_label_set(runner.card, "stage 1"),
        group_threshold=GROUP_THRESHOLD,
        min_area_um2=MIN_REGION_AREA_UM2,
    )
    return CalibrationSlide(feats, mask, tuple(box_cells(r.bbox, 1.0, mask.shape) for r in found))


def card_domain(
    runner: Any,
    train_images: list[np.ndarray],
    val_images: list[np.ndarray],
    calibration_images: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """The card's ``domain`` record: images are whole slides at the stage-1 input mpp (uint8 RGB). The
    feature thresholds come from ``calibration_images`` when given (the validation slides then join the
    Gaussian's fit), else from the validation slides."""

    def cells(img: np.ndarray) -> np.ndarray:
        c = scored_slide(runner, img, regions=False)
        return c.features[c.material]

    train = [cells(i) for i in train_images]
    if calibration_images is None:
        model = fit_domain(train, [scored_slide(runner, i) for i in val_images])
    else:
        val = [cells(i) for i in val_images]
        model = fit_domain(train + val, [scored_slide(runner, i) for i in calibration_images])
    return {
        "features": model.to_dict(),
        "stain": fit_stain_reference(train_images, val_images),
        "colour": fit_colour_reference(train_images, val_images),
    }


def _thumb(path: Path, mpp: float) -> np.ndarray:
    from ..slide import open_slide

    with open_slide(path) as s:
        return np.asarray(s.thumbnail(mpp))


def main(argv: list[str] | None = None) -> int:
    from .card import paths_for, read_card, write_card
    from .runners import Stage1Runner
    from .weights_file import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", type=Path, help="stage-1 model card (.json) beside its weights")
    ap.add_argument("--slides", type=Path, required=True, help="folder holding the slides the card lists")
    ap.add_argument(
        "--colour-only",
        action="store_true",
        help="refit only the colour record (the feature and stain records stay as they are)",
    )
    ap.add_argument(
        "--calibrate",
        type=Path,
        help="draw the feature thresholds from every slide in this folder (validation slides the models were "
        "checked on and never trained on); the Gaussian then takes all of the card's slides",
    )
    a = ap.parse_args(argv)
    if a.calibrate and a.colour_only:
        raise SystemExit("--calibrate sets the feature thresholds: it does nothing with --colour-only")
    calibration = []
    if a.calibrate:
        calibration = sorted(p for p in Path(a.calibrate).glob("*") if p.suffix.lower() in SLIDE_SUFFIXES)
        if not calibration:
            raise SystemExit(f"{a.calibrate}: no slide files to calibrate on")
    card = read_card(a.card)
    data = card.training.get("data", {})
    split = {k: [a.slides / n for n in data.get(k, []) if (a.slides / n).exists()] for k in ("train", "val")}
    if not split["train"] or not split["val"]:
        raise SystemExit(f"{a.slides}: none of the card's train or val slides are there")
    runner = None
    if not a.colour_only:
        model, card = load_model(a.card)
        # the engine grading uses (ONNX Runtime where the card has an export), so its scores are those graded
        runner = Stage1Runner(model, card, device="cpu", weights_path=paths_for(a.card)[0])
    try:
        imgs = {k: [_thumb(p, card.input_mpp) for p in v] for k, v in split.items()}
        calib = [_thumb(p, card.input_mpp) for p in calibration] or None
    except ZoomgradeError as err:  # a listed slide that cannot be read: one line naming it
        raise SystemExit(str(err)) from None
    flag = " --colour-only" if a.colour_only else f" --calibrate {a.calibrate.name}" if a.calibrate else ""
    fitted_on: dict[str, Any] = {
        "train": [p.name for p in split["train"]],
        "val": [p.name for p in split["val"]],
        "command": f"python -m zoomgrade.models.domain_fit{flag} --slides {a.slides.name} {a.card.name}",
    }
    if calibration:
        fitted_on["calibration"] = [p.name for p in calibration]
    if runner is None:  # the colour record alone, from the slides' thumbnails: no model is run
        colour = fit_colour_reference(imgs["train"], imgs["val"])
        if not colour:
            raise SystemExit(f"{a.slides}: too few slides with stained material to fit a colour record")
        card.domain = {**(card.domain or {}), "colour": {**colour, "fitted_on": fitted_on}}
        done = f"colour record from {colour['n_slides']} slides; threshold {colour['threshold']:.2f}"
    else:
        card.domain = {**card_domain(runner, imgs["train"], imgs["val"], calib), "fitted_on": fitted_on}
        f = card.domain["features"]
        done = (
            f"domain from {len(split['train'])} train / {len(split['val'])} val slides, thresholds from "
            f"{f['n_val_slides']} slides ({f['n_val_regions']} regions); region threshold "
            f"{f['cell_threshold']:.2f}, slide threshold {f['slide_threshold']:.2f}, stain threshold "
            f"{card.domain['stain'].get('threshold_deg', float('nan')):.1f} deg, colour threshold "
            f"{card.domain['colour'].get('threshold', float('nan')):.2f}"
        )
    _, cpath = paths_for(a.card)
    write_card(card, cpath)
    print(f"{cpath}: {done}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
