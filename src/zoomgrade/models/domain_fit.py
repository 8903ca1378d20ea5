"""Record a stage-1 model's domain in its card: the feature Gaussian and thresholds (``domain.py``), the
training stains (``stain.py``) and colours (``colour.py``), from training slides and validation slides at
the model's input mpp.

``zoomgrade train stage1`` calls ``card_domain`` on its own slides. For a card trained before the gate
existed, ``python -m zoomgrade.models.domain_fit --slides DIR CARD.json`` recomputes them from the
slides its card lists (the same seeds regenerate the same synthetic slides) and rewrites the card.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ZoomgradeError
from .colour import fit_colour_reference
from .domain import fit_domain, slide_cells
from .stain import fit_stain_reference


def card_domain(runner: Any, train_images: list[np.ndarray], val_images: list[np.ndarray]) -> dict[str, Any]:
    """The card's ``domain`` record: images are whole slides at the stage-1 input mpp (uint8 RGB)."""

    def cells(img: np.ndarray) -> np.ndarray:
        maps = runner.predict(img)
        if maps.features is None:
            raise ValueError("the stage-1 runner gives no features (an ONNX export without them?)")
        fh, fw = -(-img.shape[0] // 16), -(-img.shape[1] // 16)
        return slide_cells(maps.features[:fh, :fw], img)[0]

    model = fit_domain([cells(i) for i in train_images], [cells(i) for i in val_images])
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
    from .runners import Stage1Runner, load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", type=Path, help="stage-1 model card (.json) beside its weights")
    ap.add_argument("--slides", type=Path, required=True, help="folder holding the slides the card lists")
    ap.add_argument(
        "--colour-only",
        action="store_true",
        help="refit only the colour record (the feature and stain records stay as they are)",
    )
    a = ap.parse_args(argv)
    card = read_card(a.card)
    data = card.training.get("data", {})
    split = {k: [a.slides / n for n in data.get(k, []) if (a.slides / n).exists()] for k in ("train", "val")}
    if not split["train"] or not split["val"]:
        raise SystemExit(f"{a.slides}: none of the card's train or val slides are there")
    runner = None
    if not a.colour_only:
        model, card = load_model(a.card)
        runner = Stage1Runner(model, card, device="cpu")
    try:
        imgs = {k: [_thumb(p, card.input_mpp) for p in v] for k, v in split.items()}
    except ZoomgradeError as err:  # a listed slide that cannot be read: one line naming it
        raise SystemExit(str(err)) from None
    flag = " --colour-only" if a.colour_only else ""
    fitted_on = {
        "train": [p.name for p in split["train"]],
        "val": [p.name for p in split["val"]],
        "command": f"python -m zoomgrade.models.domain_fit{flag} --slides {a.slides.name} {a.card.name}",
    }
    if runner is None:  # the colour record alone, from the slides' thumbnails: no model is run
        colour = fit_colour_reference(imgs["train"], imgs["val"])
        if not colour:
            raise SystemExit(f"{a.slides}: too few slides with stained material to fit a colour record")
        card.domain = {**(card.domain or {}), "colour": {**colour, "fitted_on": fitted_on}}
        done = f"colour record from {colour['n_slides']} slides; threshold {colour['threshold']:.2f}"
    else:
        card.domain = {**card_domain(runner, imgs["train"], imgs["val"]), "fitted_on": fitted_on}
        f = card.domain["features"]
        done = (
            f"domain from {len(split['train'])} train / {len(split['val'])} val slides; cell threshold "
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
