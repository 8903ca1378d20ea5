"""Fit the early stop's measured values for the shipped models on generated validation slides.

``python -m zoomgrade.bench.recall_prior --n 30 --size-mm 4 4 --seed 60000`` generates (or, with
``--slides-dir``, reuses) N validation slides (training seeds < 100,000; categories I-VI in turn, stains
alternating), grades each reading every region and fits the early stop's priors to them
(``evaluation/stop_counts.py`` counts, ``evaluation/stop_fit.py`` fits); it prints the per-slide counts, the
fits and the config lines. ``--out`` keeps the counts; ``--pool`` fits an earlier run's counts (say, of
another slide size) together with these. ``--models DIR`` measures a model folder's models instead of the
shipped ones, ``--input DIR`` grades the slides of a folder instead of generated ones (what ``zoomgrade models
fit-stop`` does), and ``--write-card`` writes the record into the stage-1 card of the models measured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_json
from ..evaluation.stop_counts import Row, count_slide, read_all_config, show
from ..evaluation.stop_fit import (
    MIN_SLIDES,
    card_record,
    describe,
    fit_early_stop,
    fitted_anything,
    too_few_slides,
    write_early_stop,
)
from .agreement import TRAINING_MAX_SEED, plan, slide_in

TOOL = "python -m zoomgrade.bench.recall_prior"


def measure(n: int, size_mm: tuple[float, float], seed: int, slides_dir: str | Path, models: Any = None) -> list[Row]:
    """Each generated validation slide's truth and counts (``count_slide``)."""
    from ..labels import TBSRTC

    if seed + n > TRAINING_MAX_SEED:
        raise ValueError(f"seed {seed}: the prior is fitted on validation seeds < {TRAINING_MAX_SEED}")
    if models is None:
        from ..models.folder import load_default_models

        models = load_default_models()
    work = Path(slides_dir)
    work.mkdir(parents=True, exist_ok=True)
    cfg = read_all_config(TBSRTC)
    rows = []
    for _, s, cat, stain in plan(n, seed):
        path, _, _ = slide_in(work, s, cat, stain, size_mm)
        rows.append({"seed": s, "size_mm": list(size_mm), "truth": cat, **count_slide(path, models, TBSRTC, cfg)})
        print(show(f"seed {s} ({cat})", rows[-1]), flush=True)
    return rows


def toml_lines(recall: dict[str, Sequence[float]], under: dict[str, dict[str, Sequence[float]]]) -> list[str]:
    """The two config lines (``[early_stop]`` keys) for the fitted priors (a card record's, [a, b] each)."""

    def ab(p: Sequence[float]) -> str:
        return f"[{p[0]:.3g}, {p[1]:.3g}]"

    inner = {c: ", ".join(f"{g} = {ab(p)}" for g, p in t.items()) for c, t in under.items()}
    return [
        "recall_prior = { " + ", ".join(f"{c} = {ab(p)}" for c, p in recall.items()) + " }",
        "undergrade_prior = { " + ", ".join(f"{c} = {{ {t} }}" for c, t in inner.items()) + " }",
    ]


def _pooled(files: list[str]) -> list[Row]:
    rows: list[Row] = []
    for f in files:
        try:
            rows += json.loads(Path(f).read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{f}: not a --out file of this tool ({type(err).__name__}: {err})") from None
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog=TOOL, description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="number of validation slides (categories I..VI in turn)")
    ap.add_argument("--size-mm", type=float, nargs=2, default=(4.0, 4.0), metavar=("W", "H"))
    ap.add_argument("--seed", type=int, default=60000, help=f"first seed (validation: < {TRAINING_MAX_SEED:,})")
    ap.add_argument("--slides-dir", default="runs/recall-prior-slides", help="generated slides, reused when there")
    ap.add_argument("--out", default=None, help="also write the counts and the fit to this JSON file")
    ap.add_argument(
        "--pool", action="append", default=[], help="an earlier run's --out file whose slides are fitted with these"
    )
    ap.add_argument("--models", default=None, help="model folder to measure (default: the shipped models)")
    ap.add_argument("--input", default=None, help="grade this folder's slides instead of generated ones")
    ap.add_argument("--write-card", action="store_true", help="write the fit into the models' stage-1 card")
    ap.add_argument(
        "--min-slides",
        type=int,
        default=MIN_SLIDES,
        help="fit a coarse grade only from this many slides with its regions",
    )
    a = ap.parse_args(argv)
    rows = _pooled(a.pool)
    from ..errors import ZoomgradeError
    from ..models.folder import WEIGHTS_DIR, load_models

    folder = Path(a.models) if a.models else WEIGHTS_DIR
    try:
        models = load_models(folder)
    except ZoomgradeError as err:
        raise SystemExit(f"--models: {err}") from None
    if a.input:
        try:  # nothing graded is an error: a card's record is never replaced by an empty one
            fitted = fit_early_stop(models, a.input, lambda line: print(line, flush=True), rows, TOOL, a.min_slides)
        except ZoomgradeError as err:
            raise SystemExit(f"--input: {err}") from None
        rows, record = fitted.rows, fitted.record
    else:
        rows += measure(a.n, (a.size_mm[0], a.size_mm[1]), a.seed, a.slides_dir, models)
        record = card_record(rows, models[1].card.files, TOOL, a.min_slides)
    print("\n".join(describe(record, too_few_slides(rows, a.min_slides), a.min_slides)))
    priors, under = record["recall_prior"], record["undergrade_prior"]
    print("\n".join(toml_lines(priors, under)))
    if a.out:
        atomic_write_json(a.out, {"rows": rows, "prior": priors, "undergrade_prior": under})
    if a.write_card and not fitted_anything(record):
        raise SystemExit(f"--write-card: {len(rows)} slides, too few to fit anything; the card is unchanged")
    if a.write_card:
        path = write_early_stop(folder, record)
        print(f"wrote early_stop into {path}: {record['measured_on']}")


if __name__ == "__main__":
    main()
